"""Your own (CA-issued) SSL connection certificate, at the module_utils level.

The openssl command is the independent maker and reader: a session fixture makes a CA hierarchy with it
(root CA -> intermediate CA -> leaf with SAN DNS names and EKU serverAuth, RSA 2048), an EC P-256 leaf, an
unrelated CA, an expired and a not yet valid leaf (``openssl ca -startdate/-enddate``), a same-named impostor
intermediate (the intermediate's subject, another key), the leaf's key in every form openssl writes, and
PKCS#12 files (``openssl pkcs12 -export -certfile``). Imports go through ``transfer.import_`` into real stores;
what they wrote is read back with ``store.split_entry`` and with openssl; an export is read with
``openssl pkcs12``, verified with ``openssl verify`` and listed with keytool. Passwords reach openssl and
keytool through the environment, never argv.
"""

from __future__ import annotations

import datetime
import json
import os
import re
import shutil
import subprocess
import types
from pathlib import Path

import pytest

from ansible_collections.passwordsecure.server.plugins.module_utils import pkcs12, store, transfer
from ansible_collections.passwordsecure.server.plugins.module_utils.errors import (
    CertificateRefusedError,
    InvalidRequestError,
    StorePasswordError,
)
from ansible_collections.passwordsecure.server.plugins.module_utils.files import read_if_exists
from ansible_collections.passwordsecure.server.plugins.module_utils.kinds import CertRef
from ansible_collections.passwordsecure.server.plugins.module_utils.recognise import recognise

pytestmark = pytest.mark.skipif(shutil.which("openssl") is None, reason="the openssl command is not installed")
needs_keytool = pytest.mark.skipif(shutil.which("keytool") is None, reason="keytool (a Java runtime) is not installed")

SSL = CertRef("ssl", None)
PASSWORD = "Export-Pässwort-2026-own"  # PKCS#12 files (non-ASCII on purpose)
ASCII_PASSWORD = "Export-Password-2026-own"  # for keytool
STORE_PASSWORD = "Store-Secret-Zq9-4711-own"
KEY_PASSWORD = "Schlüssel-Passphrase-7f3"  # the leaf's encrypted PEM keys
WRONG_KEY_PASSWORD = "Schlüssel-Passphrase-7f4"
SOURCE = "/etc/pki/psr/server.pem"
ROOT_SUBJECT = "/CN=Own Test Root CA/O=Example Corp"
INT_SUBJECT = "/CN=Own Test Intermediate CA/O=Example Corp"
LEAF_SUBJECT = "/CN=psr.example.com/O=Example Corp"
LEAF_NAMES = ["psr.example.com", "psr"]
CA_EXT = "basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n"
LEAF_EXT = "subjectAltName=DNS:psr.example.com,DNS:psr\nextendedKeyUsage=serverAuth\nkeyUsage=digitalSignature," \
           "keyEncipherment\n"
CA_CONFIG = """[ca]
default_ca = d
[d]
database = db/index.txt
new_certs_dir = db
serial = db/serial
default_md = sha256
policy = p
unique_subject = no
[p]
commonName = supplied
organizationName = optional
"""


# --------------------------------------------------------------------------- openssl


def env(**values: str) -> dict:
    return dict(os.environ, LANG="C.UTF-8", LC_ALL="C.UTF-8", **values)


def openssl(*arguments: str, cwd: Path, data: bytes | None = None, **secrets: str) -> bytes:
    """openssl's stdout; ``secrets`` go to it as environment variables (for -passin/-passout env:NAME)."""
    done = subprocess.run(["openssl", *arguments], input=data, capture_output=True, cwd=cwd, env=env(**secrets),
                          check=False)
    assert done.returncode == 0, "openssl %s: %s" % (" ".join(arguments), done.stderr.decode(errors="replace"))
    return done.stdout


def pem_blocks(data: bytes, label: str = "CERTIFICATE") -> list[bytes]:
    return re.findall(rb"-----BEGIN %s-----\r?\n.*?-----END %s-----\r?\n" % (label.encode(), label.encode()),
                      data, re.S)


class Cert(types.SimpleNamespace):
    """A certificate as openssl reads it: pem, der, thumbprint (SHA-1, upper hex), subject (RFC 2253), not_after."""


def read_cert(pem: bytes, cwd: Path) -> Cert:
    der = openssl("x509", "-outform", "DER", cwd=cwd, data=pem)
    text = openssl("x509", "-noout", "-fingerprint", "-sha1", "-subject", "-issuer", "-enddate", "-nameopt",
                   "RFC2253", "-dateopt", "iso_8601", cwd=cwd, data=pem).decode("utf-8")
    fields = dict(line.split("=", 1) for line in text.splitlines())
    not_after = datetime.datetime.strptime(fields["notAfter"], "%Y-%m-%d %H:%M:%SZ")
    return Cert(pem=pem, der=der, thumbprint=fields["sha1 Fingerprint"].replace(":", "").upper(),
                subject=fields["subject"], issuer=fields["issuer"], not_after=not_after.strftime("%Y-%m-%dT%H:%M:%SZ"))


def public_key_of(pem: bytes, cwd: Path, *, certificate: bool) -> bytes:
    """The SubjectPublicKeyInfo PEM openssl reads from a certificate or from (the first key of) PEM text."""
    if certificate:
        return openssl("x509", "-noout", "-pubkey", cwd=cwd, data=pem)
    return openssl("pkey", "-pubout", cwd=cwd, data=pem)


