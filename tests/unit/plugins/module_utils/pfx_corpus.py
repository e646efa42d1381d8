"""Certificates, stores and bad PKCS#12 files for the export and import tests.

Everything is made at test time; no binary is committed. Keys and certificates are made once,
when this module is imported (ansible-test runs each test in a fork, so a wider fixture would be
made again for every test). The bad files come from this collection's own writer (``write_pfx``
takes a certificate with another certificate's key, a certificate without a key, or bytes that are
no certificate at all), from ``cryptography``'s writer as an independent one, and from surgery with
asn1crypto on the structure of a good file, with the MAC computed again where the surgery must get
past it.

Import it as ``ansible_collections.passwordsecure.server.tests.unit.plugins.module_utils.pfx_corpus``.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import hmac
import os
import random
from typing import Callable, NamedTuple

from asn1crypto import algos, cms, core, keys
from asn1crypto import pkcs12 as asn1_pkcs12
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import pkcs12 as cryptography_pkcs12
from cryptography.x509.oid import NameOID

from ansible_collections.passwordsecure.server.plugins.module_utils import pkcs12, store
from ansible_collections.passwordsecure.server.plugins.module_utils.generate import Generated, generate
from ansible_collections.passwordsecure.server.plugins.module_utils.kinds import CertRef

PASSWORD = "Export-Pässwort-2024-long"  # the PKCS#12 files' password (non-ASCII on purpose)
WRONG_PASSWORD = "Export-Pässwort-2024-lonG"
STORE_PASSWORD = "Store-Secret-Zq9-4711-xyz"
DER = serialization.Encoding.DER

# --------------------------------------------------------------------------------------------- certificates

SALES = CertRef("database", "sales")
HR = CertRef("database", "hr")
FINANCE = CertRef("database", "finance")
CORP = CertRef("master_key", "corp.example.com")
EU = CertRef("master_key", "eu.example.com")
DISCOVERY = CertRef("discovery_service", "main")
RESET = CertRef("password_reset", "self-service")
SERVER = CertRef("server_encryption", None)
# A whole server: three databases and every kind that travels with a database.
SERVER_REFS = (SALES, HR, FINANCE, CORP, EU, DISCOVERY, RESET, SERVER)
TRAVELLERS = [CORP, EU, DISCOVERY, RESET, SERVER]

MADE: dict[CertRef, Generated] = {ref: generate(ref, key_size=2048) for ref in SERVER_REFS}
# Another server's certificates for the same kind and identity: conflicts.
OTHER: dict[CertRef, Generated] = {ref: generate(ref, key_size=2048) for ref in (SALES, CORP)}
# Keys of certificates that are not the server's: somebody's own key, and a CA's.
OWN_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
CA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)


def der_of(pem: bytes) -> bytes:
    """The DER of the first PEM block in ``pem``."""
    lines = pem.decode("ascii").strip().splitlines()
    end = next(i for i, line in enumerate(lines) if line.startswith("-----END "))
    return base64.b64decode("".join(lines[1:end]))


def certificate_der(made: Generated) -> bytes:
    return der_of(made.certificate_pem)


def key_der(made: Generated) -> bytes:
    return der_of(made.private_key_pem)


def thumbprint(made: Generated) -> str:
    return made.facts["thumbprint"]


def pkcs8(key) -> bytes:
    return key.private_bytes(DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())


def entry(made: Generated, *, with_key: bool = True) -> pkcs12.PfxEntry:
    return pkcs12.PfxEntry(certificate_der(made), key_der(made) if with_key else None, made.facts["friendly_name"])


def pfx(items: list[Generated], password: str = PASSWORD, profile: str = "modern") -> bytes:
    """A good PKCS#12 file of ``items``, each with its key, written by the collection's writer."""
    return pkcs12.write_pfx([entry(made) for made in items], password, profile=profile)


def name(common_name: str, unit: str | None = None, organisation: str = "Password Secure") -> x509.Name:
    attributes = [x509.NameAttribute(NameOID.COMMON_NAME, common_name)]
    if unit is not None:
        attributes.append(x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, unit))
    attributes.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, organisation))
    return x509.Name(attributes)


