"""Recognising Password Secure certificates and checking their keys, on certificates made at test time.

The good certificates come from generate(), the bad ones are built with cryptography; openssl reads one as an
independent witness, and Debian's /usr/bin/python3 (cryptography 38) runs the same code in a subprocess.
"""

from __future__ import annotations

import base64
import datetime
import json
import os
import shutil
import subprocess
import unicodedata

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding
from cryptography.x509.oid import NameOID

from ansible_collections.passwordsecure.server.plugins.module_utils import recognise as recognise_module
from ansible_collections.passwordsecure.server.plugins.module_utils import store, transfer
from ansible_collections.passwordsecure.server.plugins.module_utils.errors import (
    CertificateRefusedError,
    InvalidRequestError,
)
from ansible_collections.passwordsecure.server.plugins.module_utils.generate import generate
from ansible_collections.passwordsecure.server.plugins.module_utils.kinds import CertRef
from ansible_collections.passwordsecure.server.plugins.module_utils.recognise import check_key_matches, recognise

UTC = datetime.timezone.utc
REFS = [
    CertRef("database", "sales"),
    CertRef("master_key", "corp.example.com"),
    CertRef("discovery_service", "network-scan"),
    CertRef("password_reset", "self-service"),
    CertRef("server_encryption", None),
]
# Made once when the file is imported: RSA key generation is the slow step.
MADE = {ref: generate(ref, key_size=2048) for ref in REFS}
MADE_EXPIRED = generate(
    CertRef("database", "archive"),
    key_size=2048,
    not_before=datetime.datetime(2000, 1, 1, tzinfo=UTC),
    not_after=datetime.datetime(2001, 1, 1, tzinfo=UTC),
)
DATABASE = MADE[CertRef("database", "sales")]
# Keys for the hand-built certificates, borrowed from the generated ones (their certificates are not used with them).
KEY_A = serialization.load_pem_private_key(MADE[CertRef("master_key", "corp.example.com")].private_key_pem, None)
KEY_B = serialization.load_pem_private_key(MADE[CertRef("password_reset", "self-service")].private_key_pem, None)
EC_KEY = ec.generate_private_key(ec.SECP256R1())
EC_OTHER_KEY = ec.generate_private_key(ec.SECP256R1())

needs_openssl = pytest.mark.skipif(shutil.which("openssl") is None, reason="the openssl command is not installed")


def der(pem: bytes) -> bytes:
    return x509.load_pem_x509_certificate(pem).public_bytes(serialization.Encoding.DER)


def key_der(key) -> bytes:
    if isinstance(key, bytes):
        key = serialization.load_pem_private_key(key, None)
    return key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def name(*pairs) -> x509.Name:
    return x509.Name([x509.NameAttribute(oid, value) for oid, value in pairs])


def ps_name(common_name: str, unit: str | None = None) -> x509.Name:
    pairs = [(NameOID.COMMON_NAME, common_name)]
    if unit is not None:
        pairs.append((NameOID.ORGANIZATIONAL_UNIT_NAME, unit))
    pairs.append((NameOID.ORGANIZATION_NAME, "Password Secure"))
    return name(*pairs)


def build(subject: x509.Name, *, key=KEY_A, issuer: x509.Name | None = None, signer=None) -> bytes:
    """A certificate for ``key``'s public key; self-signed unless ``issuer``/``signer`` say otherwise."""
    now = datetime.datetime(2024, 1, 1, tzinfo=UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer if issuer is not None else subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=3650))
        .sign(signer if signer is not None else key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.DER)


def refused(certificate: bytes, **given) -> str:
    with pytest.raises(CertificateRefusedError) as caught:
        recognise(certificate, **given)
    return str(caught.value)


def thumbprint(certificate: bytes) -> str:
    return x509.load_der_x509_certificate(certificate).fingerprint(hashes.SHA1()).hex().upper()


# --------------------------------------------------------------------------- recognised


@pytest.mark.parametrize("ref", REFS, ids=[ref.kind for ref in REFS])
def test_every_kind_is_recognised_with_the_facts_generate_recorded(ref):
    made = MADE[ref]
    found = recognise(der(made.certificate_pem))
    assert found.ref == ref
    assert found.facts == made.facts
    assert found.expired is False