@pytest.fixture(scope="session")
def pki(tmp_path_factory) -> types.SimpleNamespace:
    """Every certificate, key and file the tests import, made once by openssl."""
    d = tmp_path_factory.mktemp("own-pki")

    def run(*arguments: str, **secrets: str) -> bytes:
        return openssl(*arguments, cwd=d, **secrets)

    (d / "ca.ext").write_text(CA_EXT)
    (d / "leaf.ext").write_text(LEAF_EXT)
    (d / "ca.cnf").write_text(CA_CONFIG)
    (d / "db").mkdir()
    (d / "db" / "index.txt").write_text("")
    (d / "db" / "serial").write_text("1000\n")
    rsa = ["-newkey", "rsa:2048", "-nodes"]
    # root -> intermediate -> leaf
    run("req", "-x509", *rsa, "-keyout", "root.key", "-out", "root.crt", "-days", "3650", "-subj", ROOT_SUBJECT,
        "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    run("req", *rsa, "-keyout", "int.key", "-out", "int.csr", "-subj", INT_SUBJECT)
    run("x509", "-req", "-in", "int.csr", "-CA", "root.crt", "-CAkey", "root.key", "-set_serial", "2", "-days",
        "3650", "-extfile", "ca.ext", "-out", "int.crt")
    run("req", *rsa, "-keyout", "leaf.key", "-out", "leaf.csr", "-subj", LEAF_SUBJECT)
    run("x509", "-req", "-in", "leaf.csr", "-CA", "int.crt", "-CAkey", "int.key", "-set_serial", "3", "-days",
        "825", "-extfile", "leaf.ext", "-out", "leaf.crt")
    # An unrelated CA, and an impostor: the intermediate's subject with another key, issued by the same root.
    run("req", "-x509", *rsa, "-keyout", "other.key", "-out", "other.crt", "-days", "3650", "-subj",
        "/CN=Unrelated Test CA/O=Elsewhere", "-addext", "basicConstraints=critical,CA:TRUE")
    run("req", *rsa, "-keyout", "impostor.key", "-out", "impostor.csr", "-subj", INT_SUBJECT)
    run("x509", "-req", "-in", "impostor.csr", "-CA", "root.crt", "-CAkey", "root.key", "-set_serial", "4",
        "-days", "3650", "-extfile", "ca.ext", "-out", "impostor.crt")
    # The leaf's key expired and not yet valid (openssl 3.0's x509 -req has no -not_before: openssl ca does).
    for name, start, end in (("expired", "20200101000000Z", "20210101000000Z"),
                             ("future", "20900101000000Z", "20910101000000Z")):
        run("ca", "-batch", "-config", "ca.cnf", "-cert", "int.crt", "-keyfile", "int.key", "-in", "leaf.csr",
            "-extfile", "leaf.ext", "-startdate", start, "-enddate", end, "-notext", "-out", "%s.crt" % name)
    # The generated model's subject, issued by the CA; another subject, self-signed.
    run("req", "-new", "-key", "leaf.key", "-out", "psr8.csr", "-subj", "/CN=PSR8Server/O=Password Secure")
    run("x509", "-req", "-in", "psr8.csr", "-CA", "int.crt", "-CAkey", "int.key", "-set_serial", "5", "-days",
        "825", "-extfile", "leaf.ext", "-out", "psr8.crt")
    run("req", "-x509", "-key", "leaf.key", "-out", "self.crt", "-days", "825", "-subj", LEAF_SUBJECT,
        "-addext", "subjectAltName=DNS:psr.example.com", "-addext", "extendedKeyUsage=serverAuth")
    # An EC P-256 leaf.
    run("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", "ec.key")
    run("req", "-new", "-key", "ec.key", "-out", "ec.csr", "-subj", "/CN=psr-ec.example.com/O=Example Corp")
    run("x509", "-req", "-in", "ec.csr", "-CA", "int.crt", "-CAkey", "int.key", "-set_serial", "6", "-days", "825",
        "-extfile", "leaf.ext", "-out", "ec.crt")
    # The leaf's key in every form.
    keys = {
        "pkcs8": (d / "leaf.key").read_bytes(),
        "pkcs1": run("rsa", "-in", "leaf.key", "-traditional"),
        "pkcs8_encrypted": run("pkcs8", "-topk8", "-in", "leaf.key", "-v2", "aes-256-cbc", "-passout", "env:KEY_PW",
                               KEY_PW=KEY_PASSWORD),
        "legacy_encrypted": run("rsa", "-in", "leaf.key", "-aes256", "-traditional", "-passout", "env:KEY_PW",
                                KEY_PW=KEY_PASSWORD),
        "ec_pkcs8": (d / "ec.key").read_bytes(),
        "ec_sec1": run("pkey", "-in", "ec.key", "-traditional"),
    }
    # What `openssl ecparam -genkey -name prime256v1` writes: the curve's EC PARAMETERS block, then the key.
    keys["ec_with_parameters"] = run("ecparam", "-name", "prime256v1") + keys["ec_sec1"]
    cert = {name: read_cert((d / ("%s.crt" % name)).read_bytes(), d)
            for name in ("root", "int", "leaf", "other", "impostor", "expired", "future", "psr8", "self", "ec")}
    # PKCS#12: the leaf with its chain (given root first: the order is the reader's business), and without.
    (d / "chain.pem").write_bytes(cert["root"].pem + cert["int"].pem)
    run("pkcs12", "-export", "-in", "leaf.crt", "-inkey", "leaf.key", "-certfile", "chain.pem", "-out", "leaf.pfx",
        "-passout", "env:PFX_PW", PFX_PW=PASSWORD)
    run("pkcs12", "-export", "-in", "leaf.crt", "-inkey", "leaf.key", "-out", "alone.pfx", "-passout",
        "env:PFX_PW", PFX_PW=PASSWORD)
    return types.SimpleNamespace(
        dir=d, cert=cert, keys=keys, csr=(d / "leaf.csr").read_bytes(),
        other_key=(d / "other.key").read_bytes(),
        leaf_pkcs8_der=run("pkcs8", "-topk8", "-nocrypt", "-in", "leaf.key", "-outform", "DER"),
        other_pkcs8_der=run("pkcs8", "-topk8", "-nocrypt", "-in", "other.key", "-outform", "DER"),
        pfx=(d / "leaf.pfx").read_bytes(), pfx_alone=(d / "alone.pfx").read_bytes(),
    )


# --------------------------------------------------------------------------- helpers


def bundle(pki, *parts: str, key: str = "pkcs8") -> bytes:
    """PEM text of the named certificates, and the leaf's key (in form ``key``) where "key" is named."""
    return b"".join(pki.keys[key] if part == "key" else pki.cert[part].pem for part in parts)


def import_pem(store_path, data: bytes, **options) -> dict:
    options.setdefault("kind", "ssl")
    options.setdefault("password", None)
    return transfer.import_(str(store_path), [(options.pop("source", SOURCE), data)], fmt="pem", **options)


def import_pfx(store_path, data: bytes, **options) -> dict:
    options.setdefault("kind", "ssl")
    options.setdefault("password", PASSWORD)
    return transfer.import_(str(store_path), [(options.pop("source", "/etc/pki/psr/server.pfx"), data)],
                            fmt="pkcs12", **options)


def entry_parts(store_path) -> store.EntryParts:
    index = store.load(str(store_path))
    return store.split_entry(store.read_entry(index, SSL), where=SSL.describe())


def entry_file(store_path) -> bytes:
    return store.read_entry(store.load(str(store_path)), SSL)


def chain_of(pki, *names: str) -> list[dict]:
    """The chain facts a record should hold, as openssl reads the certificates."""
    return [{"subject": pki.cert[n].subject, "thumbprint": pki.cert[n].thumbprint, "not_after": pki.cert[n].not_after}
            for n in names]


def entry_files(store_path) -> list[str]:
    return sorted(os.listdir(Path(store_path) / "entries"))


def assert_own_leaf_with_chain(pki, store_path, result: dict, *, leaf: str = "leaf", chain=("int", "root"),
                               action: str = "added", encrypted: bool = False, names=None) -> None:
    """The import's result and what the store holds: the leaf, its key, its chain issuer first."""
    names = LEAF_NAMES if names is None else names
    assert result["changed"] is (action != "unchanged")
    assert result["not_imported"] == [] and result["warnings"] == []
    (summary,) = result["certificates"]
    assert summary["kind"] == "ssl" and summary["identity"] is None and summary["action"] == action
    assert summary["origin"] == "own" and summary["expired"] is False
    assert summary["thumbprint"] == pki.cert[leaf].thumbprint and summary["subject"] == pki.cert[leaf].subject
    assert summary.get("chain") == (chain_of(pki, *chain) or None)
    record = store.load(str(store_path)).records[SSL]
    assert record["origin"] == "own" and record["thumbprint"] == pki.cert[leaf].thumbprint
    assert record["issuer"] == pki.cert[leaf].issuer and record["names"] == names  # the SAN's DNS names
    assert record.get("chain") == (chain_of(pki, *chain) or None)
    parts = entry_parts(store_path)
    assert parts.certificate_der == pki.cert[leaf].der
    assert parts.chain == [pki.cert[n].der for n in chain]
    assert parts.encrypted is encrypted


def assert_refused(store_path, snapshot, call, error, *words: str) -> str:
    """``call()`` raises ``error`` whose message holds every one of ``words``, and changes nothing on disk."""
    before = snapshot(store_path)
    with pytest.raises(error) as caught:
        call()
    assert snapshot(store_path) == before
    message = str(caught.value)
    for word in words:
        assert word in message, message
    return message


def export_to(store_path, path: Path, password: str = PASSWORD) -> tuple[dict, list]:
    """transfer.export of the SSL connection certificate to ``path``, its writes applied as the module does."""
    result, writes = transfer.export(str(store_path), password=password, kind="ssl", path=str(path),
                                     read_existing=lambda p: read_if_exists(p, 1 << 26))
    for where, data in writes:
        Path(where).write_bytes(data)
    return result, writes


# --------------------------------------------------------------------------- 1. PEM with its chain


@pytest.mark.parametrize(
    "order",
    [("leaf", "int", "root", "key"), ("key", "root", "leaf", "int"), ("int", "key", "leaf", "root")],
    ids=["leaf-first", "key-first-root-before-leaf", "int-first"],
)
def test_a_pem_bundle_in_any_order_imports_with_its_chain_issuer_first(pki, tmp_path, snapshot, order):
    path = tmp_path / "store"
    result = import_pem(path, bundle(pki, *order))
    assert_own_leaf_with_chain(pki, path, result)
    assert entry_parts(path).private_key_der == pki.leaf_pkcs8_der
    # openssl reads the entry file as the leaf, then the chain, and the key that belongs to the leaf.
    content = entry_file(path)
    assert [read_cert(block, tmp_path).thumbprint for block in pem_blocks(content)] == [
        pki.cert[n].thumbprint for n in ("leaf", "int", "root")]
    assert public_key_of(content, tmp_path, certificate=False) == public_key_of(
        pki.cert["leaf"].pem, tmp_path, certificate=True)
    assert len(pem_blocks(content, "PRIVATE KEY")) == 1 and b"ENCRYPTED" not in content

    # Again, in another order: nothing changes, not a byte of the store.
    before = snapshot(path)
    index_bytes = (path / "index.json").read_bytes()
    again = import_pem(path, bundle(pki, "root", "int", "key", "leaf"))
    assert_own_leaf_with_chain(pki, path, again, action="unchanged")
    assert again["diff"] == {"before": "", "after": ""}
    assert (path / "index.json").read_bytes() == index_bytes and snapshot(path) == before


def test_check_mode_reports_the_import_and_writes_nothing(pki, tmp_path):
    path = tmp_path / "store"
    result = import_pem(path, bundle(pki, "leaf", "int", "root", "key"), check_mode=True)
    assert result["changed"] is True
    assert [(c["action"], c["origin"], c["chain"]) for c in result["certificates"]] == [
        ("added", "own", chain_of(pki, "int", "root"))]
    assert pki.cert["int"].thumbprint in result["diff"]["after"] and pki.cert["root"].thumbprint in result["diff"][
        "after"]
    assert not path.exists()


def test_openssls_own_pem_output_with_bag_attributes_and_crlf_imports(pki, tmp_path):
    # What `openssl pkcs12 -nodes` prints (Bag Attributes, subject= and issuer= lines around the blocks),
    # with Windows line ends: text outside the blocks is no block.
    text = openssl("pkcs12", "-in", "leaf.pfx", "-nodes", "-passin", "env:PFX_PW", cwd=pki.dir, PFX_PW=PASSWORD)
    assert b"Bag Attributes" in text and b"subject=" in text
    path = tmp_path / "store"
    result = import_pem(path, text.replace(b"\n", b"\r\n"))
    assert_own_leaf_with_chain(pki, path, result)
    assert entry_parts(path).private_key_der == pki.leaf_pkcs8_der


# --------------------------------------------------------------------------- 2. PKCS#12 made by openssl


def test_a_pkcs12_file_from_openssl_imports_the_same_as_pem(pki, tmp_path, snapshot):
    by_pfx, by_pem = tmp_path / "pfx", tmp_path / "pem"
    result = import_pfx(by_pfx, pki.pfx)
    assert_own_leaf_with_chain(pki, by_pfx, result)
    import_pem(by_pem, bundle(pki, "leaf", "int", "root", "key"))
    # The same record and the very same entry file (its name is its SHA-256).
    assert store.load(str(by_pfx)).records[SSL] == store.load(str(by_pem)).records[SSL]
    assert entry_files(by_pfx) == entry_files(by_pem)
    assert entry_parts(by_pfx).private_key_der == pki.leaf_pkcs8_der
    # The PEM of the same certificate after the PKCS#12: unchanged, in either format.
    before = snapshot(by_pfx)
    assert import_pem(by_pfx, bundle(pki, "key", "leaf", "int", "root"))["certificates"][0]["action"] == "unchanged"
    assert import_pfx(by_pfx, pki.pfx)["changed"] is False
    assert snapshot(by_pfx) == before


def test_your_own_certificate_in_pkcs12_without_kind_ssl_is_refused_with_a_hint_at_it(pki, tmp_path):
    # Without kind: ssl a CA-issued certificate with another subject is no Password Secure certificate.
    path = tmp_path / "store"
    with pytest.raises(CertificateRefusedError) as caught:
        import_pfx(path, pki.pfx, kind=None)
    assert "/etc/pki/psr/server.pfx" in str(caught.value) and "with kind: ssl" in str(caught.value)
    assert not path.exists()


# --------------------------------------------------------------------------- 3. key forms


@pytest.mark.parametrize(
    ("key", "password"),
    [("pkcs8", None), ("pkcs1", None), ("pkcs8_encrypted", KEY_PASSWORD), ("legacy_encrypted", KEY_PASSWORD),
     ("pkcs8", KEY_PASSWORD), ("pkcs1", WRONG_KEY_PASSWORD)],
    ids=["pkcs8", "pkcs1", "pkcs8-encrypted", "legacy-encrypted", "pkcs8-password-ignored", "pkcs1-password-ignored"],
)
def test_every_form_of_an_rsa_key_imports_as_the_same_pkcs8_key(pki, tmp_path, key, password):
    label = pem_blocks(pki.keys[key], {"pkcs8": "PRIVATE KEY", "pkcs1": "RSA PRIVATE KEY",
                                       "pkcs8_encrypted": "ENCRYPTED PRIVATE KEY",
                                       "legacy_encrypted": "RSA PRIVATE KEY"}[key])
    assert len(label) == 1  # openssl wrote the form the test is about
    assert (b"Proc-Type: 4,ENCRYPTED" in pki.keys[key]) is (key == "legacy_encrypted")
    path = tmp_path / "store"
    result = import_pem(path, bundle(pki, "leaf", "int", "root", "key", key=key), password=password)
    assert_own_leaf_with_chain(pki, path, result)
    assert entry_parts(path).private_key_der == pki.leaf_pkcs8_der


@pytest.mark.parametrize("key", ["ec_pkcs8", "ec_sec1", "ec_with_parameters"])
def test_an_ec_p256_leaf_imports_with_its_key(pki, tmp_path, key):
    path = tmp_path / "store"
    assert (b"EC PRIVATE KEY" in pki.keys[key]) is (key != "ec_pkcs8")
    assert (b"-----BEGIN EC PARAMETERS-----" in pki.keys[key]) is (key == "ec_with_parameters")
    result = import_pem(path, bundle(pki, "int", "ec", "root", "key", key=key))
    assert_own_leaf_with_chain(pki, path, result, leaf="ec")
    assert store.load(str(path)).records[SSL]["key_size"] == 256
    content = entry_file(path)
    assert public_key_of(content, tmp_path, certificate=False) == public_key_of(
        pki.cert["ec"].pem, tmp_path, certificate=True)
    assert entry_parts(path).private_key_der == openssl("pkcs8", "-topk8", "-nocrypt", "-outform", "DER",
                                                        cwd=tmp_path, data=pki.keys["ec_pkcs8"])


@pytest.mark.parametrize("key", ["pkcs8_encrypted", "legacy_encrypted"])
def test_an_encrypted_key_without_its_passphrase_is_refused_clearly(pki, tmp_path, snapshot, key):
    path = tmp_path / "store"
    data = bundle(pki, "leaf", "int", "root", "key", key=key)
    assert_refused(path, snapshot, lambda: import_pem(path, data), InvalidRequestError,
                   SOURCE + ": ", "the private key is encrypted", "give its passphrase as password")
    message = assert_refused(path, snapshot, lambda: import_pem(path, data, password=WRONG_KEY_PASSWORD),
                             InvalidRequestError, SOURCE + ": ", "does not open with the password given",
                             "give the key's passphrase as password")
    assert WRONG_KEY_PASSWORD not in message and KEY_PASSWORD not in message
    assert "Passphrase" not in message and "MII" not in message  # neither password nor key material
    assert not path.exists()


# --------------------------------------------------------------------------- 4. refusals


def _refusals(pki) -> dict:
    """name -> (PEM text, error class, words the message must hold: file, problem, fix)."""
    with_other_key = bundle(pki, "leaf", "int", "root") + pki.other_key
    return {
        "mismatched-key": (with_other_key, CertificateRefusedError, [
            "the private key belongs to none of its 3 certificate(s)", "its public key is not theirs",
            "give the key that was made together with the certificate"]),
        "unrelated-ca": (bundle(pki, "leaf", "int", "other", "root", "key"), CertificateRefusedError, [
            "the chain does not link",
            "O=Elsewhere,CN=Unrelated Test CA (thumbprint %s)" % pki.cert["other"].thumbprint,
            "issued none of its chain's certificates", "ends with the self-signed %s" % pki.cert["root"].subject,
            "Give only the CA certificates that issued the certificate"]),
        "gap-in-chain": (bundle(pki, "leaf", "root", "key"), CertificateRefusedError, [
            "the chain does not link", "issued none of its chain's certificates",
            "needs %s next, the issuer of %s" % (pki.cert["int"].subject, pki.cert["leaf"].subject)]),
        "impostor": (bundle(pki, "leaf", "impostor", "root", "key"), CertificateRefusedError, [
            "the chain does not link", "names %s as its issuer" % pki.cert["int"].subject,
            "(thumbprint %s), did not sign it" % pki.cert["impostor"].thumbprint,
            "give the CA certificate that issued it"]),
        "two-keys": (bundle(pki, "leaf", "int", "key") + pki.other_key, InvalidRequestError, [
            "holds 2 private keys", "so give one key"]),
        "no-key": (bundle(pki, "leaf", "int", "root"), InvalidRequestError, [
            "holds no private key", "add the certificate's key to the PEM", "private_key_path"]),
        "certificate-request": (bundle(pki, "leaf", "key") + pki.csr, InvalidRequestError, [
            "holds a CERTIFICATE REQUEST block, which is neither a certificate nor a private key",
            "and leave that block out"]),
        "key-only": (pki.keys["pkcs8"], InvalidRequestError, [
            "holds a private key but no certificate", "give the certificate"]),
        "no-pem": (b"psr.example.com\n", InvalidRequestError, ["holds no PEM block", "set format: pkcs12"]),
    }


REFUSALS = ["mismatched-key", "unrelated-ca", "gap-in-chain", "impostor", "two-keys", "no-key",
            "certificate-request", "key-only", "no-pem"]


@pytest.mark.parametrize("case", REFUSALS)
def test_a_refused_pem_changes_nothing_and_names_the_file_the_problem_and_a_fix(pki, tmp_path, snapshot, case):
    data, error, words = _refusals(pki)[case]
    absent = tmp_path / "absent"
    message = assert_refused(absent, snapshot, lambda: import_pem(absent, data), error, *words)
    assert message.startswith(SOURCE + ": ")
    assert not absent.exists()
    # A store holding the leaf already (without its chain) is left as it was, not a byte changed.
    held = tmp_path / "store"
    import_pem(held, bundle(pki, "leaf", "key"))
    index_bytes = (held / "index.json").read_bytes()
    assert assert_refused(held, snapshot, lambda: import_pem(held, data), error, *words) == message
    assert (held / "index.json").read_bytes() == index_bytes
    assert "MII" not in message  # no key or certificate material


def test_the_impostor_with_the_real_intermediate_is_a_stray_certificate(pki, tmp_path, snapshot):
    # The real intermediate signed the leaf; the impostor of the same name then issued nothing.
    path = tmp_path / "store"
    data = bundle(pki, "leaf", "impostor", "int", "root", "key")
    assert_refused(path, snapshot, lambda: import_pem(path, data), CertificateRefusedError, SOURCE,
                   "the chain does not link",
                   "%s (thumbprint %s)" % (pki.cert["impostor"].subject, pki.cert["impostor"].thumbprint),
                   "issued none of its chain's certificates")
    assert not path.exists()


def test_a_pkcs12_file_with_another_certificates_key_is_refused(pki, tmp_path, snapshot):
    # openssl pkcs12 -export refuses to pair a key with a certificate it does not belong to ("No cert in -in
    # file matches private key"), so this file comes from the collection's own writer.
    assert subprocess.run(["openssl", "pkcs12", "-export", "-in", "leaf.crt", "-inkey", "other.key", "-passout",
                           "env:PFX_PW", "-out", str(tmp_path / "never.pfx")], cwd=pki.dir, env=env(PFX_PW=PASSWORD),
                          capture_output=True, check=False).returncode != 0
    data = pkcs12.write_pfx([pkcs12.PfxEntry(pki.cert["leaf"].der, pki.other_pkcs8_der, None),
                             pkcs12.PfxEntry(pki.cert["int"].der, None, None)], PASSWORD)
    path = tmp_path / "store"
    message = assert_refused(path, snapshot, lambda: import_pfx(path, data, source="/srv/tls/mixed.pfx"),
                             CertificateRefusedError, "/srv/tls/mixed.pfx: ", pki.cert["leaf"].thumbprint,
                             "give the private key that was made together with the certificate")
    assert "exported again from the Password Secure server" not in message  # the fix for your own certificate
    assert not path.exists()


def test_a_pkcs12_file_whose_chain_does_not_link_is_refused(pki, tmp_path, snapshot):
    (pki.dir / "unrelated.pem").write_bytes(pki.cert["int"].pem + pki.cert["other"].pem)
    out = tmp_path / "unrelated.pfx"
    openssl("pkcs12", "-export", "-in", "leaf.crt", "-inkey", "leaf.key", "-certfile", "unrelated.pem", "-out",
            str(out), "-passout", "env:PFX_PW", cwd=pki.dir, PFX_PW=PASSWORD)
    path = tmp_path / "store"
    assert_refused(path, snapshot, lambda: import_pfx(path, out.read_bytes(), source=str(out)),
                   CertificateRefusedError, str(out) + ": ", "the chain does not link", pki.cert["other"].thumbprint)
    assert not path.exists()


def test_a_foreign_subject_without_kind_is_refused_with_a_hint_at_kind_ssl(pki, tmp_path, snapshot):
    path = tmp_path / "store"
    message = assert_refused(path, snapshot, lambda: import_pem(path, bundle(pki, "leaf", "int", "key"), kind=None),
                             CertificateRefusedError, SOURCE + ": ", "is not a Password Secure certificate",
                             pki.cert["leaf"].thumbprint,
                             "import it with kind: ssl (a file of its own) if it is your own SSL")
    assert "O=Example Corp" in message
    assert not path.exists()


# --------------------------------------------------------------------------- 5. expired, not yet valid


def test_an_expired_own_certificate_is_accepted_with_a_warning(pki, tmp_path, snapshot):
    path = tmp_path / "store"
    result = import_pem(path, bundle(pki, "expired", "int", "root", "key"))
    assert result["changed"] is True
    (summary,) = result["certificates"]
    assert summary["expired"] is True and summary["origin"] == "own" and summary["action"] == "added"
    assert summary["thumbprint"] == pki.cert["expired"].thumbprint and summary["not_after"] == "2021-01-01T00:00:00Z"
    (warning,) = result["warnings"]
    assert warning.startswith(SOURCE + ": the SSL connection certificate %s (thumbprint %s) expired on "
                              "2021-01-01T00:00:00Z" % (pki.cert["expired"].subject, pki.cert["expired"].thumbprint))
    assert "TLS clients refuse an expired certificate" in warning and "import a renewed one" in warning
    assert entry_parts(path).chain == [pki.cert["int"].der, pki.cert["root"].der]
    # Every run says so again, and changes nothing.
    before = snapshot(path)
    again = import_pem(path, bundle(pki, "expired", "int", "root", "key"))
    assert again["changed"] is False and again["warnings"] == result["warnings"]
    assert snapshot(path) == before


def test_a_not_yet_valid_own_certificate_is_accepted_with_a_warning(pki, tmp_path):
    result = import_pem(tmp_path / "store", bundle(pki, "future", "int", "key"))
    assert result["certificates"][0]["expired"] is False and result["certificates"][0]["action"] == "added"
    (warning,) = result["warnings"]
    assert "is valid only from 2090-01-01T00:00:00Z on; TLS clients refuse it until then" in warning


# --------------------------------------------------------------------------- 6. the chain changes


def test_the_same_certificate_with_another_chain_updates_the_chain(pki, tmp_path, snapshot):
    path = tmp_path / "store"
    alone = import_pem(path, bundle(pki, "leaf", "key"))
    assert_own_leaf_with_chain(pki, path, alone, chain=())
    assert "chain" not in store.load(str(path)).records[SSL]
    first_file = entry_files(path)

    # With its chain: the chain is updated, the entry file holds it, the old file is gone (nothing superseded).
    for check_mode in (True, False):
        before = snapshot(path)
        rechained = import_pfx(path, pki.pfx, check_mode=check_mode)
        assert rechained["changed"] is True
        assert [(c["action"], c["changed"]) for c in rechained["certificates"]] == [("chain_updated", True)]
        assert rechained["diff"]["before"].count("chain=") == 0
        assert "chain=%s,%s" % (pki.cert["int"].thumbprint, pki.cert["root"].thumbprint) in rechained["diff"]["after"]
        if check_mode:
            assert snapshot(path) == before
    assert_own_leaf_with_chain(pki, path, rechained, action="chain_updated")
    assert entry_files(path) != first_file and len(entry_files(path)) == 1
    assert store.load(str(path)).superseded == []
    assert entry_parts(path).private_key_der == pki.leaf_pkcs8_der

    # A shorter chain (up to the intermediate, which many servers send) is another chain too.
    shorter = import_pem(path, bundle(pki, "leaf", "int", "key"))
    assert_own_leaf_with_chain(pki, path, shorter, chain=("int",), action="chain_updated")

    # And back to the certificate alone: no chain.
    back = import_pfx(path, pki.pfx_alone)
    assert_own_leaf_with_chain(pki, path, back, chain=(), action="chain_updated")
    assert "chain" not in store.load(str(path)).records[SSL] and entry_files(path) == first_file


def test_in_a_password_store_the_chain_sits_beside_the_encrypted_key_and_an_update_needs_the_password(
        pki, tmp_path, snapshot):
    path = tmp_path / "store"
    import_pem(path, bundle(pki, "leaf", "key"), store_password=STORE_PASSWORD)
    before = snapshot(path)
    with pytest.raises(StorePasswordError, match="give store_password"):
        import_pem(path, bundle(pki, "leaf", "int", "root", "key"))
    assert snapshot(path) == before
    result = import_pem(path, bundle(pki, "leaf", "int", "root", "key"), store_password=STORE_PASSWORD)
    assert_own_leaf_with_chain(pki, path, result, action="chain_updated", encrypted=True)
    content = entry_file(path)
    assert [read_cert(block, tmp_path).thumbprint for block in pem_blocks(content)] == [
        pki.cert[n].thumbprint for n in ("leaf", "int", "root")]
    assert len(pem_blocks(content, "ENCRYPTED PRIVATE KEY")) == 1 and b"BEGIN PRIVATE KEY" not in content
    # Held as it is, the same import needs no password; the export opens the key with it.
    assert import_pem(path, bundle(pki, "root", "int", "leaf", "key"))["changed"] is False
    index = store.load(str(path))
    entries = transfer.entries_for(index, SSL, store.key_passphrase(index, STORE_PASSWORD, writes_keys=False)[0])
    assert [(e.certificate_der, e.private_key_der) for e in entries] == [
        (pki.cert["leaf"].der, pki.leaf_pkcs8_der), (pki.cert["int"].der, None), (pki.cert["root"].der, None)]


# --------------------------------------------------------------------------- 7. export


def openssl_pkcs12_certs(path: Path, *options: str) -> list[bytes]:
    out = openssl("pkcs12", "-in", str(path), "-nokeys", "-passin", "env:PFX_PW", *options, cwd=path.parent,
                  PFX_PW=PASSWORD)
    return pem_blocks(out)


def test_an_export_holds_the_chain_that_openssl_verifies_and_a_second_store_imports(pki, tmp_path, snapshot):
    path = tmp_path / "store"
    import_pem(path, bundle(pki, "root", "key", "int", "leaf"))
    out = tmp_path / "out" / "ssl.pfx"
    out.parent.mkdir()
    result, writes = export_to(path, out)
    assert result["changed"] is True and [w[0] for w in writes] == [str(out)]
    assert [c["thumbprint"] for c in result["certificates"]] == [pki.cert["leaf"].thumbprint]

    # openssl reads the leaf, then the intermediate, then the root, and the leaf's key.
    info = openssl("pkcs12", "-in", str(out), "-info", "-nokeys", "-passin", "env:PFX_PW", cwd=tmp_path,
                   PFX_PW=PASSWORD).decode("utf-8")
    assert re.findall(r"^subject=(.*)$", info, re.M) == [
        "CN = %s, O = Example Corp" % cn for cn in ("psr.example.com", "Own Test Intermediate CA", "Own Test Root CA")]
    leaf = openssl_pkcs12_certs(out, "-clcerts")
    cas = openssl_pkcs12_certs(out, "-cacerts")
    assert [read_cert(c, tmp_path).thumbprint for c in leaf + cas] == [
        pki.cert[n].thumbprint for n in ("leaf", "int", "root")]
    key = openssl("pkcs12", "-in", str(out), "-nocerts", "-nodes", "-passin", "env:PFX_PW", cwd=tmp_path,
                  PFX_PW=PASSWORD)
    assert public_key_of(key, tmp_path, certificate=False) == public_key_of(leaf[0], tmp_path, certificate=True)
    for name, data in (("x-leaf.pem", leaf[0]), ("x-int.pem", cas[0]), ("x-root.pem", cas[1])):
        (tmp_path / name).write_bytes(data)
    verified = openssl("verify", "-CAfile", "x-root.pem", "-untrusted", "x-int.pem", "-purpose", "sslserver",
                       "-verify_hostname", "psr.example.com", "x-leaf.pem", cwd=tmp_path)
    assert verified.strip() == b"x-leaf.pem: OK"

    # The second plan finds the file as it should be: nothing to write.
    exported = out.read_bytes()
    again, writes = export_to(path, out)
    assert again["changed"] is False and writes == [] and out.read_bytes() == exported
    # A file with the leaf and its key but without the chain is not what the export writes.
    leaf_only = pkcs12.write_pfx(transfer.entries_for(store.load(str(path)), SSL, None)[:1], PASSWORD)
    out.write_bytes(leaf_only)
    assert export_to(path, out)[0]["changed"] is True and out.read_bytes() != leaf_only
    assert transfer.holds_exactly(out.read_bytes(), PASSWORD, store.load(str(path)), [SSL]) is True

    # Imported into a second store: the same record, the same entry file.
    second = tmp_path / "second"
    imported = import_pfx(second, out.read_bytes())
    assert_own_leaf_with_chain(pki, second, imported)
    assert store.load(str(second)).records[SSL] == store.load(str(path)).records[SSL]
    assert entry_files(second) == entry_files(path)


@needs_keytool
def test_keytool_sees_one_key_entry_with_a_chain_of_three(pki, tmp_path):
    path = tmp_path / "store"
    import_pem(path, bundle(pki, "leaf", "int", "root", "key"))
    out = tmp_path / "ssl.pfx"
    export_to(path, out, password=ASCII_PASSWORD)  # Java's PBES2 takes ASCII passwords only
    done = subprocess.run(["keytool", "-list", "-v", "-storetype", "PKCS12", "-keystore", str(out), "-storepass:env",
                           "PFX_PW"], capture_output=True, env=env(PFX_PW=ASCII_PASSWORD), check=False)
    listing = done.stdout.decode("utf-8")
    assert done.returncode == 0, listing + done.stderr.decode()
    assert "Your keystore contains 1 entry" in listing
    assert re.findall(r"^Entry type: (\w+)", listing, re.M) == ["PrivateKeyEntry"]
    assert "Certificate chain length: 3" in listing


# --------------------------------------------------------------------------- 8. origin


def test_the_generated_models_subject_issued_by_a_ca_is_your_own(pki, tmp_path):
    found = recognise(pki.cert["psr8"].der, kind="ssl")
    assert found.ref == SSL and found.facts["origin"] == "own"
    assert found.facts["subject"] == pki.cert["psr8"].subject == "O=Password Secure,CN=PSR8Server"
    assert found.facts["issuer"] == pki.cert["int"].subject and found.facts["names"] == LEAF_NAMES
    assert recognise(pki.cert["psr8"].der).facts["origin"] == "own"  # the subject alone names the kind
    path = tmp_path / "store"
    result = import_pem(path, bundle(pki, "psr8", "int", "root", "key"))
    assert_own_leaf_with_chain(pki, path, result, leaf="psr8")


def test_a_self_signed_certificate_of_another_subject_with_kind_ssl_is_your_own(pki, tmp_path):
    cert = pki.cert["self"]
    assert cert.issuer == cert.subject
    path = tmp_path / "store"
    result = import_pem(path, cert.pem + pki.keys["pkcs1"])
    assert_own_leaf_with_chain(pki, path, result, leaf="self", chain=(), names=["psr.example.com"])
    assert store.load(str(path)).records[SSL]["issuer"] == cert.subject
    # A CA certificate given with a self-signed one links to nothing.
    with pytest.raises(CertificateRefusedError, match="the chain does not link"):
        import_pem(tmp_path / "other", cert.pem + pki.cert["root"].pem + pki.keys["pkcs1"])
    assert not (tmp_path / "other").exists()


def test_an_rsa_1024_own_certificate_is_accepted_with_a_warning_about_its_key(tmp_path):
    openssl("req", "-x509", "-newkey", "rsa:1024", "-nodes", "-keyout", "weak.key", "-out", "weak.crt", "-days", "30",
            "-subj", "/CN=psr.example.com", cwd=tmp_path)
    data = (tmp_path / "weak.crt").read_bytes() + (tmp_path / "weak.key").read_bytes()
    result = import_pem(tmp_path / "store", data)
    assert result["certificates"][0]["origin"] == "own" and result["changed"]
    [warning] = result["warnings"]
    assert warning.startswith(SOURCE + ": ") and "RSA key of 1024 bits" in warning and "2048" in warning
    # A 2048-bit key gives no such warning.
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ok.key", "-out", "ok.crt", "-days", "30",
            "-subj", "/CN=psr.example.com", cwd=tmp_path)
    data = (tmp_path / "ok.crt").read_bytes() + (tmp_path / "ok.key").read_bytes()
    assert import_pem(tmp_path / "other", data)["warnings"] == []


