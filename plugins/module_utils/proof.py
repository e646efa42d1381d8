# Copyright (c) passwordsecure.server contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Proof that a host holds a certificate's private key: challenge, answer, compare.

Equal thumbprints show that a target holds the same *certificates* as the
source; they say nothing of the keys. The proof does:

1. **challenge** (on the source; reads certificates only): for each selected
   certificate a fresh 32-byte random nonce, encrypted with the certificate's
   RSA public key (RSA-OAEP, SHA-256 for the hash and MGF1). ``expected`` is
   the hex SHA-256 of ``PROOF_LABEL + nonce``; the nonce itself is never
   returned.
2. **answer** (on the target): each challenge is decrypted with the private key
   of the target's entry of the same kind and identity, and the answer is the
   same hash of what came out. Only the matching private key recovers the
   nonce. ``expected`` is ignored even when it is passed along, and never
   echoed.
3. **compare** (on the controller, the filter ``proof_results``): a challenge
   passes when its answer equals ``expected`` and the target's thumbprint is the
   source's.

The label keeps the answer from being the hash of a bare secret that some other
protocol might also hash. A thumbprint that differs is reported without
decrypting anything.

Speed: the answer loads each private key without RSA's primality tests (the
key was checked against its certificate when it entered the store, see
``recognise``; a damaged key can only fail to decrypt, and OAEP's padding check
says so; ``crypto.fast_rsa_loading``, where the host's cryptography can skip
them: 36 and newer) and decrypts on a thread per core; ``cryptography``
releases the GIL for RSA's private operations.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
from typing import Any, NamedTuple

from ansible_collections.passwordsecure.server.plugins.module_utils import crypto, store, transfer
from ansible_collections.passwordsecure.server.plugins.module_utils.errors import (
    InvalidRequestError,
    StorePasswordError,
)
from ansible_collections.passwordsecure.server.plugins.module_utils.kinds import (
    CertRef,
    check_identity,
    profile_of,
)

PROOF_LABEL = b"passwordsecure.server proof v1\0"
NONCE_SIZE = 32
CHALLENGE_KEYS = ("kind", "identity", "thumbprint", "challenge")
IGNORED_KEYS = ("expected",)
_FIX = "pass the challenges list of a passwordsecure.server.certificate_proof run with mode=challenge unchanged"


def _oaep():
    return crypto.padding.OAEP(mgf=crypto.padding.MGF1(algorithm=crypto.hashes.SHA256()),
                               algorithm=crypto.hashes.SHA256(), label=None)


def digest(nonce: bytes) -> str:
    """The answer to a challenge whose nonce is ``nonce``: hex SHA-256 of the label and the nonce."""
    return hashlib.sha256(PROOF_LABEL + nonce).hexdigest()


# --------------------------------------------------------------------------- challenge


def make_challenge(certificate_der: bytes, where: str) -> tuple[str, str]:
    """(base64 ciphertext of a fresh nonce under the certificate's public key, expected answer)."""
    public_key = crypto.x509.load_der_x509_certificate(certificate_der).public_key()
    if not isinstance(public_key, crypto.rsa.RSAPublicKey):
        raise InvalidRequestError(
            "%s holds a %s key, and a proof works with RSA keys only (every certificate a Password Secure "
            "server makes has one); leave it out of the selection" % (where, crypto.key_description(public_key)[0])
        )
    nonce = os.urandom(NONCE_SIZE)
    ciphertext = public_key.encrypt(nonce, _oaep())
    return base64.b64encode(ciphertext).decode("ascii"), digest(nonce)


def challenge(
    store_path: str, *, databases: list[str] | None = None, kind: str | None = None, identity: str | None = None
) -> dict[str, Any]:
    """One challenge per selected certificate (selected as ``certificate_export`` selects). Reads no key."""
    crypto.require_cryptography()
    index = store.load(store_path)
    refs = transfer.select(index, databases=databases, kind=kind, identity=identity)
    challenges = []
    for ref in refs:
        certificate_der = store.split_entry(store.read_entry(index, ref), where=ref.describe()).certificate_der
        text, expected = make_challenge(certificate_der, ref.describe())
        challenges.append({
            "kind": ref.kind,
            "identity": ref.identity,
            "thumbprint": crypto.fingerprints(certificate_der)[0],
            "challenge": text,
            "expected": expected,
        })
    return {"changed": False, "store_path": store_path, "challenges": challenges}