def certificate(subject: x509.Name, *, key=OWN_KEY, issuer: x509.Name | None = None, signer=None) -> bytes:
    """DER of a certificate for ``key``: self-signed unless ``issuer``/``signer`` say otherwise."""
    start = datetime.datetime(2024, 1, 1, tzinfo=datetime.timezone.utc)
    built = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer or subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(datetime.datetime(9999, 12, 31, 23, 59, 59, tzinfo=datetime.timezone.utc))
        .sign(signer or key, hashes.SHA256())
    )
    return built.public_bytes(DER)


def own(subject: x509.Name, **options) -> pkcs12.PfxEntry:
    """An entry with a certificate of ``OWN_KEY`` and that key: the key always matches."""
    return pkcs12.PfxEntry(certificate(subject, **options), pkcs8(OWN_KEY), "own")


# --------------------------------------------------------------------------------------------- stores


def make_store(path: str, items: list[Generated], store_password: str | None = None) -> None:
    """A store holding ``items``, written with the store's own writer (keys encrypted with a password)."""
    with store.transaction(path) as writer:
        passphrase = None
        if store_password is not None:
            passphrase, protection = store.key_passphrase(writer.index, store_password, writes_keys=True)
            writer.set_key_protection(protection)
        for made in items:
            key_pem = made.private_key_pem
            if passphrase is not None:
                key_pem = store.pem(pkcs12.encrypt_pkcs8(key_der(made), passphrase), "ENCRYPTED PRIVATE KEY")
            writer.add(made.ref, made.facts, made.certificate_pem, key_pem)
        writer.commit()


# --------------------------------------------------------------------------------------------- surgery


def _open(data: bytes) -> list:
    """The ContentInfos of a PKCS#12 file's AuthenticatedSafe."""
    outer = asn1_pkcs12.Pfx.load(data)
    return list(asn1_pkcs12.AuthenticatedSafe.load(outer["auth_safe"]["content"].native))


def _close(safes: list, password: str, *, version: int = 3, mac_hash: str = "sha256",
           mac_iterations: int = 2048, with_mac: bool = True) -> bytes:
    """A PKCS#12 file of ``safes`` with a MAC computed for ``password`` (RFC 7292 B.2, via pkcs12_kdf)."""
    auth_safe = asn1_pkcs12.AuthenticatedSafe(safes).dump()
    document = {"version": version, "auth_safe": {"content_type": "data", "content": auth_safe}}
    if with_mac:
        salt = os.urandom(16)
        if mac_hash in ("sha1", "sha256"):
            length = hashlib.new(mac_hash).digest_size
            key = pkcs12.pkcs12_kdf(mac_hash, pkcs12.bmp_password(password), salt, min(mac_iterations, 2048), 3,
                                    length)
            digest = hmac.new(key, auth_safe, mac_hash).digest()
        else:  # an algorithm the reader does not support: the digest is never looked at
            digest = os.urandom(16)
        document["mac_data"] = {
            "mac": {"digest_algorithm": {"algorithm": mac_hash}, "digest": digest},
            "mac_salt": salt,
            "iterations": mac_iterations,
        }
    return asn1_pkcs12.Pfx(document).dump()


def _key_safe(safes: list) -> tuple[int, list]:
    """(position, bags) of the unencrypted SafeContents that holds the shrouded keys."""
    for position, info in enumerate(safes):
        if info["content_type"].native == "data":
            return position, list(asn1_pkcs12.SafeContents.load(info["content"].native))
    raise AssertionError("no key SafeContents")


def _with_key_bags(safes: list, bags: list) -> list:
    position, _old = _key_safe(safes)
    content = asn1_pkcs12.SafeContents(bags).dump()
    safes = list(safes)
    safes[position] = cms.ContentInfo({"content_type": "data", "content": core.OctetString(content)})
    return safes


def _edit_key_bag(data: bytes, edit: Callable[[dict], None]) -> bytes:
    """The file with its first shrouded key bag's EncryptedPrivateKeyInfo edited (as native-ish dicts)."""
    safes = _open(data)
    _position, bags = _key_safe(safes)
    bag = bags[0]
    value = bag["bag_value"]
    info = {"encryption_algorithm": value["encryption_algorithm"], "encrypted_data": value["encrypted_data"].native}
    edit(info)
    new_bag = asn1_pkcs12.SafeBag({"bag_id": "pkcs8_shrouded_key_bag",
                                   "bag_value": keys.EncryptedPrivateKeyInfo(info),
                                   "bag_attributes": bag["bag_attributes"]})
    return _close(_with_key_bags(safes, [new_bag] + bags[1:]), PASSWORD)