def test_an_ed25519_own_certificate_is_refused_saying_which_key_types_work(tmp_path):
    openssl("req", "-x509", "-newkey", "ed25519", "-nodes", "-keyout", "ed.key", "-out", "ed.crt", "-days", "30",
            "-subj", "/CN=psr.example.com", cwd=tmp_path)
    data = (tmp_path / "ed.crt").read_bytes() + (tmp_path / "ed.key").read_bytes()
    with pytest.raises(CertificateRefusedError) as refused:
        import_pem(tmp_path / "store", data)
    message = str(refused.value)
    assert message.startswith(SOURCE + ": ") and "Ed25519 key" in message
    assert message.endswith("use a certificate with an RSA or EC key")
    assert not (tmp_path / "store").exists()


def test_the_trust_anchor_of_your_own_certificate_is_the_root_of_its_chain(pki, tmp_path):
    """export_public(trust_anchor=True): the root CA for an own certificate with its whole chain, as openssl
    reads it; an error naming the fix when the chain stops below the root; a self-signed own one is its own."""
    path = tmp_path / "store"
    import_pem(path, bundle(pki, "leaf", "int", "root", "key"))
    result, writes = transfer.export_public(str(path), fmt="pem", kind="ssl", return_content=True, trust_anchor=True)
    assert writes == [] and read_cert(result["content"].encode("ascii"), tmp_path).der == pki.cert["root"].der
    assert result["certificates"][0]["trust_anchor"] == {"subject": pki.cert["root"].subject,
                                                         "thumbprint": pki.cert["root"].thumbprint}
    assert result["certificates"][0]["thumbprint"] == pki.cert["leaf"].thumbprint
    # Without trust_anchor, the certificate itself, as before.
    plain, _writes = transfer.export_public(str(path), fmt="pem", kind="ssl", return_content=True)
    assert read_cert(plain["content"].encode("ascii"), tmp_path).der == pki.cert["leaf"].der
    short = tmp_path / "short"
    import_pem(short, bundle(pki, "leaf", "int", "key"))
    with pytest.raises(InvalidRequestError) as refused:
        transfer.export_public(str(short), fmt="der", kind="ssl", return_content=True, trust_anchor=True)
    assert "without the root CA certificate that ends its chain" in str(refused.value)
    assert "import the certificate again with its chain up to the root" in str(refused.value)
    selfsigned = tmp_path / "self"
    import_pem(selfsigned, pki.cert["self"].pem + pki.keys["pkcs1"])
    alone, _writes = transfer.export_public(str(selfsigned), fmt="der", kind="ssl", return_content=True,
                                            trust_anchor=True)
    assert alone["certificates"][0]["trust_anchor"]["thumbprint"] == pki.cert["self"].thumbprint