# --------------------------------------------------------------------------- answer


class Challenge(NamedTuple):
    kind: str  # as given: the answer echoes it, so that the controller pairs them
    identity: str | None
    ref: CertRef  # normalised: how the store is searched
    thumbprint: str  # upper-case hex
    ciphertext: bytes


def parse_challenges(items: Any, where: str = "challenges") -> list[Challenge]:
    """Check the ``challenges`` option; raise InvalidRequestError naming the first bad item."""
    if not isinstance(items, list):
        raise InvalidRequestError("%s is not a list; %s" % (where, _FIX))
    parsed: list[Challenge] = []
    seen: dict[CertRef, int] = {}
    for position, item in enumerate(items):
        place = "%s[%d]" % (where, position)
        if not isinstance(item, dict):
            raise InvalidRequestError("%s is not a dictionary; %s" % (place, _FIX))
        unknown = sorted(str(key) for key in set(item) - set(CHALLENGE_KEYS) - set(IGNORED_KEYS))
        missing = [key for key in CHALLENGE_KEYS if key not in item and key != "identity"]
        if unknown or missing:
            raise InvalidRequestError(
                "%s %s; a challenge has the keys %s (and expected, which is ignored); %s"
                % (place, "has the unknown key(s) %s" % ", ".join(unknown) if unknown
                   else "lacks %s" % ", ".join(missing), ", ".join(CHALLENGE_KEYS), _FIX)
            )
        kind, identity = item["kind"], item.get("identity")
        profile_of(kind, where=place + ".kind")
        ref = CertRef(kind, check_identity(kind, identity, where=place + ".identity"))
        if ref in seen:
            raise InvalidRequestError(
                "%s asks again for %s, already asked for in %s[%d]; give each certificate once"
                % (place, ref.describe(), where, seen[ref])
            )
        seen[ref] = position
        thumbprint = item["thumbprint"]
        if not isinstance(thumbprint, str) or len(thumbprint) != 40 or not _is_hex(thumbprint):
            raise InvalidRequestError(
                "%s.thumbprint is not a SHA-1 thumbprint (40 hexadecimal digits); %s" % (place, _FIX))
        text = item["challenge"]
        try:
            if not isinstance(text, str):
                raise ValueError("not text")
            ciphertext = base64.b64decode(text.encode("ascii"), validate=True)
        except (ValueError, binascii.Error, UnicodeEncodeError):
            ciphertext = b""
        if not ciphertext:
            raise InvalidRequestError("%s.challenge is not base64 text; %s" % (place, _FIX))
        parsed.append(Challenge(kind, identity, ref, thumbprint.upper(), ciphertext))
    return parsed


def _is_hex(text: str) -> bool:
    try:
        bytes.fromhex(text)
    except ValueError:
        return False
    return True


def decrypt(private_key_der: bytes, ciphertext: bytes, load_options: dict) -> str | None:
    """The answer to one challenge with one unencrypted PKCS#8 key; None when it does not decrypt."""
    try:
        key = crypto.serialization.load_der_private_key(private_key_der, None, **load_options)
    except (ValueError, TypeError):
        return None
    if not isinstance(key, crypto.rsa.RSAPrivateKey):
        return None
    try:
        nonce = key.decrypt(ciphertext, _oaep())
    except ValueError:
        return None
    if len(nonce) != NONCE_SIZE:
        return None
    return digest(nonce)


def _answer_item(item: Challenge, thumbprint: str | None, answer: str | None, error: str | None) -> dict:
    return {"kind": item.kind, "identity": item.identity, "thumbprint": thumbprint, "answer": answer, "error": error}


