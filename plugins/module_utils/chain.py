# Copyright (c) passwordsecure.server contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Your own SSL connection certificate: its chain, and a certificate with its key in PEM.

The SSL connection certificate is the one kind an administrator may replace by a
certificate of their own, issued by a CA. Such a certificate comes with the CA
certificates that issued it (its chain), as PEM text (certificate, chain and
key, the way a CA or ``openssl`` hands them out) or as PKCS#12.

* ``read_pem`` reads PEM text into the same shape ``pkcs12.read_pfx`` gives
  (certificates, one of them with its key as unencrypted PKCS#8 DER), so an
  import checks both formats alike. Its one private key may be encrypted
  (PKCS#8 ``ENCRYPTED PRIVATE KEY`` or OpenSSL's legacy ``Proc-Type``
  encryption); ``password`` decrypts it.
* ``link`` orders the certificates given with the leaf into its chain: each is
  the issuer of the one before (its subject is the issuer's name and its key
  verifies the signature). A certificate that links nowhere is refused, naming
  it, since a chain that does not link is a mistake clients would meet later.
* ``warnings`` says what clients will refuse although the import accepts it
  (the product checks no expiry): an expired or not yet valid certificate.

No message here carries key material; a key's parser errors are replaced by
messages of our own. Messages do not name the file: the caller puts it in
front, as it does for ``pkcs12.read_pfx``.
"""

from __future__ import annotations

import base64
import binascii
import datetime
import re
from typing import Any, NamedTuple

from ansible_collections.passwordsecure.server.plugins.module_utils import crypto
from ansible_collections.passwordsecure.server.plugins.module_utils.errors import (
    CertificateRefusedError,
    InvalidRequestError,
)
from ansible_collections.passwordsecure.server.plugins.module_utils.pkcs12 import PfxContents, PfxEntry
from ansible_collections.passwordsecure.server.plugins.module_utils.recognise import (
    load_certificate,
    shown_name,
    signature_problem,
)

# A chain longer than this is no chain a CA hands out; it bounds the work a crafted file causes.
CHAIN_MAX = 16
CERTIFICATES_MAX = 64

_BLOCK = re.compile(rb"-----BEGIN ([A-Z0-9 ]+)-----\r?\n(.*?)-----END \1-----\r?\n?", re.DOTALL)
_CERTIFICATE_LABELS = (b"CERTIFICATE",)
_KEY_LABELS = (b"PRIVATE KEY", b"ENCRYPTED PRIVATE KEY", b"RSA PRIVATE KEY", b"EC PRIVATE KEY")
# What `openssl ecparam -genkey` writes before an EC PRIVATE KEY by default: the curve, which the key names too.
_SKIPPED_LABELS = (b"EC PARAMETERS",)
_FIX = "give the certificate, the CA certificates that issued it and its private key as PEM"


class Link(NamedTuple):
    der: bytes
    cert: Any


def _describe(cert: Any, der: bytes) -> str:
    return "%s (thumbprint %s)" % (shown_name(cert.subject) or "(an empty subject)", crypto.fingerprints(der)[0])


def _load(der: bytes) -> Any:
    return load_certificate(der, fix=_FIX)


# --------------------------------------------------------------------------- PEM


def read_pem(data: bytes, password: str | None) -> PfxContents:
    """The certificates of PEM text, the one whose public key the private key has paired with that key.

    Refused: no certificate, no key or several keys, a block that is neither, a key that pairs with
    no certificate, an encrypted key without ``password`` or one ``password`` does not open."""
    certificates: list[bytes] = []
    keys: list[bytes] = []
    for match in _BLOCK.finditer(data):
        label, body = match.group(1), match.group(2)
        if label in _CERTIFICATE_LABELS:
            try:
                der = base64.b64decode(b"".join(line for line in body.split() if b":" not in line), validate=True)
            except (binascii.Error, ValueError):
                raise InvalidRequestError("a CERTIFICATE block does not decode as base64; %s" % _FIX) from None
            if der not in certificates:
                certificates.append(der)
        elif label in _KEY_LABELS:
            keys.append(match.group(0))
        elif label not in _SKIPPED_LABELS:
            raise InvalidRequestError(
                "holds a %s block, which is neither a certificate nor a private key; %s, and leave "
                "that block out" % (label.decode("ascii"), _FIX)
            )
    if not certificates and not keys:
        raise InvalidRequestError(
            "holds no PEM block (-----BEGIN CERTIFICATE-----); %s, or set format: pkcs12 for a .pfx file"
            % _FIX
        )
    if not certificates:
        raise InvalidRequestError("holds a private key but no certificate (-----BEGIN CERTIFICATE-----); %s" % _FIX)
    if len(certificates) > CERTIFICATES_MAX:
        raise InvalidRequestError("holds %d certificates, more than the %d an import takes from PEM; %s"
                                  % (len(certificates), CERTIFICATES_MAX, _FIX))
    if not keys:
        raise InvalidRequestError(
            "holds no private key (no key block); add the certificate's key to the PEM, or "
            "give the file that holds it as private_key_path"
        )
    if len(keys) > 1:
        raise InvalidRequestError(
            "holds %d private keys; a PEM import takes one certificate with its key (and that certificate's "
            "chain), so give one key" % len(keys)
        )
    key = _load_key(keys[0], password)
    public = key.public_key().public_bytes(crypto.serialization.Encoding.DER,
                                           crypto.serialization.PublicFormat.SubjectPublicKeyInfo)
    loaded = [_load(der) for der in certificates]
    paired = None
    for position, cert in enumerate(loaded):
        try:
            theirs = cert.public_key().public_bytes(crypto.serialization.Encoding.DER,
                                                    crypto.serialization.PublicFormat.SubjectPublicKeyInfo)
        except (ValueError, TypeError, crypto.UnsupportedAlgorithm):
            continue
        if theirs == public:
            paired = position
            break
    if paired is None:
        # Name the certificate the key was meant for: the one that issued none of the others (the leaf).
        issuers = {cert.issuer for cert in loaded}
        leaf = next((p for p, cert in enumerate(loaded) if cert.subject not in issuers), 0)
        raise CertificateRefusedError(
            "the private key belongs to none of its %d certificate(s) (the certificate is %s): its public key "
            "is not theirs; give the key that was made together with the certificate (with its request)"
            % (len(certificates), _describe(loaded[leaf], certificates[leaf]))
        )
    key_der = key.private_bytes(crypto.serialization.Encoding.DER, crypto.serialization.PrivateFormat.PKCS8,
                                crypto.serialization.NoEncryption())
    leaf = PfxEntry(certificates[paired], key_der, None)
    return PfxContents([leaf] + [PfxEntry(der, None, None) for p, der in enumerate(certificates) if p != paired], 0)


def _load_key(block: bytes, password: str | None) -> Any:
    encrypted = block.startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----") or b"Proc-Type: 4,ENCRYPTED" in block
    if encrypted and not password:
        raise InvalidRequestError("the private key is encrypted; give its passphrase as password")
    secret = password.encode("utf-8") if encrypted and password else None
    try:
        return crypto.serialization.load_pem_private_key(block, secret)
    except (ValueError, TypeError, crypto.UnsupportedAlgorithm):
        # No detail from the parser: its message could quote the key.
        if encrypted:
            raise InvalidRequestError(
                "the private key does not open with the password given (a wrong password, or a damaged "
                "key); give the key's passphrase as password"
            ) from None
        raise InvalidRequestError(
            "the private key can't be read (damaged, or of a type cryptography does not know); give the "
            "certificate's key as PEM (PKCS#8 or PKCS#1)"
        ) from None


# --------------------------------------------------------------------------- the chain


def link(leaf_der: bytes, others: list[bytes]) -> list[bytes]:
    """``others`` (certificates given with the leaf, any order) ordered as the leaf's chain: the leaf's
    issuer first, then its issuer, up to a self-signed root or the last one given. Refuses a certificate
    that issued none of the chain's, and one named as an issuer whose key does not verify the signature."""
    leaf = _load(leaf_der)
    remaining = [Link(der, _load(der)) for der in dict.fromkeys(others) if der != leaf_der]
    chain: list[Link] = []
    current = Link(leaf_der, leaf)
    while remaining and len(chain) < CHAIN_MAX and current.cert.issuer != current.cert.subject:
        named = [item for item in remaining if item.cert.subject == current.cert.issuer]
        if not named:
            break
        signer = next((item for item in named if _signed(current.cert, item.cert) is None), None)
        if signer is None:
            raise CertificateRefusedError(
                "the chain does not link: %s names %s as its issuer, and the certificate given with that name, "
                "%s, did not sign it (%s); give the CA certificate that issued it"
                % (_describe(current.cert, current.der), shown_name(current.cert.issuer),
                   _describe(named[0].cert, named[0].der), _signed(current.cert, named[0].cert))
            )
        chain.append(signer)
        remaining.remove(signer)
        current = signer
    if remaining:
        stray = remaining[0]
        if current.cert.issuer == current.cert.subject:
            ends = "ends with the self-signed %s" % _describe(current.cert, current.der)
        else:
            ends = "needs %s next, the issuer of %s" % (
                shown_name(current.cert.issuer) or "(an empty issuer)", _describe(current.cert, current.der))
        raise CertificateRefusedError(
            "the chain does not link: %s (given with the SSL connection certificate %s) issued none of its "
            "chain's certificates; the chain %s. Give only the CA certificates that issued the certificate, each "
            "followed by its issuer, or leave the chain out"
            % (_describe(stray.cert, stray.der), _describe(leaf, leaf_der), ends)
        )
    return [item.der for item in chain]


def _signed(cert: Any, issuer: Any) -> str | None:
    """None when ``issuer``'s key verifies ``cert``'s signature, else why not."""
    try:
        public_key = issuer.public_key()
    except (ValueError, TypeError, crypto.UnsupportedAlgorithm):
        return "its issuer's public key can't be read"
    problem = signature_problem(cert, public_key)
    if problem is None:
        return None
    return problem.replace("its own public key, so another key signed it", "that certificate's public key")


def chain_facts(chain: list[bytes]) -> list[dict]:
    """What the index records of each chain certificate: subject, thumbprint and end of validity."""
    facts = []
    for der in chain:
        cert = crypto.x509.load_der_x509_certificate(der)
        facts.append({"subject": cert.subject.rfc4514_string(), "thumbprint": crypto.fingerprints(der)[0],
                      "not_after": crypto.iso(crypto.not_valid_after(cert))})
    return facts


def warnings(leaf_der: bytes, chain: list[bytes], *, now: datetime.datetime | None = None) -> list[str]:
    """What clients refuse although an import accepts it: certificates expired or not yet valid, an RSA key
    under 2048 bits."""
    moment = crypto.utc(now) if now is not None else datetime.datetime.now(crypto.UTC)
    found = []
    for position, der in enumerate([leaf_der] + list(chain)):
        cert = crypto.x509.load_der_x509_certificate(der)
        what = "the SSL connection certificate" if position == 0 else "the CA certificate"
        if crypto.not_valid_after(cert) < moment:
            found.append(
                "%s %s expired on %s. It is imported all the same (the product checks no expiry), but TLS "
                "clients refuse an expired certificate: import a renewed one"
                % (what, _describe(cert, der), crypto.iso(crypto.not_valid_after(cert)))
            )
        elif crypto.not_valid_before(cert) > moment:
            found.append(
                "%s %s is valid only from %s on; TLS clients refuse it until then"
                % (what, _describe(cert, der), crypto.iso(crypto.not_valid_before(cert)))
            )
        if position == 0:
            found += _weak_key(cert, der)
    return found


def _weak_key(cert: Any, der: bytes) -> list[str]:
    """An RSA key under 2048 bits, which current TLS clients refuse (OpenSSL's default security level 2)."""
    try:
        key_type, key_size = crypto.key_description(cert.public_key())
    except (ValueError, TypeError, crypto.UnsupportedAlgorithm):
        return []
    if key_type == "RSA" and key_size < 2048:
        return ["the SSL connection certificate %s has an RSA key of %d bits; TLS clients with current "
                "defaults refuse keys under 2048 bits, so have a certificate issued for a longer key"
                % (_describe(cert, der), key_size)]
    return []