# --------------------------------------------------------------------------- Debian's Python, cryptography 38

SYSTEM_CHECK = r"""
import json, sys
from ansible_collections.passwordsecure.server.plugins.module_utils import store, transfer
from ansible_collections.passwordsecure.server.plugins.module_utils.kinds import CertRef
import cryptography
args = json.load(sys.stdin)
ssl = CertRef("ssl", None)
out = {"cryptography": cryptography.__version__, "stores": []}
for name, fmt, data, password in args["imports"]:
    path = "%s/%s" % (args["dir"], name)
    result = transfer.import_(path, [(name, data.encode("latin-1"))], password=password, fmt=fmt, kind="ssl")
    again = transfer.import_(path, [(name, data.encode("latin-1"))], password=password, fmt=fmt, kind="ssl")
    index = store.load(path)
    parts = store.split_entry(store.read_entry(index, ssl), where="ssl")
    out["stores"].append({"actions": [result["certificates"][0]["action"], again["certificates"][0]["action"]],
                          "record": index.records[ssl], "file": index.records[ssl]["file"],
                          "chain": len(parts.chain)})
try:
    transfer.import_(args["dir"] + "/bad", [("bad.pem", args["impostor"].encode("latin-1"))], password=None,
                     fmt="pem", kind="ssl")
except Exception as exc:
    out["impostor"] = str(exc)
print(json.dumps(out))
"""


