"""PKCS#12 reading and writing, witnessed by openssl, keytool and cryptography as independent writers and readers.

Every file is made at test time. Passwords reach openssl and keytool through the environment
(-passin env:VAR, -storepass:env VAR), never on a command line.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import hmac
import json
import os
import random
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from asn1crypto import algos, cms, core, pkcs12
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.ciphers import Cipher, modes
from cryptography.hazmat.primitives.padding import PKCS7
from cryptography.hazmat.primitives.serialization import pkcs12 as cryptography_pkcs12
from cryptography.x509.oid import NameOID
from hypothesis import given, settings
from hypothesis import strategies as st

from ansible_collections.passwordsecure.server.plugins.module_utils import pkcs12 as P
from ansible_collections.passwordsecure.server.plugins.module_utils.errors import DependencyError

try:
    from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES
except ImportError:  # cryptography before 43
    from cryptography.hazmat.primitives.ciphers.algorithms import TripleDES

PASSWORD = "correct horse battery staple"
NON_ASCII = "pässwörd-秘密"
DER = serialization.Encoding.DER
PKCS8 = serialization.PrivateFormat.PKCS8
NO_ENCRYPTION = serialization.NoEncryption()

needs_openssl = pytest.mark.skipif(shutil.which("openssl") is None, reason="the openssl command is not installed")
needs_keytool = pytest.mark.skipif(shutil.which("keytool") is None, reason="keytool (a Java runtime) is not installed")


def make(key, name: str) -> tuple[bytes, bytes]:
    """(certificate DER, PKCS#8 DER) of a self-signed certificate for ``key``."""
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    start = datetime.datetime(2024, 1, 1, tzinfo=datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + datetime.timedelta(days=3650))
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(DER), key.private_bytes(DER, PKCS8, NO_ENCRYPTION)


# Made once when the file is imported (ansible-test forks per test, so wider fixtures would be remade).
RSA = [make(rsa.generate_private_key(public_exponent=65537, key_size=2048), "rsa %d" % i) for i in range(2)]
EC = [make(ec.generate_private_key(ec.SECP256R1()), "ec %d" % i) for i in range(20)]
ENTRIES = [P.PfxEntry(cert, key, "entry %d" % i) for i, (cert, key) in enumerate(RSA + EC[:2])]
MANY = [P.PfxEntry(cert, key, "many %02d" % i) for i, (cert, key) in enumerate(EC)]


# ---------------------------------------------------------------------------------------------- helpers


def env(**values: str) -> dict:
    return dict(os.environ, LANG="C.UTF-8", LC_ALL="C.UTF-8", **values)


def pem(kind: str, der: bytes) -> bytes:
    body = "\n".join(textwrap.wrap(base64.b64encode(der).decode(), 64))
    return ("-----BEGIN %s-----\n%s\n-----END %s-----\n" % (kind, body, kind)).encode()


def pem_files(tmp_path: Path, pair: tuple[bytes, bytes], extra: list[bytes] = ()) -> dict[str, Path]:
    files = {"cert": tmp_path / "cert.pem", "key": tmp_path / "key.pem", "extra": tmp_path / "extra.pem"}
    files["cert"].write_bytes(pem("CERTIFICATE", pair[0]))
    files["key"].write_bytes(pem("PRIVATE KEY", pair[1]))
    files["extra"].write_bytes(b"".join(pem("CERTIFICATE", der) for der in extra))
    return files


def openssl_export(tmp_path: Path, options: list[str], password: str = PASSWORD, extra: list[bytes] = ()) -> bytes:
    """``openssl pkcs12 -export`` of RSA[0] (with -certfile for ``extra``), named "from openssl"."""
    files = pem_files(tmp_path, RSA[0], extra)
    out = tmp_path / "openssl.p12"
    command = ["openssl", "pkcs12", "-export", "-in", str(files["cert"]), "-inkey", str(files["key"])]
    command += ["-name", "from openssl", "-out", str(out), "-passout", "env:PFX_PASSWORD"] + options
    if extra:
        command += ["-certfile", str(files["extra"])]
    subprocess.run(command, check=True, capture_output=True, env=env(PFX_PASSWORD=password))
    return out.read_bytes()


def openssl_info(path: Path, password: str) -> tuple[str, list[dict]]:
    """(algorithm lines, bags) of ``openssl pkcs12 -info -nodes``; each bag: kind, DER, friendlyName, localKeyID."""
    command = ["openssl", "pkcs12", "-info", "-nodes", "-in", str(path), "-passin", "env:PFX_PASSWORD"]
    done = subprocess.run(command, check=False, capture_output=True, env=env(PFX_PASSWORD=password))
    assert done.returncode == 0, done.stderr.decode()
    bags = []
    pattern = r"(Bag Attributes[^\n]*\n.*?)-----BEGIN (CERTIFICATE|PRIVATE KEY)-----\n(.*?)-----END \2-----"
    for match in re.finditer(pattern, done.stdout.decode("utf-8"), re.S):
        name = re.search(r"friendlyName: (.*)", match.group(1))
        key_id = re.search(r"localKeyID: ([0-9A-F ]+)", match.group(1))
        bags.append(
            {
                "kind": match.group(2),
                "der": base64.b64decode(match.group(3)),
                "name": name.group(1).strip() if name else None,
                "key_id": bytes.fromhex(key_id.group(1)) if key_id else None,
            }
        )
    return done.stderr.decode(), bags


def keytool(*arguments: str, password: str = PASSWORD) -> str:
    done = subprocess.run(["keytool", *arguments], check=False, capture_output=True, env=env(PFX_PASSWORD=password))
    assert done.returncode == 0, done.stdout.decode() + done.stderr.decode()
    return done.stdout.decode("utf-8")


def keytool_list(path: Path, password: str = PASSWORD) -> dict[str, str]:
    """alias -> entry type, as ``keytool -list`` shows them."""
    out = keytool(
        "-list", "-storetype", "PKCS12", "-keystore", str(path), "-storepass:env", "PFX_PASSWORD", password=password
    )
    return dict(re.findall(r"^(.*?), [A-Z][a-z]{2} \d+, \d{4}, (\w+),", out, re.M))


def public_der_of_key(pkcs8: bytes) -> bytes:
    key = serialization.load_der_private_key(pkcs8, password=None)
    return key.public_key().public_bytes(DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def public_der_of_cert(cert_der: bytes) -> bytes:
    public = x509.load_der_x509_certificate(cert_der).public_key()
    return public.public_bytes(DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def assert_pairs_match(contents: P.PfxContents) -> None:
    for entry in contents.entries:
        assert entry.private_key_der is not None
        assert public_der_of_key(entry.private_key_der) == public_der_of_cert(entry.certificate_der)


def mac_of(data: bytes, password: str) -> tuple[bytes, bytes]:
    """(MAC in the file, MAC computed here with pkcs12_kdf and the standard library's HMAC)."""
    pfx = pkcs12.Pfx.load(data)
    mac_data = pfx["mac_data"]
    name = mac_data["mac"]["digest_algorithm"]["algorithm"].native
    size = hashlib.new(name).digest_size
    key = P.pkcs12_kdf(
        name, P.bmp_password(password), mac_data["mac_salt"].native, mac_data["iterations"].native, 3, size
    )
    computed = hmac.new(key, pfx["auth_safe"]["content"].native, name).digest()
    return mac_data["mac"]["digest"].native, computed


def rebuilt(data: bytes, edit, password: str = PASSWORD) -> bytes:
    """``data`` with ``edit(content_infos)`` applied to its AuthenticatedSafe, and a fresh valid MAC."""
    pfx = pkcs12.Pfx.load(data)
    safes = pkcs12.AuthenticatedSafe.load(pfx["auth_safe"]["content"].native)
    edit(safes)
    auth_safe = safes.dump(force=True)
    mac_data = P._mac_data("sha256", b"salt" * 4, 2048, P._mac("sha256", password, b"salt" * 4, 2048, auth_safe))
    return pkcs12.Pfx(
        {
            "version": "v3",
            "auth_safe": {"content_type": "data", "content": core.OctetString(auth_safe)},
            "mac_data": mac_data,
        }
    ).dump()


def key_bags_of(safes) -> pkcs12.SafeContents:
    return next(pkcs12.SafeContents.load(ci["content"].native) for ci in safes if ci["content_type"].native == "data")


def replace_data_safe(safes, bags) -> None:
    for index, ci in enumerate(safes):
        if ci["content_type"].native == "data":
            safes[index] = cms.ContentInfo({"content_type": "data", "content": core.OctetString(bags.dump(force=True))})


# ---------------------------------------------------------------------------------------------- the KDF


@needs_openssl
@pytest.mark.parametrize(
    "options, hash_name",
    [
        ([], "sha256"),
        (["-legacy"], "sha1"),
        (["-macalg", "sha512"], "sha512"),
        (["-keypbe", "PBE-SHA1-3DES", "-certpbe", "PBE-SHA1-3DES", "-macalg", "sha1"], "sha1"),
    ],
    ids=["default", "legacy", "sha512", "3des"],
)
@pytest.mark.parametrize("password", [PASSWORD, NON_ASCII], ids=["ascii", "non-ascii"])
def test_kdf_gives_the_mac_key_openssl_used(tmp_path, options, hash_name, password):
    data = openssl_export(tmp_path, options, password=password)
    assert pkcs12.Pfx.load(data)["mac_data"]["mac"]["digest_algorithm"]["algorithm"].native == hash_name
    in_file, computed = mac_of(data, password)
    assert computed == in_file
    assert mac_of(data, password + "x")[1] != in_file


@pytest.mark.parametrize(
    "encryption",
    [
        serialization.BestAvailableEncryption(PASSWORD.encode()),
        serialization.PrivateFormat.PKCS12.encryption_builder()
        .kdf_rounds(5000)
        .key_cert_algorithm(cryptography_pkcs12.PBES.PBESv1SHA1And3KeyTripleDESCBC)
        .hmac_hash(hashes.SHA1())
        .build(PASSWORD.encode()),
    ],
    ids=["best-available", "3des-builder"],
)
def test_kdf_gives_the_mac_key_cryptography_used(encryption):
    key = serialization.load_der_private_key(RSA[1][1], password=None)
    cert = x509.load_der_x509_certificate(RSA[1][0])
    data = cryptography_pkcs12.serialize_key_and_certificates(b"c", key, cert, None, encryption)
    in_file, computed = mac_of(data, PASSWORD)
    assert computed == in_file


@needs_openssl
def test_kdf_gives_the_3des_key_and_iv_openssl_used(tmp_path):
    data = openssl_export(tmp_path, ["-keypbe", "PBE-SHA1-3DES", "-certpbe", "PBE-SHA1-3DES"], password=NON_ASCII)
    safes = pkcs12.AuthenticatedSafe.load(pkcs12.Pfx.load(data)["auth_safe"]["content"].native)
    shrouded = key_bags_of(safes)[0]["bag_value"]
    params = shrouded["encryption_algorithm"]["parameters"]
    assert shrouded["encryption_algorithm"]["algorithm"].native == "pkcs12_sha1_tripledes_3key"
    secret, salt, count = P.bmp_password(NON_ASCII), params["salt"].native, params["iterations"].native
    key = P.pkcs12_kdf("sha1", secret, salt, count, 1, 24)
    iv = P.pkcs12_kdf("sha1", secret, salt, count, 2, 8)
    decryptor = Cipher(TripleDES(key), modes.CBC(iv)).decryptor()
    padded = decryptor.update(shrouded["encrypted_data"].native) + decryptor.finalize()
    unpadder = PKCS7(64).unpadder()
    assert unpadder.update(padded) + unpadder.finalize() == RSA[0][1]


# ---------------------------------------------------------------------------------------------- writing


@needs_openssl
@pytest.mark.parametrize(
    "profile, algorithm_lines",
    [
        (
            "modern",
            [
                "MAC: sha256, Iteration 2048",
                "PKCS7 Encrypted data: PBES2, PBKDF2, AES-256-CBC, Iteration 2048, PRF hmacWithSHA256",
                "Shrouded Keybag: PBES2, PBKDF2, AES-256-CBC, Iteration 2048, PRF hmacWithSHA256",
            ],
        ),
        (
            "compatibility",
            [
                "MAC: sha1, Iteration 2048",
                "PKCS7 Encrypted data: pbeWithSHA1And3-KeyTripleDES-CBC, Iteration 2048",
                "Shrouded Keybag: pbeWithSHA1And3-KeyTripleDES-CBC, Iteration 2048",
            ],
        ),
    ],
)
def test_openssl_lists_every_certificate_and_key_written(tmp_path, profile, algorithm_lines):
    keyless = P.PfxEntry(EC[5][0], None, "no key here")
    entries = ENTRIES + [keyless]
    path = tmp_path / "written.p12"
    path.write_bytes(P.write_pfx(entries, NON_ASCII, profile=profile))
    info, bags = openssl_info(path, NON_ASCII)
    for line in algorithm_lines:
        assert line in info
    assert info.count("Shrouded Keybag") == len(ENTRIES)
    certs = [bag for bag in bags if bag["kind"] == "CERTIFICATE"]
    keys = [bag for bag in bags if bag["kind"] == "PRIVATE KEY"]
    assert [(c["der"], c["name"]) for c in certs] == [(e.certificate_der, e.friendly_name) for e in entries]
    assert [(k["der"], k["name"]) for k in keys] == [(e.private_key_der, e.friendly_name) for e in ENTRIES]
    for entry, cert, key in zip(ENTRIES, certs, keys):
        assert cert["key_id"] == key["key_id"] == hashlib.sha1(entry.certificate_der).digest()
    assert certs[-1]["key_id"] is None


@needs_openssl
@needs_keytool
@pytest.mark.parametrize("profile", P.PROFILES)
def test_twenty_two_keys_in_one_file_open_in_openssl_and_keytool(tmp_path, profile):
    entries = ENTRIES[:2] + MANY  # RSA and EC
    path = tmp_path / "many.p12"
    path.write_bytes(P.write_pfx(entries, PASSWORD, profile=profile))
    _info, bags = openssl_info(path, PASSWORD)
    assert [bag["der"] for bag in bags if bag["kind"] == "CERTIFICATE"] == [e.certificate_der for e in entries]
    assert [bag["der"] for bag in bags if bag["kind"] == "PRIVATE KEY"] == [e.private_key_der for e in entries]
    assert keytool_list(path) == {entry.friendly_name: "PrivateKeyEntry" for entry in entries}


@needs_openssl
@needs_keytool
def test_keytool_refuses_non_ascii_passwords_on_openssls_files_as_on_ours(tmp_path):
    """Java 17 cannot take a non-ASCII PKCS#12 password, whoever wrote the file (openssl reads both)."""
    ours = tmp_path / "ours.p12"
    ours.write_bytes(P.write_pfx(ENTRIES, NON_ASCII, profile="compatibility"))
    openssls = tmp_path / "openssl.p12"
    openssls.write_bytes(
        openssl_export(
            tmp_path, ["-keypbe", "PBE-SHA1-3DES", "-certpbe", "PBE-SHA1-3DES", "-macalg", "sha1"], password=NON_ASCII
        )
    )
    for path in (ours, openssls):
        command = ["keytool", "-list", "-storetype", "PKCS12", "-keystore", str(path), "-storepass:env", "PFX_PASSWORD"]
        done = subprocess.run(command, check=False, capture_output=True, env=env(PFX_PASSWORD=NON_ASCII))
        assert (done.returncode, done.stdout) == (
            1,
            b"keytool error: java.io.IOException: keystore password was incorrect\n",
        )


@pytest.mark.parametrize("profile", P.PROFILES)
def test_round_trip_gives_identical_der_in_order(profile):
    entries = [
        P.PfxEntry(EC[3][0], EC[3][1], "Müller 販売"),
        P.PfxEntry(RSA[0][0], None, "a certificate alone"),
        P.PfxEntry(RSA[1][0], RSA[1][1], None),
    ] + MANY[5:9]
    data = P.write_pfx(entries, NON_ASCII, profile=profile)
    assert P.read_pfx(data, NON_ASCII) == P.PfxContents(entries, 0)
    assert P.write_pfx(entries, NON_ASCII, profile=profile) != data  # fresh salts and IVs each time


def test_writer_refuses_programming_errors():
    with pytest.raises(ValueError, match="profile"):
        P.write_pfx(ENTRIES, PASSWORD, profile="fast")
    with pytest.raises(ValueError, match="given twice"):
        P.write_pfx([ENTRIES[0], ENTRIES[0]], PASSWORD)
    rsa_traditional = serialization.load_der_private_key(RSA[0][1], None).private_bytes(
        DER, serialization.PrivateFormat.TraditionalOpenSSL, NO_ENCRYPTION
    )
    with pytest.raises(ValueError, match="PKCS#8"):
        P.write_pfx([P.PfxEntry(RSA[0][0], rsa_traditional, "x")], PASSWORD)


# ---------------------------------------------------------------------------------------------- reading


@needs_openssl
@pytest.mark.parametrize(
    "options",
    [
        [],
        ["-legacy"],
        ["-keypbe", "PBE-SHA1-3DES", "-certpbe", "PBE-SHA1-3DES", "-macalg", "sha1"],
        ["-keypbe", "PBE-SHA1-2DES", "-certpbe", "PBE-SHA1-2DES"],
        ["-keypbe", "AES-128-CBC", "-certpbe", "DES-EDE3-CBC"],
        ["-certpbe", "NONE"],
        ["-keypbe", "NONE", "-certpbe", "NONE"],
        ["-nomac"],
    ],
    ids=[
        "default",
        "legacy",
        "windows-3des",
        "2-key-3des",
        "pbes2-aes128-3des",
        "certpbe-none",
        "nothing-encrypted",
        "nomac",
    ],
)
@pytest.mark.parametrize("password", [PASSWORD, NON_ASCII], ids=["ascii", "non-ascii"])
def test_reads_openssl_exports(tmp_path, options, password):
    data = openssl_export(tmp_path, options, password=password, extra=[EC[0][0], EC[1][0]])
    contents = P.read_pfx(data, password)
    assert contents == P.PfxContents(
        [
            P.PfxEntry(RSA[0][0], RSA[0][1], "from openssl"),
            P.PfxEntry(EC[0][0], None, None),
            P.PfxEntry(EC[1][0], None, None),
        ],
        0,
    )


@needs_openssl
def test_reads_a_key_without_certificate_and_a_certificate_without_key(tmp_path):
    no_certs = openssl_export(tmp_path, ["-nocerts"])
    assert P.read_pfx(no_certs, PASSWORD) == P.PfxContents([], 1)
    no_keys = openssl_export(tmp_path, ["-nokeys"])
    assert P.read_pfx(no_keys, PASSWORD) == P.PfxContents([P.PfxEntry(RSA[0][0], None, None)], 0)


@needs_keytool
def test_reads_keytool_genkeypair(tmp_path):
    path = tmp_path / "keytool.p12"
    for alias, algorithm in (
        ("server rsa", ["-keyalg", "RSA", "-keysize", "2048"]),
        ("server ec", ["-keyalg", "EC", "-groupname", "secp256r1"]),
    ):
        keytool(
            "-genkeypair",
            "-storetype",
            "PKCS12",
            "-keystore",
            str(path),
            "-storepass:env",
            "PFX_PASSWORD",
            "-keypass:env",
            "PFX_PASSWORD",
            "-alias",
            alias,
            "-dname",
            "CN=" + alias,
            "-validity",
            "30",
            *algorithm,
        )
    contents = P.read_pfx(path.read_bytes(), PASSWORD)
    assert sorted(entry.friendly_name for entry in contents.entries) == ["server ec", "server rsa"]
    assert contents.keys_without_certificate == 0
    assert_pairs_match(contents)


@needs_keytool
@pytest.mark.parametrize("legacy", [False, True], ids=["java-default", "java-legacy-rc2"])
def test_reads_twenty_keys_that_keytool_imported(tmp_path, legacy):
    ours, theirs = tmp_path / "ours.p12", tmp_path / "theirs.p12"
    ours.write_bytes(P.write_pfx(MANY, PASSWORD))
    keytool(
        *(["-J-Dkeystore.pkcs12.legacy"] if legacy else []),
        "-importkeystore",
        "-noprompt",
        "-srckeystore",
        str(ours),
        "-srcstoretype",
        "PKCS12",
        "-srcstorepass:env",
        "PFX_PASSWORD",
        "-destkeystore",
        str(theirs),
        "-deststoretype",
        "PKCS12",
        "-deststorepass:env",
        "PFX_PASSWORD",
    )
    data = theirs.read_bytes()
    expected = "pkcs12_sha1_rc2_40" if legacy else "pbes2"
    safes = pkcs12.AuthenticatedSafe.load(pkcs12.Pfx.load(data)["auth_safe"]["content"].native)
    assert [
        ci["content"]["encrypted_content_info"]["content_encryption_algorithm"]["algorithm"].native
        for ci in safes
        if ci["content_type"].native == "encrypted_data"
    ] == [expected]
    contents = P.read_pfx(data, PASSWORD)
    assert contents.keys_without_certificate == 0
    assert sorted((e.certificate_der, e.friendly_name) for e in contents.entries) == sorted(
        (e.certificate_der, e.friendly_name) for e in MANY
    )
    assert_pairs_match(contents)


@pytest.mark.parametrize(
    "encryption",
    [
        serialization.BestAvailableEncryption(NON_ASCII.encode()),
        serialization.PrivateFormat.PKCS12.encryption_builder()
        .key_cert_algorithm(cryptography_pkcs12.PBES.PBESv1SHA1And3KeyTripleDESCBC)
        .hmac_hash(hashes.SHA1())
        .build(NON_ASCII.encode()),
    ],
    ids=["best-available", "3des-builder"],
)
def test_reads_cryptography_serialize_key_and_certificates(encryption):
    key = serialization.load_der_private_key(RSA[1][1], password=None)
    certs = [x509.load_der_x509_certificate(der) for der in (RSA[1][0], EC[0][0], EC[1][0])]
    data = cryptography_pkcs12.serialize_key_and_certificates(
        b"from cryptography", key, certs[0], certs[1:], encryption
    )
    assert P.read_pfx(data, NON_ASCII) == P.PfxContents(
        [
            P.PfxEntry(RSA[1][0], RSA[1][1], "from cryptography"),
            P.PfxEntry(EC[0][0], None, None),
            P.PfxEntry(EC[1][0], None, None),
        ],
        0,
    )


@needs_keytool
def test_pairs_by_public_key_when_local_key_ids_are_missing(tmp_path):
    """Keys and certificates without attributes, certificates in another order; a Java EC key carries no public key."""
    java = tmp_path / "java.p12"
    keytool(
        "-genkeypair",
        "-storetype",
        "PKCS12",
        "-keystore",
        str(java),
        "-storepass:env",
        "PFX_PASSWORD",
        "-keypass:env",
        "PFX_PASSWORD",
        "-alias",
        "java ec",
        "-dname",
        "CN=java",
        "-keyalg",
        "EC",
        "-groupname",
        "secp256r1",
    )
    java_entry = P.read_pfx(java.read_bytes(), PASSWORD).entries[0]
    assert len(java_entry.private_key_der) < len(EC[0][1])  # no public key inside: derived by loading the key
    profile = P._PROFILES["modern"]
    pairs = [(RSA[0][0], RSA[0][1]), (EC[0][0], EC[0][1]), (java_entry.certificate_der, java_entry.private_key_der)]
    key_bags = [P._key_bag(P.PfxEntry(c, k, None), None, PASSWORD, profile) for c, k in pairs]
    key_bags.append(P._key_bag(P.PfxEntry(EC[1][0], EC[1][1], None), None, PASSWORD, profile))  # no certificate
    cert_bags = [P._cert_bag(P.PfxEntry(c, None, "cert %d" % i), None) for i, (c, _key) in enumerate(pairs)][::-1]
    data = P._pfx(
        [P._encrypted_safe(cert_bags, PASSWORD, profile), P._data_safe(key_bags)], PASSWORD, "sha256", 16, 2048
    )
    contents = P.read_pfx(data, PASSWORD)
    expected = [P.PfxEntry(c, k, "cert %d" % i) for i, (c, k) in enumerate(pairs)][::-1]
    assert contents == P.PfxContents(expected, 1)


# ---------------------------------------------------------------------------------------------- bad input


WRITTEN = {profile: P.write_pfx(ENTRIES, PASSWORD, profile=profile) for profile in P.PROFILES}


@pytest.mark.parametrize("profile", P.PROFILES)
def test_wrong_password(profile):
    with pytest.raises(P.Pkcs12PasswordError, match="^wrong password or damaged file") as caught:
        P.read_pfx(WRITTEN[profile], PASSWORD + "!")
    assert PASSWORD not in str(caught.value)


@needs_openssl
def test_wrong_password_on_a_file_without_mac(tmp_path):
    data = openssl_export(tmp_path, ["-nomac"])
    with pytest.raises(P.Pkcs12PasswordError, match="did not decrypt"):
        P.read_pfx(data, "another password")


@pytest.mark.parametrize("profile", P.PROFILES)
def test_flipped_mac_byte(profile):
    data = bytearray(WRITTEN[profile])
    digest = pkcs12.Pfx.load(bytes(data))["mac_data"]["mac"]["digest"].native
    at = bytes(data).rindex(digest)
    data[at + 3] ^= 0x01
    with pytest.raises(P.Pkcs12PasswordError, match=r"integrity check \(MAC\) does not match"):
        P.read_pfx(bytes(data), PASSWORD)


@pytest.mark.parametrize(
    "data, message",
    [
        (b"", "is empty"),
        (WRITTEN["modern"][:1], "not a PKCS#12"),
        (WRITTEN["modern"][:100], "not a PKCS#12"),
        (WRITTEN["modern"][:-1], "not a PKCS#12"),
        (WRITTEN["modern"] + b"\x00", "not a PKCS#12"),
        (os.urandom(4096), "not a PKCS#12"),
        (pem("CERTIFICATE", RSA[0][0]) + pem("PRIVATE KEY", RSA[0][1]), "is PEM text"),
        (RSA[0][0], "not a PKCS#12"),
        (RSA[0][1], "not a PKCS#12"),
    ],
    ids=[
        "empty",
        "one-byte",
        "truncated-100",
        "truncated-last-byte",
        "trailing-byte",
        "random",
        "pem",
        "der-cert",
        "der-key",
    ],
)
def test_not_pkcs12(data, message):
    with pytest.raises(P.Pkcs12FormatError, match=message):
        P.read_pfx(data, PASSWORD)


def test_oversize():
    with pytest.raises(P.Pkcs12FormatError, match="larger than the 67108864 bytes"):
        P.read_pfx(b"\x30" * (P.MAX_PFX_SIZE + 1), PASSWORD)


@needs_openssl
def test_damaged_files_raise_only_pkcs12_errors(tmp_path):
    """Seeded random damage to files whose parts have no MAC or encryption to stop it early."""
    sources = [
        openssl_export(tmp_path, ["-keypbe", "NONE", "-certpbe", "NONE", "-nomac"], extra=[EC[0][0]]),
        openssl_export(tmp_path, ["-nomac"], extra=[EC[0][0]]),
    ]
    rng = random.Random(7)
    outcomes = set()
    for _round in range(300):
        data = bytearray(rng.choice(sources))
        for _flip in range(rng.randint(1, 3)):
            data[rng.randrange(len(data))] = rng.randrange(256)
        cut = rng.choice([len(data), rng.randrange(len(data))])
        try:
            P.read_pfx(bytes(data[:cut]), PASSWORD)
            outcomes.add("read")
        except P.Pkcs12Error as exc:
            outcomes.add(type(exc).__name__)
    assert outcomes >= {"read", "Pkcs12FormatError", "Pkcs12PasswordError"}


def with_key_algorithm(algorithm: str, parameters=None) -> bytes:
    def edit(safes):
        bags = key_bags_of(safes)
        encryption = bags[0]["bag_value"]["encryption_algorithm"]
        encryption["algorithm"] = algorithm
        if parameters is not None:
            encryption["parameters"] = parameters
        replace_data_safe(safes, bags)

    return rebuilt(WRITTEN["modern"], edit)


def test_unknown_key_encryption_oid():
    with pytest.raises(P.Pkcs12UnsupportedError, match=r"encrypts a private key with 1\.2\.3\.4\.5, which is not"):
        P.read_pfx(with_key_algorithm("1.2.3.4.5"), PASSWORD)


def test_rc4_keys_are_unsupported():
    data = with_key_algorithm("pkcs12_sha1_rc4_128", algos.Pbes1Params({"salt": b"12345678", "iterations": 1}))
    with pytest.raises(P.Pkcs12UnsupportedError, match=r"pkcs12_sha1_rc4_128 \(1\.2\.840\.113549\.1\.12\.1\.1\)"):
        P.read_pfx(data, PASSWORD)


def test_unknown_pbes2_cipher_and_excessive_iterations():
    def cipher(safes):
        encrypted = safes[0]["content"]["encrypted_content_info"]["content_encryption_algorithm"]
        encrypted["parameters"]["encryption_scheme"]["algorithm"] = "2.16.840.1.101.3.4.1.46"  # AES-256-GCM

    with pytest.raises(P.Pkcs12UnsupportedError, match=r"encrypts certificates with aes256_gcm") as caught:
        P.read_pfx(rebuilt(WRITTEN["modern"], cipher), PASSWORD)
    assert "supported: PBES2" in str(caught.value)

    def iterations(safes):
        encrypted = safes[0]["content"]["encrypted_content_info"]["content_encryption_algorithm"]
        encrypted["parameters"]["key_derivation_func"]["parameters"]["iteration_count"] = P.MAX_ITERATIONS + 1

    with pytest.raises(P.Pkcs12UnsupportedError, match="iterations"):
        P.read_pfx(rebuilt(WRITTEN["modern"], iterations), PASSWORD)


def test_unsupported_mac_algorithm():
    pfx = pkcs12.Pfx.load(WRITTEN["modern"])
    pfx["mac_data"]["mac"]["digest_algorithm"]["algorithm"] = "md5"
    with pytest.raises(P.Pkcs12UnsupportedError, match=r"MAC algorithm 1\.2\.840\.113549\.2\.5"):
        P.read_pfx(pfx.dump(force=True), PASSWORD)


def rc2_script(paths: dict[str, Path]) -> str:
    return textwrap.dedent(
        """
        import json, sys
        from ansible_collections.passwordsecure.server.plugins.module_utils import pkcs12 as P
        password = sys.stdin.read()
        result = {}
        for name, path in %r.items():
            try:
                contents = P.read_pfx(open(path, "rb").read(), password)
                result[name] = [[e.friendly_name, e.private_key_der is not None] for e in contents.entries]
            except P.Pkcs12Error as exc:
                result[name] = "%%s: %%s" %% (type(exc).__name__, exc)
        for profile in P.PROFILES:
            written = P.write_pfx([P.PfxEntry(open(%r, "rb").read(), None, "alone")], password, profile=profile)
            result[profile] = [[e.friendly_name, e.private_key_der] for e in P.read_pfx(written, password).entries]
        from cryptography.hazmat.primitives import serialization as s
        from cryptography.hazmat.primitives.asymmetric import ec
        key = ec.generate_private_key(ec.SECP256R1())
        plain = key.private_bytes(s.Encoding.DER, s.PrivateFormat.PKCS8, s.NoEncryption())
        theirs = key.private_bytes(s.Encoding.DER, s.PrivateFormat.PKCS8, s.BestAvailableEncryption(b"a0b1c2"))
        ours = s.load_der_private_key(P.encrypt_pkcs8(plain, b"a0b1c2"), b"a0b1c2")
        result["pkcs8"] = [P.decrypt_pkcs8(theirs, b"a0b1c2") == plain,
                           ours.private_bytes(s.Encoding.DER, s.PrivateFormat.PKCS8, s.NoEncryption()) == plain]
        print(json.dumps(result))
        """
    ) % ({name: str(path) for name, path in paths.items()}, str(paths["cert"]))


def run_reader(python: str, tmp_path: Path, no_legacy: bool) -> dict:
    """Read openssl default, 3DES and -legacy files, and write both profiles, in a fresh ``python``."""
    paths = {}
    for name, options in (("default", []), ("3des", ["-descert"]), ("legacy", ["-legacy"])):
        (tmp_path / name).mkdir()
        paths[name] = tmp_path / name / "file.p12"
        paths[name].write_bytes(openssl_export(tmp_path / name, options, password=NON_ASCII))
    paths["cert"] = tmp_path / "cert.der"
    paths["cert"].write_bytes(EC[0][0])
    root = Path(P.__file__).parents[5]
    extra = {"PYTHONPATH": str(root)}
    if no_legacy:
        extra["CRYPTOGRAPHY_OPENSSL_NO_LEGACY"] = "1"
    done = subprocess.run(
        [python, "-c", rc2_script(paths)], input=NON_ASCII.encode(), check=False, capture_output=True, env=env(**extra)
    )
    assert done.returncode == 0, done.stderr.decode()
    return json.loads(done.stdout)


@needs_openssl
def test_rc2_without_openssls_legacy_provider_says_so(tmp_path):
    result = run_reader(sys.executable, tmp_path, no_legacy=True)
    assert result["default"] == result["3des"] == [["from openssl", True]]
    assert result["legacy"].startswith("Pkcs12UnsupportedError: encrypts its certificates with RC2")
    assert "legacy provider" in result["legacy"]


def debian_python() -> bool:
    probe = "import asn1crypto, cryptography"
    return (
        os.path.exists("/usr/bin/python3")
        and subprocess.run(["/usr/bin/python3", "-c", probe], check=False).returncode == 0
    )


@needs_openssl
@pytest.mark.skipif(not debian_python(), reason="/usr/bin/python3 lacks cryptography or asn1crypto")
def test_debian_python_with_cryptography_38_reads_and_writes(tmp_path):
    result = run_reader("/usr/bin/python3", tmp_path, no_legacy=False)
    assert result["default"] == result["3des"] == result["legacy"] == [["from openssl", True]]
    assert result["modern"] == result["compatibility"] == [["alone", None]]
    assert result["pkcs8"] == [True, True]


def test_pkcs8_encryption_is_what_cryptography_writes_and_reads():
    passphrase = b"a0b1c2d3" * 8  # the store's passphrases are hex text
    for _cert, key in (RSA[0], EC[0]):
        encrypted = P.encrypt_pkcs8(key, passphrase)
        loaded = serialization.load_der_private_key(encrypted, passphrase)
        assert loaded.private_bytes(DER, PKCS8, NO_ENCRYPTION) == key
        theirs = loaded.private_bytes(DER, PKCS8, serialization.BestAvailableEncryption(passphrase))
        assert P.decrypt_pkcs8(theirs, passphrase) == P.decrypt_pkcs8(encrypted, passphrase) == key
    with pytest.raises(P.Pkcs12PasswordError, match="^wrong password or damaged file"):
        P.decrypt_pkcs8(encrypted, b"a0b1c2d4" * 8)
    with pytest.raises(P.Pkcs12FormatError, match="does not parse"):
        P.decrypt_pkcs8(EC[0][1], passphrase)
    with pytest.raises(ValueError, match="PKCS#8"):
        P.encrypt_pkcs8(EC[0][0], passphrase)


def test_missing_asn1crypto_is_a_dependency_error(monkeypatch):
    monkeypatch.setattr(P, "HAS_ASN1CRYPTO", False)
    with pytest.raises(DependencyError, match="apt-get install python3-asn1crypto"):
        P.read_pfx(WRITTEN["modern"], PASSWORD)
    with pytest.raises(DependencyError, match="asn1crypto"):
        P.write_pfx(ENTRIES, PASSWORD)


# ---------------------------------------------------------------------------------------------- templates

NAMES = st.one_of(st.none(), st.text(st.characters(blacklist_categories=("Cs",)), max_size=40)).map(P._text)
BLOBS = st.binary(min_size=0, max_size=300)
SIXTEEN = st.binary(min_size=16, max_size=16)
IDS = st.one_of(st.none(), st.binary(min_size=20, max_size=20))


@settings(max_examples=150, deadline=None)
@given(SIXTEEN, SIXTEEN, BLOBS, IDS, NAMES, st.sampled_from([1, 2048, 600000]), st.sampled_from(["sha1", "sha256"]),
       st.sampled_from(["aes128_cbc", "aes256_cbc"]))
def test_a_key_bag_from_its_template_is_what_asn1crypto_builds(salt, iv, encrypted, local_key_id, name, iterations,
                                                               prf, cipher):
    values = (salt, iv, encrypted, local_key_id, name, iterations, prf, cipher)
    assert P._templated(P._pbes2_key_bag_der, *values) == P._pbes2_key_bag_der(*values)


@settings(max_examples=100, deadline=None)
@given(st.binary(min_size=8, max_size=8), BLOBS, IDS, NAMES)
def test_a_3des_key_bag_from_its_template_is_what_asn1crypto_builds(salt, encrypted, local_key_id, name):
    assert P._templated(P._3des_key_bag_der, salt, encrypted, local_key_id, name) == P._3des_key_bag_der(
        salt, encrypted, local_key_id, name)


@settings(max_examples=100, deadline=None)
@given(st.sampled_from([cert for cert, _key in RSA + EC]), IDS, NAMES)
def test_a_cert_bag_from_its_template_is_what_asn1crypto_builds(certificate, local_key_id, name):
    assert P._templated(P._cert_bag_der, certificate, local_key_id, name) == P._cert_bag_der(
        certificate, local_key_id, name)


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(list(P.PROFILES)), BLOBS, st.binary(min_size=1, max_size=3000),
       st.binary(min_size=8, max_size=8))
def test_the_outer_structures_from_their_templates_are_what_asn1crypto_builds(profile, encrypted, auth_safe, salt):
    parameters = (salt,) if profile == "compatibility" else (salt * 2, salt[::-1] * 2)
    assert P._templated(P._encrypted_safe_der, profile, encrypted, *parameters) == P._encrypted_safe_der(
        profile, encrypted, *parameters)
    digest = hashlib.sha256(auth_safe).digest()
    assert P._templated(P._pfx_der, auth_safe, "sha256", salt, 2048, digest) == P._pfx_der(
        auth_safe, "sha256", salt, 2048, digest)


def test_a_bag_is_read_from_a_template_only_where_every_other_byte_matches(monkeypatch):
    """A learned template gives each later bag its own values; a bag that differs outside the slots
    (here: its iteration count, or its name's length) is parsed instead, and decrypts with its own count."""
    monkeypatch.setattr(P, "_KNOWN", {})  # only what this test teaches
    cert, key = EC[0]
    salt, iv = os.urandom(16), os.urandom(16)
    encrypted = P._crypt("AES", P._derive_pbkdf2(PASSWORD, salt), iv, key, encrypt=True)
    first = P._pbes2_key_bag_der(salt, iv, encrypted, b"k" * 20, P._text("name one"))
    P._learn(P._pbes2_key_bag_der, [salt, iv, encrypted, b"k" * 20, P._text("name one"), 2048, "sha256",
                                    "aes256_cbc"], first)
    other_salt, other_iv, other_id = os.urandom(16), os.urandom(16), os.urandom(20)
    second = P._pbes2_key_bag_der(other_salt, other_iv, encrypted[::-1], other_id, P._text("name two"))
    build, values = P._recall(second)
    assert build is P._pbes2_key_bag_der
    assert values == [other_salt, other_iv, encrypted[::-1], other_id, "name two", 2048, "sha256", "aes256_cbc"]
    assert P._recall(P._pbes2_key_bag_der(salt, iv, encrypted, b"k" * 20, P._text("name one"), 4096)) is None
    assert P._recall(P._pbes2_key_bag_der(salt, iv, encrypted, b"k" * 20, P._text("name one!"))) is None
    assert P._recall(P._pbes2_key_bag_der(salt, iv, encrypted, b"k" * 20, P._text("name"))) is None
    # A file whose second key has another iteration count: each key decrypts with its own.
    slow = P._crypt("AES", P.PBKDF2HMAC(algorithm=hashes.SHA256(), length=32, salt=other_salt, iterations=4096)
                    .derive(PASSWORD.encode()), other_iv, EC[1][1], encrypt=True)
    local_ids = [hashlib.sha1(EC[0][0]).digest(), hashlib.sha1(EC[1][0]).digest()]
    key_bags = [pkcs12.SafeBag.load(P._pbes2_key_bag_der(salt, iv, encrypted, local_ids[0], P._text("a"))),
                pkcs12.SafeBag.load(P._pbes2_key_bag_der(other_salt, other_iv, slow, local_ids[1], P._text("b"),
                                                         4096))]
    cert_bags = [P._cert_bag(P.PfxEntry(c, None, n), i) for (c, _k), n, i in zip(EC[:2], "ab", local_ids)]
    profile = P._PROFILES["modern"]
    data = P._pfx([P._encrypted_safe(cert_bags, PASSWORD, profile), P._data_safe(key_bags)], PASSWORD, "sha256", 16,
                  2048)
    assert P.read_pfx(data, PASSWORD) == P.PfxContents([P.PfxEntry(cert, key, "a"), P.PfxEntry(*EC[1], "b")], 0)


def test_a_file_of_many_keys_reads_back_with_templates_warm_and_cold(monkeypatch):
    """The same file reads the same whether the templates are known (fast path) or not (parsed)."""
    data = P.write_pfx(MANY, NON_ASCII)
    warm = P.read_pfx(data, NON_ASCII)
    monkeypatch.setattr(P, "_KNOWN", {})
    monkeypatch.setattr(P, "_TEMPLATES", {})
    assert P.read_pfx(data, NON_ASCII) == warm == P.PfxContents(MANY, 0)
    assert P._KNOWN  # the cold read learned the templates again
    monkeypatch.setattr(P, "_MAX_TEMPLATES", 0)  # no template at all: every bag built and parsed
    monkeypatch.setattr(P, "_KNOWN", {})
    monkeypatch.setattr(P, "_TEMPLATES", {})
    assert P.read_pfx(P.write_pfx(MANY, NON_ASCII), NON_ASCII) == warm