def unsupported_key_cipher(data: bytes) -> bytes:
    """The key's PBES2 cipher OID changed from AES-256-CBC to AES-256-OFB (which nothing here decrypts)."""

    def edit(info: dict) -> None:
        params = info["encryption_algorithm"]["parameters"]
        iv = params["encryption_scheme"]["parameters"].native
        scheme = algos.EncryptionAlgorithm({"algorithm": "aes256_ofb", "parameters": core.OctetString(iv)})
        info["encryption_algorithm"] = algos.EncryptionAlgorithm({
            "algorithm": "pbes2",
            "parameters": {"key_derivation_func": params["key_derivation_func"], "encryption_scheme": scheme},
        })

    return _edit_key_bag(data, edit)


def damaged_key_ciphertext(data: bytes) -> bytes:
    """A byte of the encrypted key flipped (its first block decrypts to garbage), the MAC made again."""

    def edit(info: dict) -> None:
        encrypted = bytearray(info["encrypted_data"])
        encrypted[5] ^= 0x40
        info["encrypted_data"] = bytes(encrypted)

    return _edit_key_bag(data, edit)


def unsupported_certificate_cipher(data: bytes) -> bytes:
    """The certificates' encrypted part relabelled as pbeWithMD5AndDES-CBC (PKCS#5 v1.5), the MAC made again."""
    safes = _open(data)
    for position, info in enumerate(safes):
        if info["content_type"].native == "encrypted_data":
            content = info["content"]["encrypted_content_info"]
            algorithm = algos.EncryptionAlgorithm({
                "algorithm": "pbes1_md5_des",
                "parameters": {"salt": os.urandom(8), "iterations": 2048},
            })
            encrypted = cms.EncryptedData({"version": "v0", "encrypted_content_info": {
                "content_type": "data",
                "content_encryption_algorithm": algorithm,
                "encrypted_content": content["encrypted_content"].native,
            }})
            safes[position] = cms.ContentInfo({"content_type": "encrypted_data", "content": encrypted})
    return _close(safes, PASSWORD)


def flip_mac(data: bytes) -> bytes:
    """One bit of the MAC digest flipped: the structure parses, the integrity check fails."""
    digest = asn1_pkcs12.Pfx.load(data)["mac_data"]["mac"]["digest"].native
    at = data.rindex(digest)
    damaged = bytearray(data)
    damaged[at + 3] ^= 0x01
    return bytes(damaged)


def truncate(data: bytes, keep: int) -> bytes:
    return data[:keep]


def rsa_key_with(key, **changes: int) -> bytes:
    """PKCS#8 DER of ``key`` with some of its RSA numbers changed (modulus and exponent kept)."""
    numbers = keys.PrivateKeyInfo.load(pkcs8(key))["private_key"].parsed.native
    numbers.update(changes)
    return keys.PrivateKeyInfo.wrap(keys.RSAPrivateKey(numbers), "rsa").dump()


def key_only(key) -> bytes:
    """A PKCS#12 file with a key and no certificate, written by cryptography (an independent writer)."""
    encryption = serialization.BestAvailableEncryption(PASSWORD.encode("utf-8"))
    return cryptography_pkcs12.serialize_key_and_certificates(b"orphan key", key, None, None, encryption)


def pem_text(*blocks: tuple[str, bytes]) -> bytes:
    return b"".join(store.pem(der, label) for label, der in blocks)


# --------------------------------------------------------------------------------------------- the corpus


class Case(NamedTuple):
    data: bytes
    password: str
    problem: str  # words of the message that say what is wrong
    fix: str  # words of the message that say what to do


_NOT_PKCS12 = "is not a PKCS#12 (.pfx or .p12) file, or it is truncated or damaged"
_WRONG = "wrong password or damaged file"
_GIVE_PASSWORD = "give the password the file was exported with, or export the file again"
_REEXPORT = "export the file again with AES-256"
_NO_KEY = "holds no certificate with its private key"
_OWN = "the database certificate can't be replaced by your own certificate"
_FROM_SERVER = "export that one from the server"
_REFUSED_IDENTITY = "can't be imported: the identity in its subject is refused"
_USE_SERVERS = "use one exported from the server"
_OWN_KEY_FIX = "import the certificate together with its own private key"

