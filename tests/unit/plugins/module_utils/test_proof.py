"""The key proof: challenge on one store, answer on another, compare (plugins/module_utils/proof.py).

Stores are written with the collection's own store writer from certificates made once by
pfx_corpus. openssl is the independent witness: it decrypts a challenge with the key of a store's
entry file, and it makes a challenge that the answer must decrypt.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import random
import shutil
import subprocess
import sys

import pytest

from ansible_collections.passwordsecure.server.plugins.module_utils import crypto, pkcs12, proof, store, transfer
from ansible_collections.passwordsecure.server.plugins.module_utils.errors import (
    InvalidRequestError,
    StorePasswordError,
)
from ansible_collections.passwordsecure.server.tests.unit.plugins.module_utils import pfx_corpus as C
from ansible_collections.passwordsecure.server.tests.unit.plugins.module_utils.pfx_corpus import (
    CORP,
    MADE,
    OTHER,
    SALES,
    SERVER,
    SERVER_REFS,
    STORE_PASSWORD,
    TRAVELLERS,
)
from ansible_collections.passwordsecure.server.tests.unit.plugins.modules import module_process, old_python

TARGET_PASSWORD = "Target-Store-Secret-8841-q"
LABEL = b"passwordsecure.server proof v1\x00"  # written out here, not taken from the code under test
SALES_MOVE = [SALES] + TRAVELLERS


def make(tmp_path, name: str, items, store_password: str | None = None) -> str:
    path = str(tmp_path / name)
    C.make_store(path, list(items), store_password)
    return path


def refs_of(items: list[dict]) -> list[tuple]:
    return [(item["kind"], item["identity"]) for item in items]


def source_challenges(tmp_path, **selection) -> list[dict]:
    source = make(tmp_path, "source", [MADE[ref] for ref in SERVER_REFS], STORE_PASSWORD)
    return proof.challenge(source, **selection)["challenges"]


# ------------------------------------------------------------------------------------------ challenge


def test_challenge_selects_as_an_export_does_and_makes_fresh_nonces(tmp_path):
    source = make(tmp_path, "source", [MADE[ref] for ref in SERVER_REFS], STORE_PASSWORD)
    first = proof.challenge(source, databases=["sales"])
    assert first["changed"] is False
    index = store.load(source)
    assert refs_of(first["challenges"]) == list(transfer.select(index, databases=["sales"]))
    assert refs_of(first["challenges"]) == [tuple(ref) for ref in SALES_MOVE]
    for item in first["challenges"]:
        assert sorted(item) == ["challenge", "expected", "identity", "kind", "thumbprint"]
        assert item["thumbprint"] == C.thumbprint(MADE[(item["kind"], item["identity"])])
        assert len(base64.b64decode(item["challenge"], validate=True)) == 256  # one RSA-2048 block
        assert len(item["expected"]) == 64 and int(item["expected"], 16) >= 0
    again = proof.challenge(source, databases=["sales"])["challenges"]
    assert refs_of(again) == refs_of(first["challenges"])
    pairs = list(zip(first["challenges"], again))
    assert all(a["challenge"] != b["challenge"] and a["expected"] != b["expected"] for a, b in pairs)
    assert len({item["expected"] for item in first["challenges"] + again}) == 2 * len(again)

    assert refs_of(proof.challenge(source)["challenges"]) == [tuple(ref) for ref in index.sorted_refs()]
    assert refs_of(proof.challenge(source, kind="master_key")["challenges"]) == [tuple(CORP), ("master_key",
                                                                                               "eu.example.com")]
    assert refs_of(proof.challenge(source, kind="database", identity="hr")["challenges"]) == [("database", "hr")]
    with pytest.raises(InvalidRequestError, match="no certificate for the database"):
        proof.challenge(source, databases=["nope"])


def test_challenge_reads_no_private_key(tmp_path, monkeypatch):
    """No store_password, and every way to a private key is closed: the challenge still works."""
    source = make(tmp_path, "source", [MADE[ref] for ref in SERVER_REFS], STORE_PASSWORD)

    def closed(*_args, **_kwargs):
        raise AssertionError("a private key was touched")

    monkeypatch.setattr(transfer, "entry_for", closed)
    monkeypatch.setattr(pkcs12, "decrypt_pkcs8", closed)
    monkeypatch.setattr(store, "key_passphrase", closed)
    monkeypatch.setattr(crypto.serialization, "load_der_private_key", closed)
    monkeypatch.setattr(crypto.serialization, "load_pem_private_key", closed)
    assert len(proof.challenge(source)["challenges"]) == len(SERVER_REFS)


# ------------------------------------------------------------------------------------------ answer


def test_the_store_that_received_the_keys_answers_every_challenge(tmp_path):
    challenges = source_challenges(tmp_path, databases=["sales"])
    target = make(tmp_path, "target", [MADE[ref] for ref in SERVER_REFS], TARGET_PASSWORD)
    shuffled = list(challenges)
    random.Random(4).shuffle(shuffled)
    result = proof.answer(target, shuffled, store_password=TARGET_PASSWORD)
    assert result["changed"] is False
    assert refs_of(result["answers"]) == refs_of(shuffled)  # in the order asked, across the threads
    for challenge, answer in zip(shuffled, result["answers"]):
        assert sorted(answer) == ["answer", "error", "identity", "kind", "thumbprint"]
        assert answer["error"] is None
        assert answer["answer"] == challenge["expected"]
        assert answer["thumbprint"] == challenge["thumbprint"]
    verdicts = proof.proof_results(challenges, result["answers"])
    assert refs_of(verdicts) == refs_of(challenges)
    assert [(v["passed"], v["reason"]) for v in verdicts] == [(True, None)] * len(challenges)
    assert [v["thumbprint"] for v in verdicts] == [c["thumbprint"] for c in challenges]


def test_an_unencrypted_store_answers_without_a_password(tmp_path):
    challenges = source_challenges(tmp_path, kind="database")
    target = make(tmp_path, "target", [MADE[ref] for ref in SERVER_REFS])
    answers = proof.answer(target, challenges)["answers"]
    assert all(v["passed"] for v in proof.proof_results(challenges, answers))


def test_another_certificate_for_the_same_identity_fails_and_so_does_an_absent_one(tmp_path):
    challenges = source_challenges(tmp_path, databases=["sales"])
    held = [OTHER[SALES], OTHER[CORP]] + [MADE[ref] for ref in TRAVELLERS if ref not in (CORP, SERVER)]
    target = make(tmp_path, "target", held, TARGET_PASSWORD)
    answers = proof.answer(target, challenges, store_password=TARGET_PASSWORD)["answers"]
    by_ref = {(a["kind"], a["identity"]): a for a in answers}
    for ref in (SALES, CORP):
        source_thumbprint, target_thumbprint = C.thumbprint(MADE[ref]), C.thumbprint(OTHER[ref])
        error = "thumbprint differs: source %s, this host %s" % (source_thumbprint, target_thumbprint)
        assert by_ref[ref] == {"kind": ref.kind, "identity": ref.identity, "thumbprint": target_thumbprint,
                               "answer": None, "error": error}
    assert by_ref[SERVER] == {"kind": "server_encryption", "identity": None, "thumbprint": None, "answer": None,
                              "error": "absent"}
    verdicts = {(v["kind"], v["identity"]): v for v in proof.proof_results(challenges, answers)}
    assert {ref for ref, v in verdicts.items() if not v["passed"]} == {SALES, CORP, SERVER}
    assert verdicts[SERVER]["reason"] == "absent"
    assert verdicts[SALES]["reason"].startswith("thumbprint differs: source %s" % C.thumbprint(MADE[SALES]))
    # Nothing that was not answered shows what the source expected.
    text = json.dumps(answers)
    assert not any(c["expected"] in text for c in challenges if (c["kind"], c["identity"]) in (SALES, CORP, SERVER))


def test_a_key_that_is_not_the_one_challenged_does_not_decrypt(tmp_path):
    """A challenge made with another key, under this certificate's thumbprint: only the key can tell."""
    other = make(tmp_path, "other", [OTHER[SALES]])
    forged = proof.challenge(other)["challenges"]
    forged[0]["thumbprint"] = C.thumbprint(MADE[SALES])
    target = make(tmp_path, "target", [MADE[SALES]], TARGET_PASSWORD)
    answers = proof.answer(target, forged, store_password=TARGET_PASSWORD)["answers"]
    assert answers == [{"kind": "database", "identity": "sales", "thumbprint": C.thumbprint(MADE[SALES]),
                        "answer": None, "error": "does not decrypt"}]
    assert proof.proof_results(forged, answers)[0]["reason"] == "does not decrypt"
    # The store the challenge was made on answers it.
    assert proof.answer(other, proof.challenge(other)["challenges"])["answers"][0]["error"] is None


