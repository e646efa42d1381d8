"""Generated certificates, checked with cryptography and with openssl and keytool as independent readers."""

from __future__ import annotations

import datetime
import hashlib
import os
import shutil
import subprocess

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.x509.oid import NameOID

from ansible_collections.passwordsecure.server.plugins.module_utils import crypto
from ansible_collections.passwordsecure.server.plugins.module_utils.generate import generate, generate_many
from ansible_collections.passwordsecure.server.plugins.module_utils.kinds import KINDS, CertRef

UTC = datetime.timezone.utc
END = datetime.datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC)
REFS = [
    CertRef("database", "sales"),
    CertRef("master_key", "corp.example.com"),
    CertRef("discovery_service", "network-scan"),
    CertRef("password_reset", "self-service"),
    CertRef("server_encryption", None),
]
LONG_LATIN = "d" * 255
LONG_OTHER = ("Müller販売Продажиمبيعات" * 20)[:255]

needs_openssl = pytest.mark.skipif(shutil.which("openssl") is None, reason="the openssl command is not installed")
needs_keytool = pytest.mark.skipif(shutil.which("keytool") is None, reason="keytool (a Java runtime) is not installed")


# One certificate per kind, made once when the file is imported (RSA generation is the slow step, and
# ansible-test runs every test in a fork of the collecting process, so wider-scoped fixtures would be remade).
MADE = {ref: generate(ref, key_size=2048) for ref in REFS}


@pytest.fixture
def made():
    return MADE


def attribute(name: x509.Name, oid) -> list[str]:
    return [a.value for a in name.get_attributes_for_oid(oid)]


def utf8_env() -> dict:
    return dict(os.environ, LANG="C.UTF-8", LC_ALL="C.UTF-8")


def openssl_facts(pem: bytes) -> dict:
    out = subprocess.run(
        ["openssl", "x509", "-noout", "-subject", "-issuer", "-fingerprint", "-sha1", "-enddate",
         "-nameopt", "utf8,sep_multiline,lname"],
        input=pem, capture_output=True, check=True, env=utf8_env(),
    ).stdout.decode("utf-8")
    facts: dict = {"subject": {}, "issuer": {}}
    section = None
    for line in out.splitlines():
        if line.startswith("subject="):
            section = "subject"
        elif line.startswith("issuer="):
            section = "issuer"
        elif line.startswith("    ") and section:
            key, _sep, value = line.strip().partition("=")
            facts[section][key] = value
        elif "Fingerprint=" in line:
            facts["sha1"] = line.split("=", 1)[1].replace(":", "")
            section = None
        elif line.startswith("notAfter="):
            facts["not_after"] = line.split("=", 1)[1]
            section = None
    return facts


# --------------------------------------------------------------------------- with cryptography


@pytest.mark.parametrize("ref", REFS, ids=[r.kind for r in REFS])
def test_certificate_is_self_signed_and_named_as_the_profile_says(made, ref):
    item = made[ref]
    cert = x509.load_pem_x509_certificate(item.certificate_pem)
    profile = KINDS[ref.kind]
    # Self-signed: issuer is subject and the signature verifies with the certificate's own key.
    assert cert.issuer == cert.subject
    cert.public_key().verify(cert.signature, cert.tbs_certificate_bytes, padding.PKCS1v15(),
                             cert.signature_hash_algorithm)
    assert attribute(cert.subject, NameOID.COMMON_NAME) == [profile.common_name]
    assert attribute(cert.subject, NameOID.ORGANIZATION_NAME) == ["Password Secure"]
    assert attribute(cert.subject, NameOID.ORGANIZATIONAL_UNIT_NAME) == ([] if ref.identity is None
                                                                         else [ref.identity])
    assert item.facts["subject"] == cert.subject.rfc4514_string()
    assert item.facts["friendly_name"] == profile.friendly_name.format(identity=ref.identity)
    assert item.facts["kind"] == ref.kind and item.facts["identity"] == ref.identity
    assert item.ref == ref


@pytest.mark.parametrize("ref", REFS, ids=[r.kind for r in REFS])
def test_facts_match_the_certificate(made, ref):
    item = made[ref]
    cert = x509.load_pem_x509_certificate(item.certificate_pem)
    der = cert.public_bytes(serialization.Encoding.DER)
    assert crypto.not_valid_after(cert) == END
    assert item.facts["not_after"] == "9999-12-31T23:59:59Z"
    assert item.facts["not_before"] == crypto.iso(crypto.not_valid_before(cert))
    assert item.facts["thumbprint"] == hashlib.sha1(der).hexdigest().upper()
    assert item.facts["sha256"] == hashlib.sha256(der).hexdigest().upper()
    assert item.facts["serial_number"] == "%X" % cert.serial_number
    assert item.facts["key_type"] == "RSA"
    assert item.facts["key_size"] == 2048 == cert.public_key().key_size
    assert item.facts["origin"] == "generated"
    assert cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is False


@pytest.mark.parametrize("ref", REFS, ids=[r.kind for r in REFS])
def test_key_matches_the_certificate(made, ref):
    item = made[ref]
    assert b"-----BEGIN PRIVATE KEY-----" in item.private_key_pem  # PKCS#8, not encrypted without passphrase
    key = serialization.load_pem_private_key(item.private_key_pem, password=None)
    cert = x509.load_pem_x509_certificate(item.certificate_pem)
    assert key.public_key().public_numbers() == cert.public_key().public_numbers()