GOOD = pfx([MADE[SALES], MADE[CORP]])
_GOOD_COMPATIBILITY = pfx([MADE[SALES]], profile="compatibility")
_SALES_CERT = certificate_der(MADE[SALES])
_SALES_KEY = serialization.load_der_private_key(key_der(MADE[SALES]), None)
_numbers = _SALES_KEY.private_numbers()
_random = random.Random(3)  # fixed: the same garbage on every run


def _write(*entries: pkcs12.PfxEntry) -> bytes:
    return pkcs12.write_pfx(list(entries), PASSWORD)


CORPUS: dict[str, Case] = {
    # Not PKCS#12 at all, or not all of it.
    "empty": Case(b"", PASSWORD, "is empty", "give a PKCS#12 (.pfx or .p12) file"),
    "truncated to half": Case(truncate(GOOD, len(GOOD) // 2), PASSWORD, _NOT_PKCS12, "give a complete PKCS#12 file"),
    "truncated by one byte": Case(truncate(GOOD, len(GOOD) - 1), PASSWORD, _NOT_PKCS12,
                                  "give a complete PKCS#12 file"),
    "random bytes": Case(bytes(_random.getrandbits(8) for _i in range(4096)), PASSWORD, _NOT_PKCS12,
                         "give a complete PKCS#12 file"),
    "a PEM certificate": Case(pem_text(("CERTIFICATE", _SALES_CERT)), PASSWORD, "is PEM text",
                              "make one from the PEM files (openssl pkcs12 -export)"),
    "a PEM certificate and key": Case(pem_text(("CERTIFICATE", _SALES_CERT), ("PRIVATE KEY", key_der(MADE[SALES]))),
                                      PASSWORD, "is PEM text", "openssl pkcs12 -export"),
    "a DER certificate": Case(_SALES_CERT, PASSWORD, _NOT_PKCS12, "give a complete PKCS#12 file"),
    "a DER private key": Case(key_der(MADE[SALES]), PASSWORD, _NOT_PKCS12, "give a complete PKCS#12 file"),
    # Wrong password, or damage PKCS#12 can't tell from it.
    "a wrong password": Case(GOOD, WRONG_PASSWORD, _WRONG, _GIVE_PASSWORD),
    "a wrong password, 3DES profile": Case(_GOOD_COMPATIBILITY, WRONG_PASSWORD, _WRONG, _GIVE_PASSWORD),
    "a wrong password, file without MAC": Case(_close(_open(GOOD), PASSWORD, with_mac=False), WRONG_PASSWORD,
                                               _WRONG, _GIVE_PASSWORD),
    "a damaged MAC": Case(flip_mac(GOOD), PASSWORD, _WRONG + ": the integrity check (MAC) does not match",
                          _GIVE_PASSWORD),
    "a damaged key, MAC made again": Case(damaged_key_ciphertext(GOOD), PASSWORD,
                                          "holds a private key that does not parse as PKCS#8",
                                          "export the file again"),
    # What this reader does not support.
    "a key encrypted with AES-256-OFB": Case(unsupported_key_cipher(GOOD), PASSWORD,
                                             "encrypts a private key with aes256_ofb (2.16.840.1.101.3.4.1.43), "
                                             "which is not supported", _REEXPORT),
    "certificates encrypted with PBES1 MD5-DES": Case(unsupported_certificate_cipher(GOOD), PASSWORD,
                                                      "encrypts certificates with pbes1_md5_des", _REEXPORT),
    "an MD5 MAC": Case(_close(_open(GOOD), PASSWORD, mac_hash="md5"), PASSWORD,
                       "is protected by the MAC algorithm 1.2.840.113549.2.5, which is not supported", _REEXPORT),
    "a billion MAC iterations": Case(_close(_open(GOOD), PASSWORD, mac_iterations=10**9), PASSWORD,
                                     "asks for 1000000000 iterations, outside the supported", _REEXPORT),
    "PKCS#12 version 2": Case(_close(_open(GOOD), PASSWORD, version=2), PASSWORD, "only version 3 is supported",
                              _REEXPORT),
    # Keys and certificates that don't belong together.
    "a certificate without its key": Case(_write(entry(MADE[SALES], with_key=False)), PASSWORD,
                                          _NO_KEY + " (1 certificate(s) without a key)",
                                          "export it again with the keys"),
    "a key without its certificate": Case(key_only(_SALES_KEY), PASSWORD, _NO_KEY, "export it again"),
    "a PKCS#12 file holding nothing": Case(_write(), PASSWORD, _NO_KEY, "export it again"),
    "the key of another certificate": Case(
        _write(pkcs12.PfxEntry(_SALES_CERT, key_der(MADE[HR]), "mixed")), PASSWORD,
        "belongs to another certificate: its public key (modulus and exponent) is not the certificate's",
        _OWN_KEY_FIX),
    "a damaged key (CRT coefficient)": Case(
        _write(pkcs12.PfxEntry(_SALES_CERT, rsa_key_with(_SALES_KEY, coefficient=_numbers.iqmp ^ 2), "damaged")),
        PASSWORD, "is damaged: its CRT values", _OWN_KEY_FIX),
    "a certificate bag that is no X.509 certificate": Case(
        _write(pkcs12.PfxEntry(b"\x30\x03\x02\x01\x05", key_der(MADE[SALES]), "junk")), PASSWORD,
        "is not a readable X.509 certificate", "export it again from the Password Secure server"),
    # Not the server's certificates.
    "a CA-issued certificate with a Password Secure subject": Case(
        _write(own(name("psrDatabaseKey", "sales"), issuer=x509.Name(
            [x509.NameAttribute(NameOID.COMMON_NAME, "Example Issuing CA")]), signer=CA_KEY)),
        PASSWORD, _OWN + ": O=Password Secure,OU=sales,CN=psrDatabaseKey", _FROM_SERVER),
    "a self-issued certificate signed by another key": Case(
        _write(own(name("psrDatabaseKey", "sales"), signer=CA_KEY)), PASSWORD,
        _OWN, "only the certificate the Password Secure server generated can be imported"),
    "a certificate of no known kind": Case(
        _write(own(name("www.example.com", organisation="Example Ltd"))), PASSWORD,
        "CN=www.example.com (thumbprint", "export it from a Password Secure server"),
    "a Password Secure name with a foreign organisation": Case(
        _write(own(name("psrDatabaseKey", "sales", organisation="Example Ltd"))), PASSWORD,
        "is not a database certificate", "export the certificate from a Password Secure server"),
    "two certificates for the same identity": Case(
        _write(entry(MADE[SALES]), entry(MADE[CORP]), entry(OTHER[SALES])), PASSWORD,
        "holds two different certificates for the database certificate 'sales' (thumbprints %s and %s)"
        % (thumbprint(MADE[SALES]), thumbprint(OTHER[SALES])),
        "export the file again from the server that uses it"),
    "an identity with a path separator": Case(_write(own(name("psrDatabaseKey", "../../etc/cron.d/x"))), PASSWORD,
                                              "holds a path separator", _USE_SERVERS),
    "an identity with a backslash": Case(_write(own(name("psrDatabaseKey", "a\\b"))), PASSWORD,
                                         "holds a path separator", _USE_SERVERS),
    "an identity that is '..'": Case(_write(own(name("psrDatabaseKey", ".."))), PASSWORD, "holds '..'",
                                     _USE_SERVERS),
    "an identity with a NUL": Case(_write(own(name("psrDatabaseKey", "sales\x00.pem"))), PASSWORD,
                                   "holds a NUL character", _USE_SERVERS),
    "a master key domain with a path separator": Case(
        _write(own(name("Active Directory Master Key", "corp/example.com"))), PASSWORD,
        "holds a path separator", _USE_SERVERS),
    # All or nothing: good certificates and one bad one.
    "good certificates and a CA-issued one": Case(
        _write(entry(MADE[FINANCE]), entry(MADE[EU]),
               own(name("Discovery Service", "main"), issuer=x509.Name(
                   [x509.NameAttribute(NameOID.COMMON_NAME, "Example Issuing CA")]), signer=CA_KEY),
               entry(MADE[RESET])),
        PASSWORD, "the discovery service certificate can't be replaced by your own certificate", _FROM_SERVER),
}

# The cases the module test also runs as a process (a dozen and more, every family).
MODULE_CASES = [
    "empty",
    "truncated to half",
    "random bytes",
    "a PEM certificate",
    "a DER certificate",
    "a wrong password",
    "a damaged MAC",
    "a key encrypted with AES-256-OFB",
    "certificates encrypted with PBES1 MD5-DES",
    "a certificate without its key",
    "a key without its certificate",
    "the key of another certificate",
    "a CA-issued certificate with a Password Secure subject",
    "a certificate of no known kind",
    "two certificates for the same identity",
    "an identity with a path separator",
    "an identity that is '..'",
    "an identity with a NUL",
    "good certificates and a CA-issued one",
]