def answer(store_path: str, items: Any, *, store_password: str | None = None) -> dict[str, Any]:
    """Answer each challenge with the store's private key of the same kind and identity.

    A certificate that is absent or differs is reported in its answer; bad input, a missing or wrong
    store password and a damaged store raise.
    """
    crypto.require_cryptography()
    parsed = parse_challenges(items)
    index = store.load(store_path)
    passphrase = None
    if index.key_protection is not None or (store_password is not None and index.records):
        passphrase, _protection = store.key_passphrase(index, store_password, writes_keys=False)
    work: list[tuple[int, Challenge]] = []
    answers: list[dict | None] = []
    for position, item in enumerate(parsed):
        record = index.records.get(item.ref)
        if record is None:
            answers.append(_answer_item(item, None, None, "absent"))
        elif record["thumbprint"].upper() != item.thumbprint:
            answers.append(_answer_item(item, record["thumbprint"], None, "thumbprint differs: source %s, this host %s"
                                        % (item.thumbprint, record["thumbprint"])))
        elif not record.get("has_private_key", True):
            answers.append(_answer_item(item, record["thumbprint"], None, "no private key"))
        else:
            answers.append(None)
            work.append((position, item))
    if work and index.key_protection is not None and passphrase is None:
        raise StorePasswordError(
            "the certificate store at %s encrypts its private keys; give store_password to answer the challenges"
            % index.path
        )

    with crypto.fast_rsa_loading() as load_options:

        def one(pair: tuple[int, Challenge]) -> dict:
            item = pair[1]
            entry = transfer.entry_for(index, item.ref, passphrase)
            thumbprint = crypto.fingerprints(entry.certificate_der)[0]
            result = decrypt(entry.private_key_der, item.ciphertext, load_options)
            return _answer_item(item, thumbprint, result, None if result is not None else "does not decrypt")

        done = crypto.parallel_map(one, work, minimum=4)
    for (position, _item), result in zip(work, done):
        answers[position] = result
    return {"changed": False, "store_path": store_path, "answers": answers}


# --------------------------------------------------------------------------- compare


def _key_of(item: dict, place: str) -> tuple[str, str | None]:
    if not isinstance(item, dict):
        raise InvalidRequestError("%s is not a dictionary" % place)
    kind, identity = item.get("kind"), item.get("identity")
    if not isinstance(kind, str) or not (identity is None or isinstance(identity, str)):
        raise InvalidRequestError("%s has no kind and identity as text; give the lists certificate_proof returned"
                                  % place)
    return kind, identity


def _shown(kind: Any, identity: Any) -> str:
    return "%s %s" % (kind, identity if identity is not None else "-")


def proof_results(challenges: Any, answers: Any) -> list[dict[str, Any]]:
    """Pair each challenge with the answer of the same kind and identity; say whether it passed and why not."""
    for name, value in (("challenges", challenges), ("answers", answers)):
        if not isinstance(value, list):
            raise InvalidRequestError(
                "proof_results: %s is not a list; give the %s list of the certificate_proof result of mode=%s"
                % (name, name, "challenge" if name == "challenges" else "answer"))
    by_key: dict[tuple[str, str | None], dict] = {}
    for position, item in enumerate(answers):
        key = _key_of(item, "proof_results: answers[%d]" % position)
        if key in by_key:
            raise InvalidRequestError("proof_results: answers[%d] answers %s a second time; give each answer once"
                                      % (position, _shown(*key)))
        by_key[key] = item
    results: list[dict[str, Any]] = []
    seen: set = set()
    for position, item in enumerate(challenges):
        place = "proof_results: challenges[%d]" % position
        key = _key_of(item, place)
        if key in seen:
            raise InvalidRequestError("%s asks for %s a second time; give each challenge once" % (place, _shown(*key)))
        seen.add(key)
        expected, thumbprint = item.get("expected"), item.get("thumbprint")
        if not isinstance(expected, str) or not isinstance(thumbprint, str):
            raise InvalidRequestError(
                "%s lacks %s; give the challenges exactly as certificate_proof returned them on the source "
                "(with expected), and send the target the same list" % (place, "expected" if not isinstance(
                    expected, str) else "thumbprint"))
        reply = by_key.get(key)
        reason = None
        if reply is None:
            reason = "no answer"
        elif reply.get("error"):
            reason = str(reply["error"])
        elif not isinstance(reply.get("answer"), str):
            reason = "no answer"
        elif str(reply.get("thumbprint") or "").upper() != thumbprint.upper():
            reason = "thumbprint differs: source %s, this host %s" % (thumbprint, reply.get("thumbprint"))
        elif not hmac.compare_digest(reply["answer"].lower().encode("utf-8"), expected.lower().encode("utf-8")):
            reason = "wrong answer: the host does not hold this certificate's private key"
        results.append({"kind": key[0], "identity": key[1], "thumbprint": thumbprint, "passed": reason is None,
                        "reason": reason})
    return results