def test_expected_is_ignored_and_never_echoed(tmp_path):
    challenges = source_challenges(tmp_path, databases=["sales"])
    target = make(tmp_path, "target", [OTHER[SALES]] + [MADE[ref] for ref in TRAVELLERS], TARGET_PASSWORD)
    honest = proof.answer(target, challenges, store_password=TARGET_PASSWORD)["answers"]
    lying = [dict(c, expected="0" * 64) for c in challenges]
    assert proof.answer(target, lying, store_password=TARGET_PASSWORD)["answers"] == honest
    bare = [{k: v for k, v in c.items() if k != "expected"} for c in challenges]
    assert proof.answer(target, bare, store_password=TARGET_PASSWORD)["answers"] == honest
    assert all("expected" not in answer for answer in honest)
    assert challenges[0]["expected"] not in json.dumps(honest)  # the sales answer failed: no trace of it


def test_a_missing_store_answers_absent_everywhere(tmp_path):
    challenges = source_challenges(tmp_path, kind="master_key")
    answers = proof.answer(str(tmp_path / "nothing" / "here"), challenges)["answers"]
    assert [a["error"] for a in answers] == ["absent", "absent"]
    assert not os.path.exists(tmp_path / "nothing")


def test_store_password_mistakes_fail_the_task(tmp_path):
    challenges = source_challenges(tmp_path, databases=["sales"])
    target = make(tmp_path, "target", [MADE[ref] for ref in SERVER_REFS], TARGET_PASSWORD)
    with pytest.raises(StorePasswordError, match="store_password is not the password of the certificate store"):
        proof.answer(target, challenges, store_password=STORE_PASSWORD)
    with pytest.raises(StorePasswordError, match="encrypts its private keys; give store_password to answer"):
        proof.answer(target, challenges)
    plain = make(tmp_path, "plain", [MADE[SALES]])
    with pytest.raises(StorePasswordError, match="keeps its private keys unencrypted"):
        proof.answer(plain, challenges, store_password=TARGET_PASSWORD)
    # A wrong password fails even when there is nothing to decrypt.
    only_other = make(tmp_path, "only-other", [OTHER[SALES]], TARGET_PASSWORD)
    with pytest.raises(StorePasswordError):
        proof.answer(only_other, challenges[:1], store_password=STORE_PASSWORD)