def test_identities_are_normalised_as_in_a_task():
    domain = recognise(build(ps_name("Active Directory Master Key", "CORP.Example.COM")))
    assert domain.ref == CertRef("master_key", "corp.example.com")
    decomposed = unicodedata.normalize("NFD", "Müller")
    database = recognise(build(ps_name("psrDatabaseKey", decomposed)))
    assert database.ref == CertRef("database", "Müller")
    assert database.facts["subject"] == "O=Password Secure,OU=%s,CN=psrDatabaseKey" % decomposed  # as written
    assert database.facts["friendly_name"] == "psrDatabaseKey (Müller)"


def test_attribute_order_is_not_part_of_the_rule():
    subject = name((NameOID.ORGANIZATION_NAME, "Password Secure"), (NameOID.COMMON_NAME, "Discovery Service"),
                   (NameOID.ORGANIZATIONAL_UNIT_NAME, "scan"))
    assert recognise(build(subject)).ref == CertRef("discovery_service", "scan")


def test_an_ec_certificate_is_recognised():
    found = recognise(build(ps_name("psrDatabaseKey", "ec-db"), key=EC_KEY))
    assert found.ref == CertRef("database", "ec-db")
    assert (found.facts["key_type"], found.facts["key_size"]) == ("EC", 256)


def test_an_rsa_pss_signature_is_verified_too():
    subject = ps_name("psrDatabaseKey", "pss")
    pss = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32)
    start = datetime.datetime(2024, 1, 1, tzinfo=UTC)
    builder = (
        x509.CertificateBuilder().subject_name(subject).public_key(KEY_A.public_key())
        .serial_number(1).not_valid_before(start).not_valid_after(start + datetime.timedelta(days=1))
    )
    own = builder.issuer_name(subject).sign(KEY_A, hashes.SHA256(), rsa_padding=pss)
    assert recognise(own.public_bytes(serialization.Encoding.DER)).ref == CertRef("database", "pss")
    forged = builder.issuer_name(subject).sign(KEY_B, hashes.SHA256(), rsa_padding=pss)
    assert "does not verify with its own public key" in refused(forged.public_bytes(serialization.Encoding.DER))


def test_an_expired_certificate_is_accepted_and_reported():
    certificate = der(MADE_EXPIRED.certificate_pem)
    found = recognise(certificate)
    assert found.ref == CertRef("database", "archive")
    assert found.expired is True
    assert found.facts == MADE_EXPIRED.facts
    assert recognise(certificate, now=datetime.datetime(2000, 6, 1, tzinfo=UTC)).expired is False
    assert recognise(certificate, now=datetime.datetime(2000, 6, 1)).expired is False  # naive means UTC


@needs_openssl
def test_openssl_reads_the_identity_recognise_reports():
    made = generate(CertRef("database", "販売 Nord"), key_size=2048)
    found = recognise(der(made.certificate_pem))
    out = subprocess.run(
        ["openssl", "x509", "-noout", "-subject", "-nameopt", "utf8,sep_multiline,sname"],
        input=made.certificate_pem, capture_output=True, check=True,
        env=dict(os.environ, LANG="C.UTF-8", LC_ALL="C.UTF-8"),
    ).stdout.decode("utf-8")
    fields = dict(line.strip().split("=", 1) for line in out.splitlines()[1:])
    assert fields == {"CN": "psrDatabaseKey", "OU": "販売 Nord", "O": "Password Secure"}
    assert found.ref == CertRef("database", fields["OU"])


# --------------------------------------------------------------------------- not the server's own