def test_every_certificate_has_its_own_key_and_serial(made):
    assert len({item.facts["thumbprint"] for item in made.values()}) == len(REFS)
    assert len({item.facts["serial_number"] for item in made.values()}) == len(REFS)
    moduli = {serialization.load_pem_private_key(i.private_key_pem, None).public_key().public_numbers().n
              for i in made.values()}
    assert len(moduli) == len(REFS)


def test_key_passphrase_encrypts_the_key_and_only_it_opens_it():
    item = generate(CertRef("database", "sales"), key_size=2048, key_passphrase=b"correct horse")
    assert b"-----BEGIN ENCRYPTED PRIVATE KEY-----" in item.private_key_pem
    assert b"-----BEGIN PRIVATE KEY-----" not in item.private_key_pem
    with pytest.raises(TypeError):
        serialization.load_pem_private_key(item.private_key_pem, password=None)
    with pytest.raises(ValueError):
        serialization.load_pem_private_key(item.private_key_pem, password=b"correct horsE")
    key = serialization.load_pem_private_key(item.private_key_pem, password=b"correct horse")
    cert = x509.load_pem_x509_certificate(item.certificate_pem)
    assert key.public_key().public_numbers() == cert.public_key().public_numbers()
    if shutil.which("openssl"):
        # An independent reader opens it with the passphrase, and not without.
        # The passphrase goes through the environment, never a command line.
        env = dict(os.environ, PSR_TEST_PASS="correct horse")
        good = subprocess.run(["openssl", "pkey", "-passin", "env:PSR_TEST_PASS", "-pubout"],
                              input=item.private_key_pem, capture_output=True, env=env, check=False)
        assert good.returncode == 0, good.stderr
        assert good.stdout == cert.public_key().public_bytes(serialization.Encoding.PEM,
                                                             serialization.PublicFormat.SubjectPublicKeyInfo)
        env["PSR_TEST_PASS"] = "wrong"
        bad = subprocess.run(["openssl", "pkey", "-passin", "env:PSR_TEST_PASS", "-pubout"],
                             input=item.private_key_pem, capture_output=True, env=env, check=False)
        assert bad.returncode != 0


def test_not_before_and_not_after_can_be_set_for_tests():
    start = datetime.datetime(2001, 1, 1, tzinfo=UTC)
    end = datetime.datetime(2002, 1, 1, tzinfo=UTC)
    item = generate(CertRef("database", "old"), key_size=2048, not_before=start, not_after=end)
    cert = x509.load_pem_x509_certificate(item.certificate_pem)
    assert crypto.not_valid_before(cert) == start and crypto.not_valid_after(cert) == end
    assert item.facts["not_before"] == "2001-01-01T00:00:00Z"
    assert item.facts["not_after"] == "2002-01-01T00:00:00Z"


def test_generate_many_keeps_the_order_asked():
    refs = [CertRef("database", "b"), CertRef("database", "a"), CertRef("server_encryption", None)]
    items = generate_many(refs, key_size=2048)
    assert [item.ref for item in items] == refs
    for item in items:
        cert = x509.load_pem_x509_certificate(item.certificate_pem)
        assert attribute(cert.subject, NameOID.ORGANIZATIONAL_UNIT_NAME) == ([item.ref.identity]
                                                                             if item.ref.identity else [])
    assert generate_many([], key_size=2048) == []


# --------------------------------------------------------------------------- independent witnesses


@needs_openssl
@pytest.mark.parametrize("ref", REFS, ids=[r.kind for r in REFS])
def test_openssl_agrees_with_the_facts(made, ref):
    item = made[ref]
    seen = openssl_facts(item.certificate_pem)
    expected = {"commonName": KINDS[ref.kind].common_name, "organizationName": "Password Secure"}
    if ref.identity is not None:
        expected["organizationalUnitName"] = ref.identity
    assert seen["subject"] == expected
    assert seen["issuer"] == expected
    assert seen["sha1"] == item.facts["thumbprint"]
    assert seen["not_after"] == "Dec 31 23:59:59 9999 GMT"


@needs_openssl
@pytest.mark.parametrize("identity", [LONG_LATIN, LONG_OTHER, "مبيعات"], ids=["255-latin", "255-mixed", "arabic"])
def test_long_and_non_latin_identities_survive_openssl(identity):
    assert len(identity) <= 255
    item = generate(CertRef("database", identity), key_size=2048)
    seen = openssl_facts(item.certificate_pem)
    assert seen["subject"]["organizationalUnitName"] == identity
    assert seen["sha1"] == item.facts["thumbprint"]


@needs_keytool
@pytest.mark.parametrize("identity", [LONG_LATIN, LONG_OTHER], ids=["255-latin", "255-mixed"])
def test_long_and_non_latin_identities_survive_keytool(tmp_path, identity):
    item = generate(CertRef("database", identity), key_size=2048)
    path = tmp_path / "cert.pem"
    path.write_bytes(item.certificate_pem)
    run = subprocess.run(["keytool", "-printcert", "-file", str(path)], capture_output=True, env=utf8_env(),
                         check=False)
    assert run.returncode == 0, run.stderr
    out = run.stdout.decode("utf-8")
    owner = next(line for line in out.splitlines() if line.startswith("Owner:"))
    assert owner == "Owner: O=Password Secure, OU=%s, CN=psrDatabaseKey" % identity
    sha1 = next(line for line in out.splitlines() if line.strip().startswith("SHA1:"))
    assert sha1.split(":", 1)[1].strip().replace(":", "") == item.facts["thumbprint"]
    assert "until: Fri Dec 31 23:59:59 UTC 9999" in out