FIX = "pass the challenges list of a passwordsecure.server.certificate_proof run with mode=challenge unchanged"
GOOD = {"kind": "database", "identity": "sales", "thumbprint": "AB" * 20, "challenge": "AAEC"}


@pytest.mark.parametrize(
    "items, words",
    [
        ({"kind": "database"}, ["challenges is not a list", FIX]),
        (["x"], ["challenges[0] is not a dictionary", FIX]),
        ([dict(GOOD, extra=1)], ["challenges[0] has the unknown key(s) extra", FIX]),
        ([{k: v for k, v in GOOD.items() if k != "challenge"}], ["challenges[0] lacks challenge", FIX]),
        ([dict(GOOD, kind="tls")], ["challenges[0].kind 'tls' is not a certificate kind"]),
        ([dict(GOOD, identity=None)], ["challenges[0].identity is missing"]),
        ([dict(GOOD, identity="a/b")], ["challenges[0].identity 'a/b'", "path separator"]),
        ([GOOD, dict(GOOD, thumbprint="CD" * 20)], ["challenges[1] asks again", "challenges[0]"]),
        ([dict(GOOD, thumbprint="XYZ")], ["challenges[0].thumbprint is not a SHA-1 thumbprint", FIX]),
        ([dict(GOOD, challenge="not base64!")], ["challenges[0].challenge is not base64", FIX]),
        ([dict(GOOD, challenge="")], ["challenges[0].challenge is not base64", FIX]),
        ([dict(GOOD, challenge=12)], ["challenges[0].challenge is not base64", FIX]),
        ([dict(GOOD, challenge="Zü==")], ["challenges[0].challenge is not base64", FIX]),
    ],
)
def test_malformed_challenges_fail_with_the_place_and_the_fix(tmp_path, items, words):
    target = make(tmp_path, "target", [MADE[SALES]])
    with pytest.raises(InvalidRequestError) as caught:
        proof.answer(target, items)
    message = str(caught.value)
    for word in words:
        assert word in message