@pytest.mark.parametrize(
    ("subject", "label"),
    [
        (ps_name("psrDatabaseKey", "sales"), "the database certificate"),
        (ps_name("Password Secure Server Encryption Certificate"), "the server encryption certificate"),
    ],
    ids=["database", "server_encryption"],
)
def test_a_ca_issued_certificate_with_a_password_secure_subject_is_refused(subject, label):
    ca = name((NameOID.COMMON_NAME, "Example Issuing CA"), (NameOID.ORGANIZATION_NAME, "Example"))
    certificate = build(subject, key=KEY_B, issuer=ca, signer=KEY_A)
    message = refused(certificate)
    assert message.startswith(label + " can't be replaced by your own certificate: ")
    assert subject.rfc4514_string() in message
    assert thumbprint(certificate) in message
    assert "is issued by O=Example,CN=Example Issuing CA" in message
    assert "only the certificate the Password Secure server generated can be imported" in message


def test_a_self_issued_looking_certificate_signed_by_another_key_is_refused():
    certificate = build(ps_name("psrDatabaseKey", "sales"), key=KEY_B, signer=KEY_A)
    message = refused(certificate)
    assert message.startswith("the database certificate can't be replaced by your own certificate: ")
    assert "does not verify with its own public key" in message
    assert thumbprint(certificate) in message


def test_an_ec_certificate_signed_by_another_ec_key_is_refused():
    certificate = build(ps_name("Password Reset", "reset"), key=EC_KEY, signer=EC_OTHER_KEY)
    assert "does not verify with its own public key" in refused(certificate)


# --------------------------------------------------------------------------- subjects of no kind