def system_python_has_cryptography() -> bool:
    return os.access("/usr/bin/python3", os.X_OK) and subprocess.run(
        ["/usr/bin/python3", "-c", "import cryptography, asn1crypto"], capture_output=True, check=False
    ).returncode == 0


@pytest.mark.skipif(not system_python_has_cryptography(), reason="/usr/bin/python3 has no cryptography")
def test_debians_python_imports_pem_keys_and_pkcs12_alike(pki, tmp_path):
    imports = [["pem8", "pem", bundle(pki, "leaf", "int", "root", "key", key="pkcs8_encrypted"), KEY_PASSWORD],
               ["legacy", "pem", bundle(pki, "root", "key", "leaf", "int", key="legacy_encrypted"), KEY_PASSWORD],
               ["pfx", "pkcs12", pki.pfx, PASSWORD]]
    payload = {"dir": str(tmp_path), "imports": [[n, f, d.decode("latin-1"), p] for n, f, d, p in imports],
               "impostor": bundle(pki, "leaf", "impostor", "root", "key").decode("latin-1")}
    run = subprocess.run(["/usr/bin/python3", "-c", SYSTEM_CHECK], input=json.dumps(payload).encode(),
                         capture_output=True, check=False,
                         env=dict(os.environ, PYTHONPATH=os.environ.get("PYTHONPATH", "")))
    assert run.returncode == 0, run.stderr.decode()
    out = json.loads(run.stdout)
    # What this Python's import writes, Debian's wrote: the same record and entry file, for each input.
    reference = tmp_path / "reference"
    import_pem(reference, bundle(pki, "leaf", "int", "root", "key"))
    expected = store.load(str(reference)).records[SSL]
    for made in out["stores"]:
        assert made["actions"] == ["added", "unchanged"]
        assert made["record"] == expected and made["chain"] == 2
    assert "the chain does not link" in out["impostor"] and "did not sign it" in out["impostor"]