# ------------------------------------------------------------------------------------------ compare


def test_proof_results_pairs_by_kind_and_identity_and_says_why():
    def challenge(kind, identity, thumbprint, expected):
        return {"kind": kind, "identity": identity, "thumbprint": thumbprint, "challenge": "AA==", "expected": expected}

    def answer(kind, identity, thumbprint, value, error=None):
        return {"kind": kind, "identity": identity, "thumbprint": thumbprint, "answer": value, "error": error}

    challenges = [challenge("database", "a", "AA" * 20, "1" * 64), challenge("database", "b", "BB" * 20, "2" * 64),
                  challenge("database", "c", "CC" * 20, "3" * 64), challenge("database", "d", "DD" * 20, "4" * 64),
                  challenge("server_encryption", None, "EE" * 20, "5" * 64),
                  challenge("database", "f", "FF" * 20, "6" * 64)]
    answers = [answer("server_encryption", None, "ee" * 20, "5" * 64),  # case differs: still the same
               answer("database", "c", "CC" * 20, "9" * 64),  # wrong
               answer("database", "d", "00" * 20, "4" * 64),  # right value, but another certificate
               answer("database", "b", None, None, "absent"),
               answer("database", "f", "FF" * 20, None),
               answer("database", "zzz", "11" * 20, "7" * 64)]  # no challenge: left out
    verdicts = proof.proof_results(challenges, answers)
    assert [(v["identity"], v["passed"], v["reason"]) for v in verdicts] == [
        ("a", False, "no answer"),
        ("b", False, "absent"),
        ("c", False, "wrong answer: the host does not hold this certificate's private key"),
        ("d", False, "thumbprint differs: source %s, this host %s" % ("DD" * 20, "00" * 20)),
        (None, True, None),
        ("f", False, "no answer"),
    ]
    assert verdicts[4] == {"kind": "server_encryption", "identity": None, "thumbprint": "EE" * 20, "passed": True,
                           "reason": None}
    assert proof.proof_results([], answers) == []


@pytest.mark.parametrize(
    "challenges, answers, words",
    [
        ({}, [], "challenges is not a list"),
        ([], "x", "answers is not a list"),
        ([{"kind": "database", "identity": "a", "thumbprint": "AA"}], [], "challenges[0] lacks expected"),
        ([{"kind": "database", "identity": "a", "expected": "00"}], [], "challenges[0] lacks thumbprint"),
        ([], [{"kind": "database", "identity": "a"}] * 2, "answers[1] answers database a a second time"),
        ([{"kind": "database", "identity": "a", "expected": "0", "thumbprint": "A"}] * 2, [],
         "challenges[1] asks for database a a second time"),
        ([], ["x"], "answers[0] is not a dictionary"),
        ([{"identity": "a"}], [], "challenges[0] has no kind and identity"),
        ([{"kind": "database", "identity": ["a"]}], [], "challenges[0] has no kind and identity"),
    ],
)
def test_proof_results_refuses_what_is_not_a_proof(challenges, answers, words):
    with pytest.raises(InvalidRequestError) as caught:
        proof.proof_results(challenges, answers)
    assert words in str(caught.value)
    assert str(caught.value).startswith("proof_results: ")


# ------------------------------------------------------------------------------------------ witnesses

needs_openssl = pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl is not installed")
OAEP = ["-pkeyopt", "rsa_padding_mode:oaep", "-pkeyopt", "rsa_oaep_md:sha256", "-pkeyopt", "rsa_mgf1_md:sha256"]