def der_sequence(content: bytes) -> bytes:
    length = len(content)
    if length < 128:
        return b"\x30" + bytes([length]) + content
    octets = length.to_bytes((length.bit_length() + 7) // 8, "big")
    return b"\x30" + bytes([0x80 | len(octets)]) + octets + content


def with_damaged_public_key(certificate: bytes) -> bytes:
    """``certificate`` with its subjectPublicKeyInfo's key bits replaced by four bytes no parser reads as a key,
    by byte surgery (the signature is left as it was: the key that would check it is what is damaged)."""
    from asn1crypto import x509 as asn1_x509

    parsed = asn1_x509.Certificate.load(certificate)
    tbs = parsed["tbs_certificate"]
    spki = tbs["subject_public_key_info"]
    damaged = der_sequence(spki["algorithm"].dump() + b"\x03\x05\x00\x00\x01\x02\x03")
    assert tbs.contents.count(spki.dump()) == 1
    new_tbs = der_sequence(tbs.contents.replace(spki.dump(), damaged))
    return der_sequence(new_tbs + parsed["signature_algorithm"].dump() + parsed["signature_value"].dump())


def test_a_certificate_whose_public_key_cannot_be_read_is_refused_not_a_traceback():
    damaged = with_damaged_public_key(build(ps_name("psrDatabaseKey", "sales")))
    message = refused(damaged)
    assert "holds a public key that can't be read" in message and "export it again from the server" in message
    assert thumbprint(damaged) in message
    with pytest.raises(CertificateRefusedError, match="holds a public key that can't be read"):
        check_key_matches(damaged, key_der(KEY_A))


@pytest.mark.parametrize(
    "subject",
    [
        name((NameOID.COMMON_NAME, "www.example.com"), (NameOID.ORGANIZATION_NAME, "Example")),
        name((NameOID.COMMON_NAME, "psrDatabase"), (NameOID.ORGANIZATIONAL_UNIT_NAME, "sales"),
             (NameOID.ORGANIZATION_NAME, "Password Secure")),
        name((NameOID.ORGANIZATION_NAME, "Password Secure")),
    ],
    ids=["web-server", "near-miss-cn", "no-cn"],
)
def test_a_foreign_subject_is_refused(subject):
    certificate = build(subject)
    message = refused(certificate)
    assert "is not a Password Secure certificate (no known kind has this subject" in message
    assert message.endswith("export it from a Password Secure server, or import it with kind: ssl (a file of its "
                            "own) if it is your own SSL connection certificate")
    assert thumbprint(certificate) in message
    assert "'psrDatabaseKey'" in message  # says what a Password Secure subject looks like


@pytest.mark.parametrize(
    ("subject", "kind_label", "problem"),
    [
        (ps_name("psrDatabaseKey"), "database certificate", "has no OU holding the database's name"),
        (ps_name("Password Secure Server Encryption Certificate", "node1"), "server encryption certificate",
         "has OU=node1, but the server encryption certificate has no identity"),
        (name((NameOID.COMMON_NAME, "psrDatabaseKey"), (NameOID.ORGANIZATIONAL_UNIT_NAME, "sales")),
         "database certificate", "has no O=Password Secure"),
        (name((NameOID.COMMON_NAME, "psrDatabaseKey"), (NameOID.ORGANIZATIONAL_UNIT_NAME, "sales"),
              (NameOID.ORGANIZATION_NAME, "Acme")),
         "database certificate", "has O=Acme where it has O=Password Secure"),
        (name((NameOID.COUNTRY_NAME, "DE"), (NameOID.COMMON_NAME, "Discovery Service"),
              (NameOID.ORGANIZATIONAL_UNIT_NAME, "scan"), (NameOID.ORGANIZATION_NAME, "Password Secure")),
         "discovery service certificate", "has the extra attribute(s) C=DE"),
        (name((NameOID.COMMON_NAME, "psrDatabaseKey"), (NameOID.ORGANIZATIONAL_UNIT_NAME, "sales"),
              (NameOID.ORGANIZATIONAL_UNIT_NAME, "hr"), (NameOID.ORGANIZATION_NAME, "Password Secure")),
         "database certificate", "has 2 OU attributes where it has one"),
        (x509.Name([x509.RelativeDistinguishedName([
            x509.NameAttribute(NameOID.COMMON_NAME, "psrDatabaseKey"),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "sales")]),
            x509.RelativeDistinguishedName([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Password Secure")])]),
         "database certificate", "joins several attributes into one RDN"),
    ],
    ids=["database-without-ou", "server-encryption-with-ou", "no-o", "other-o", "extra-c", "two-ous", "multi-rdn"],
)
def test_a_kinds_common_name_with_the_wrong_subject_is_not_of_that_kind(subject, kind_label, problem):
    message = refused(build(subject))
    assert " is not a %s: " % kind_label in message
    assert problem in message
    assert "export the certificate from a Password Secure server" in message


@pytest.mark.parametrize(
    ("unit", "reason", "shown"),
    [
        ("sales/../../etc", "holds a path separator", "sales/../../etc"),
        ("..", "holds '..'", "OU=..,"),
        ("sa\x00les", "holds a NUL character", "OU=sa\\00les"),
        ("sales\u202egnp.exe", "holds the control character U+202E", "sales\\u202Egnp.exe"),
        ("d" * 256, "is 256 characters long, over the limit of 255", "ddd..."),
        (" sales", "starts or ends with white space", "OU=\\ sales"),
    ],
    ids=["slash", "dotdot", "nul", "rlo", "256-chars", "blank"],
)
def test_an_identity_hidden_in_a_subject_is_refused_as_in_a_task(unit, reason, shown):
    certificate = build(ps_name("psrDatabaseKey", unit))
    message = refused(certificate)
    assert "can't be imported: the identity in its subject is refused (the OU " in message
    assert reason in message
    assert shown in message
    assert thumbprint(certificate) in message
    assert "\x00" not in message and "\u202e" not in message  # shown escaped, never raw
    assert len(message) < 900


def test_a_bad_domain_in_a_master_key_subject_is_refused():
    message = refused(build(ps_name("Active Directory Master Key", "corp_example.com")))
    assert "is not a DNS label" in message


def test_bytes_that_are_no_certificate_are_refused():
    with pytest.raises(CertificateRefusedError, match="is not a readable X.509 certificate") as caught:
        recognise(b"\x30\x03\x02\x01\x00")
    assert "thumbprint" in str(caught.value)


# --------------------------------------------------------------------------- kind and identity given by the caller


def test_given_kind_and_identity_that_agree_are_accepted():
    certificate = der(DATABASE.certificate_pem)
    assert recognise(certificate, kind="database", identity="sales").ref == CertRef("database", "sales")
    domain = der(MADE[CertRef("master_key", "corp.example.com")].certificate_pem)
    assert recognise(domain, identity="CORP.example.com").ref.identity == "corp.example.com"  # compared normalised
    server = der(MADE[CertRef("server_encryption", None)].certificate_pem)
    assert recognise(server, kind="server_encryption").ref == CertRef("server_encryption", None)


def test_a_given_kind_that_disagrees_is_refused_naming_both():
    message = refused(der(DATABASE.certificate_pem), kind="master_key")
    assert "is the database certificate 'sales' by its subject" in message
    assert "the task says kind 'master_key' (master key certificate)" in message
    assert "give kind: database" in message


def test_a_given_identity_that_disagrees_is_refused_naming_both():
    message = refused(der(DATABASE.certificate_pem), kind="database", identity="hr")
    assert "is the database certificate 'sales' by its subject, but the task gives identity 'hr'" in message
    assert "give identity: 'sales'" in message


def test_an_identity_given_for_the_server_encryption_certificate_is_refused():
    message = refused(der(MADE[CertRef("server_encryption", None)].certificate_pem), identity="node1")
    assert "which has no identity, but the task gives identity 'node1'; leave identity out" in message


def test_an_unknown_given_kind_is_an_invalid_request():
    with pytest.raises(InvalidRequestError, match="kind 'databse' is not a certificate kind"):
        recognise(der(DATABASE.certificate_pem), kind="databse")


def test_a_given_kind_does_not_make_a_foreign_certificate_acceptable():
    certificate = build(name((NameOID.COMMON_NAME, "www.example.com")))
    assert "is not a Password Secure certificate" in refused(certificate, kind="database", identity="sales")


# --------------------------------------------------------------------------- the key


@pytest.fixture(params=["asn1crypto", "cryptography"])
def key_reader(request, monkeypatch):
    """Run a key test with each way of reading PKCS#8: asn1crypto, and cryptography without it."""
    if request.param == "asn1crypto":
        pytest.importorskip("asn1crypto")
    monkeypatch.setattr(recognise_module, "_reads_with_asn1crypto", lambda: request.param == "asn1crypto")
    return request.param


def rebuilt(private_key_pem: bytes, **changes) -> bytes:
    """The key as PKCS#8 DER with some RSAPrivateKey fields changed, written by asn1crypto."""
    asn1_keys = pytest.importorskip("asn1crypto.keys")
    info = asn1_keys.PrivateKeyInfo.load(key_der(private_key_pem))
    fields = dict(info["private_key"].parsed.native)
    for field, change in changes.items():
        fields[field] = change(fields)
    return asn1_keys.PrivateKeyInfo.wrap(asn1_keys.RSAPrivateKey(fields), "rsa").dump()


@pytest.mark.parametrize("ref", REFS, ids=[ref.kind for ref in REFS])
def test_each_certificates_own_key_matches(ref, key_reader):
    check_key_matches(der(MADE[ref].certificate_pem), key_der(MADE[ref].private_key_pem))


def test_the_key_of_another_certificate_is_refused(key_reader):
    certificate = der(DATABASE.certificate_pem)
    with pytest.raises(CertificateRefusedError) as caught:
        check_key_matches(certificate, key_der(MADE[CertRef("master_key", "corp.example.com")].private_key_pem))
    message = str(caught.value)
    assert message.startswith("the private key given with O=Password Secure,OU=sales,CN=psrDatabaseKey (thumbprint ")
    assert thumbprint(certificate) in message
    assert "belongs to another certificate" in message


CORRUPTIONS = {
    # d + 2 is even, so it can't invert e modulo the even lcm(p - 1, q - 1)
    "d": ({"private_exponent": lambda f: f["private_exponent"] + 2}, "private exponent d does not invert"),
    "p": ({"prime1": lambda f: f["prime1"] + 2}, "p and q do not multiply to the certificate's modulus"),
    "p-and-q-swapped-for-1-and-n": (
        {"prime1": lambda f: 1, "prime2": lambda f: f["modulus"]}, "p and q do not multiply"),
    "dP": ({"exponent1": lambda f: f["exponent1"] ^ 1}, "CRT values"),
    "qInv": ({"coefficient": lambda f: f["coefficient"] + 1}, "CRT values"),
}


@pytest.mark.parametrize("corruption", list(CORRUPTIONS))
def test_a_damaged_key_is_refused_and_full_validation_agrees(corruption, key_reader):
    changes, problem = CORRUPTIONS[corruption]
    damaged = rebuilt(DATABASE.private_key_pem, **changes)
    with pytest.raises(CertificateRefusedError) as caught:
        check_key_matches(der(DATABASE.certificate_pem), damaged)
    message = str(caught.value)
    assert problem in message
    assert "is damaged" in message
    numbers = serialization.load_pem_private_key(DATABASE.private_key_pem, None).private_numbers()
    for secret in (numbers.d, numbers.p, numbers.q):
        assert str(secret) not in message and ("%x" % secret) not in message.lower()
    with pytest.raises(ValueError):  # cryptography's full validation (OpenSSL's RSA_check_key) refuses it too
        serialization.load_der_private_key(damaged, None)


def test_an_unchanged_rebuilt_key_still_matches(key_reader):
    """The asn1crypto rebuild itself damages nothing: the corruption tests fail for the change alone."""
    check_key_matches(der(DATABASE.certificate_pem), rebuilt(DATABASE.private_key_pem))


@pytest.mark.parametrize(
    "key_bytes",
    [
        b"",
        b"\x30\x03\x02\x01\x00",
        key_der(DATABASE.private_key_pem)[:-7],
        key_der(DATABASE.private_key_pem) + b"\x00",
        serialization.load_pem_private_key(DATABASE.private_key_pem, None).private_bytes(
            serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"a password")),
    ],
    ids=["empty", "tiny", "truncated", "trailing-byte", "encrypted"],
)
def test_an_unreadable_key_is_refused(key_bytes, key_reader):
    with pytest.raises(CertificateRefusedError, match="can't be read as an unencrypted PKCS#8 private key") as caught:
        check_key_matches(der(DATABASE.certificate_pem), key_bytes)
    assert caught.value.__cause__ is None and caught.value.__suppress_context__  # no parser detail is chained


def test_ec_keys_are_checked_by_curve_and_point(key_reader):
    certificate = build(ps_name("psrDatabaseKey", "ec-db"), key=EC_KEY)
    check_key_matches(certificate, key_der(EC_KEY))
    with pytest.raises(CertificateRefusedError, match="belongs to another certificate"):
        check_key_matches(certificate, key_der(EC_OTHER_KEY))
    with pytest.raises(CertificateRefusedError, match="is of type RSA, but the certificate holds an EC public key"):
        check_key_matches(certificate, key_der(DATABASE.private_key_pem))
    with pytest.raises(CertificateRefusedError, match="is of type EC, but the certificate holds an RSA public key"):
        check_key_matches(der(DATABASE.certificate_pem), key_der(EC_KEY))


# --------------------------------------------------------------------------- each public key read once


def test_recognise_hands_on_the_public_key_and_the_key_check_uses_it(key_reader):
    certificate = der(DATABASE.certificate_pem)
    found = recognise(certificate)
    expected = x509.load_der_x509_certificate(certificate).public_key().public_numbers()
    assert found.public_key.public_numbers() == expected
    check_key_matches(certificate, key_der(DATABASE.private_key_pem), public_key=found.public_key)
    # Given another certificate's public key, the check compares with that one, not with the certificate's.
    other = recognise(der(MADE[CertRef("master_key", "corp.example.com")].certificate_pem)).public_key
    with pytest.raises(CertificateRefusedError) as caught:
        check_key_matches(certificate, key_der(DATABASE.private_key_pem), public_key=other)
    assert str(caught.value).startswith(
        "the private key given with O=Password Secure,OU=sales,CN=psrDatabaseKey (thumbprint %s) belongs to "
        "another certificate" % thumbprint(certificate))


class CountingCertificate:
    """A certificate as recognise's loader returns it, noting each read of its public key by thumbprint."""

    def __init__(self, cert, reads: list[str]):
        self._cert, self._reads = cert, reads

    def public_key(self):
        self._reads.append(self._cert.fingerprint(hashes.SHA1()).hex().upper())
        return self._cert.public_key()

    def __getattr__(self, attribute):
        return getattr(self._cert, attribute)


def test_an_import_reads_each_certificates_public_key_once(tmp_path, monkeypatch):
    """recognise's loader is the only place an import loads certificates with cryptography (pkcs12 pairs keys
    with asn1crypto): counting there counts the signature check, the facts and the key check."""
    source = str(tmp_path / "source")
    with store.transaction(source) as writer:
        for made in MADE.values():
            writer.add(made.ref, made.facts, made.certificate_pem, made.private_key_pem)
        writer.commit()
    exported, _writes = transfer.export(source, password="Transfer-Secret-123", return_content=True)
    reads: list[str] = []
    load = recognise_module.load_certificate
    monkeypatch.setattr(recognise_module, "load_certificate", lambda der: CountingCertificate(load(der), reads))
    result = transfer.import_(str(tmp_path / "target"), [("content", base64.b64decode(exported["content"]))],
                              password="Transfer-Secret-123")
    wanted = sorted(made.facts["thumbprint"] for made in MADE.values())
    assert sorted(c["thumbprint"] for c in result["certificates"]) == wanted
    assert {c["action"] for c in result["certificates"]} == {"added"}
    assert sorted(reads) == wanted  # every certificate's public key read, and read once


# --------------------------------------------------------------------------- Debian's Python, cryptography 38

SYSTEM_CHECK = r"""
import json, sys
from ansible_collections.passwordsecure.server.plugins.module_utils import recognise as r
from ansible_collections.passwordsecure.server.plugins.module_utils.errors import CertificateRefusedError
import cryptography
cert, key, other, damaged, ca_issued = (bytes.fromhex(h) for h in json.load(sys.stdin))
out = {"cryptography": cryptography.__version__, "readers": {}}
found = r.recognise(cert)
out["ref"] = list(found.ref)
out["facts"] = found.facts
try:
    r.recognise(ca_issued)
except CertificateRefusedError as exc:
    out["ca_issued"] = str(exc)
for reader in (["asn1crypto"] if r.HAS_ASN1CRYPTO else []) + ["cryptography"]:
    r._reads_with_asn1crypto = lambda reader=reader: reader == "asn1crypto"
    r.check_key_matches(cert, key)
    refusals = []
    for bad in (other, damaged):
        try:
            r.check_key_matches(cert, bad)
        except CertificateRefusedError as exc:
            refusals.append(str(exc))
    out["readers"][reader] = refusals
print(json.dumps(out))
"""


def system_python_has_cryptography() -> bool:
    return os.access("/usr/bin/python3", os.X_OK) and subprocess.run(
        ["/usr/bin/python3", "-c", "import cryptography"], capture_output=True, check=False).returncode == 0


@pytest.mark.skipif(not system_python_has_cryptography(), reason="/usr/bin/python3 has no cryptography")
def test_debians_python_and_cryptography_agree():
    ca_issued = build(ps_name("psrDatabaseKey", "sales"), key=KEY_B,
                      issuer=name((NameOID.COMMON_NAME, "Example CA")), signer=KEY_A)
    inputs = [
        der(DATABASE.certificate_pem),
        key_der(DATABASE.private_key_pem),
        key_der(MADE[CertRef("discovery_service", "network-scan")].private_key_pem),
        rebuilt(DATABASE.private_key_pem, private_exponent=lambda f: f["private_exponent"] + 2),
        ca_issued,
    ]
    run = subprocess.run(
        ["/usr/bin/python3", "-c", SYSTEM_CHECK], input=json.dumps([i.hex() for i in inputs]).encode(),
        capture_output=True, check=True, env=dict(os.environ, PYTHONPATH=os.environ.get("PYTHONPATH", "")),
    )
    out = json.loads(run.stdout)
    assert out["ref"] == ["database", "sales"]
    assert out["facts"] == DATABASE.facts
    assert "can't be replaced by your own certificate" in out["ca_issued"]
    assert "cryptography" in out["readers"]
    for refusals in out["readers"].values():
        assert "belongs to another certificate" in refusals[0]
        # asn1crypto and cryptography >= 39 reach the arithmetic; cryptography 38 refuses while loading.
        assert "is damaged" in refusals[1] or "or it is damaged" in refusals[1]