def entry_file(store_path: str, ref) -> str:
    return os.path.join(store_path, store.load(store_path).records[ref]["file"])


@needs_openssl
def test_openssl_decrypts_a_challenge_with_the_stores_key_and_finds_the_expected_answer(tmp_path):
    challenges = source_challenges(tmp_path, databases=["sales"])
    plain = make(tmp_path, "plain", [MADE[ref] for ref in SERVER_REFS])  # openssl reads the entry file's key
    for item in challenges[:2] + challenges[-1:]:
        sealed = tmp_path / "challenge.bin"
        sealed.write_bytes(base64.b64decode(item["challenge"]))
        ref = (item["kind"], item["identity"])
        nonce = subprocess.run(["openssl", "pkeyutl", "-decrypt", "-inkey", entry_file(plain, ref), "-in",
                                str(sealed)] + OAEP, capture_output=True, check=True).stdout
        assert len(nonce) == 32
        assert hashlib.sha256(LABEL + nonce).hexdigest() == item["expected"]
        # openssl with another certificate's key recovers nothing.
        other_key = entry_file(plain, SERVER if ref != SERVER else SALES)
        wrong = subprocess.run(["openssl", "pkeyutl", "-decrypt", "-inkey", other_key, "-in", str(sealed)] + OAEP,
                               capture_output=True, check=False)
        assert wrong.returncode != 0


@needs_openssl
def test_the_answer_decrypts_a_challenge_that_openssl_made(tmp_path):
    target = make(tmp_path, "target", [MADE[SALES], MADE[SERVER]], TARGET_PASSWORD)
    challenges, nonces = [], []
    for ref in (SALES, SERVER):
        certificate = tmp_path / "certificate.pem"
        certificate.write_bytes(MADE[ref].certificate_pem)
        nonce = os.urandom(32)
        (tmp_path / "nonce.bin").write_bytes(nonce)
        sealed = subprocess.run(["openssl", "pkeyutl", "-encrypt", "-certin", "-inkey", str(certificate), "-in",
                                 str(tmp_path / "nonce.bin")] + OAEP, capture_output=True, check=True).stdout
        challenges.append({"kind": ref.kind, "identity": ref.identity, "thumbprint": C.thumbprint(MADE[ref]),
                           "challenge": base64.b64encode(sealed).decode("ascii")})
        nonces.append(nonce)
    answers = proof.answer(target, challenges, store_password=TARGET_PASSWORD)["answers"]
    assert [a["answer"] for a in answers] == [hashlib.sha256(LABEL + nonce).hexdigest() for nonce in nonces]


FLAG_SCRIPT = """
import json, sys
from cryptography.hazmat.backends import default_backend
from ansible_collections.passwordsecure.server.plugins.module_utils import crypto
backend = default_backend()
seen = [getattr(backend, "_rsa_skip_check_key", None)]
with crypto.fast_rsa_loading() as options:
    seen.append(getattr(backend, "_rsa_skip_check_key", None))
    seen.append(options)
seen.append(getattr(backend, "_rsa_skip_check_key", None))
print(json.dumps(seen))
"""


def test_fast_rsa_loading_skips_the_primality_tests_and_restores_the_backend(tmp_path):
    """cryptography >= 39: the documented keyword; 38 (Debian's Python): its backend's flag, set and put back."""
    with crypto.fast_rsa_loading() as options:
        if crypto.SKIPS_RSA_KEY_VALIDATION:
            assert options == {"unsafe_skip_rsa_key_validation": True}
    found = old_python.cryptography_of(tmp_path)
    if found is None or not found[0].startswith("38."):
        pytest.skip("no /usr/bin/python3 with cryptography 38")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([module_process.IMPORT_ROOT,
                                                       old_python.ansible_only_path(tmp_path)]))
    run = subprocess.run([old_python.PYTHON, "-c", FLAG_SCRIPT], capture_output=True, env=env, check=False)
    assert run.returncode == 0, run.stderr.decode()
    assert json.loads(run.stdout) == [False, True, {}, False]
    assert sys.executable != old_python.PYTHON
