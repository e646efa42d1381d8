"""Every module on the managed-host Pythons the distributions ship (the README's support table).

The same scenario runs as real module processes with each host Python: cryptography 3.4.8 and
asn1crypto 1.4.0 (Ubuntu 22.04), 36.0.1 (RHEL 9), Debian 12's ``/usr/bin/python3`` (38.0.4), 41.0.7
(Ubuntu 24.04), and this virtual environment's (the newest). What each run gives must be what the
newest gives: the same certificates ensured (every kind, the SSL connection certificate with its
names), the same info, the same thumbprints imported from the same files (this collection's PKCS#12
in both profiles, openssl's default, legacy (RC2) and 3DES files, your own SSL certificate with its
chain as PEM, signed with PKCS#1 v1.5 and with RSA-PSS), the same proofs, the same encrypted store, and
the same messages, word for word, for the same bad inputs (the whole bad-file corpus of
``pfx_corpus``). Besides, what each host writes must be read by the newest and by openssl.

Hosts below the floor (cryptography 3.3.2; asn1crypto 1.3.0) fail with the message that names the
host's Python, its versions and the fix. The virtual environments come from PyPI through
``old_python`` (its docstring says where they are cached); without PyPI those hosts are skipped, saying
so, and Debian's Python is skipped where it is missing.
"""

from __future__ import annotations

import base64
import datetime
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from ansible_collections.passwordsecure.server.plugins.module_utils import crypto, pkcs12, store
from ansible_collections.passwordsecure.server.plugins.module_utils.generate import generate
from ansible_collections.passwordsecure.server.plugins.module_utils.kinds import CertRef
from ansible_collections.passwordsecure.server.tests.unit.plugins.module_utils import pfx_corpus as C
from ansible_collections.passwordsecure.server.tests.unit.plugins.module_utils.pfx_corpus import (
    MADE,
    PASSWORD,
    SERVER,
    SERVER_REFS,
    STORE_PASSWORD,
    WRONG_PASSWORD,
)
from ansible_collections.passwordsecure.server.tests.unit.plugins.modules import module_process, old_python

OWN_KEY_PASSWORD = "Own-Key-Passphrase-3317"
SECRETS = (PASSWORD, WRONG_PASSWORD, STORE_PASSWORD, OWN_KEY_PASSWORD)
NAMES = ["psr1.example.com", "192.0.2.10"]
SSL = CertRef("ssl", None)
EVERY_KIND = [
    {"kind": "database", "identity": "sales"},
    {"kind": "database", "identity": "hr"},
    {"kind": "master_key", "identity": "corp.example.com"},
    {"kind": "discovery_service", "identity": "network-scan"},
    {"kind": "password_reset", "identity": "self-service"},
    {"kind": "server_encryption"},
    {"kind": "ssl", "names": NAMES},
]
# Fields that differ between two generations of the same certificate (new key, new serial, this second).
GENERATED_ANEW = ("thumbprint", "sha256", "serial_number", "not_before")
OPENSSL_STYLES = {
    "openssl-default.pfx": [],
    "openssl-legacy.pfx": ["-legacy"],
    "openssl-3des.pfx": ["-keypbe", "PBE-SHA1-3DES", "-certpbe", "PBE-SHA1-3DES", "-macalg", "sha1"],
}


# --------------------------------------------------------------------------- the host Pythons


def _host(name: str) -> str:
    """The Python of host ``name``; skips only where it can't be had here (no PyPI, no Debian Python)."""
    if name == "newest":
        return sys.executable
    if name == "debian":
        if not os.access(old_python.PYTHON, os.X_OK) or subprocess.run(
                [old_python.PYTHON, "-c", "import asn1crypto, cryptography"], capture_output=True,
                env=old_python.environment_free(), check=False).returncode != 0:
            pytest.skip("no %s with python3-cryptography and python3-asn1crypto (Debian 12's)" % old_python.PYTHON)
        return old_python.PYTHON
    host = next(h for h in old_python.HOSTS + old_python.BELOW_FLOOR if h.name == name)
    try:
        return old_python.venv_python(host.pins)
    except old_python.Unreachable as exc:
        pytest.skip("PyPI can't be reached to make the virtual environment with %s (%s): %s"
                    % (" ".join(host.pins), host.shipped_by, str(exc).splitlines()[0]))


class Host:
    """Runs modules and scripts with one host Python, in its own folder."""

    def __init__(self, python: str, folder: Path):
        self.python, self.folder = python, folder
        folder.mkdir(parents=True, exist_ok=True)
        own = python == sys.executable
        # The test's own Python finds ansible and cryptography where it is; any other gets ansible-core alone.
        self.pythonpath = os.environ.get("PYTHONPATH", "") if own else old_python.ansible_only_path(folder)

    def run(self, name: str, args: dict, **options) -> module_process.Run:
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv("PYTHONPATH", self.pythonpath)
            run = module_process.run_module(self.folder, name, args, prefix=[self.python], secrets=SECRETS,
                                            **options)
        output = run.stdout + run.stderr
        assert "PRIVATE KEY" not in output and "********" not in output, output
        return run

    def ok(self, name: str, args: dict, **options) -> dict:
        run = self.run(name, args, **options)
        assert run.rc == 0 and not run.result.get("failed"), run.result.get("msg", run.stdout)
        return run.result

    def failed(self, name: str, args: dict) -> str:
        run = self.run(name, args)
        assert run.rc != 0 and run.result.get("failed"), run.result
        return run.result["msg"]

    def script(self, code: str, data) -> dict:
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in (module_process.IMPORT_ROOT, self.pythonpath)
                                                          if p))
        env.pop("PYTHONSAFEPATH", None)
        proc = subprocess.run([self.python, "-c", code], input=json.dumps(data).encode(), capture_output=True,
                              env=env, cwd=str(self.folder), timeout=600, check=False)
        assert proc.returncode == 0, proc.stderr.decode()
        return json.loads(proc.stdout)


def versions(python: str) -> tuple[str, str]:
    return old_python.versions_of(python)


# --------------------------------------------------------------------------- the inputs, made once by the newest


def _pem(der: bytes, label: str) -> bytes:
    return store.pem(der, label)


def _cert(subject: str, key, issuer=None, issuer_key=None, *, ca: bool, pss: bool = False,
          names=()) -> x509.Certificate:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Example Corp")])
    start = datetime.datetime(2024, 1, 1, tzinfo=datetime.timezone.utc)
    builder = (
        x509.CertificateBuilder().subject_name(name).issuer_name(issuer.subject if issuer else name)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(start).not_valid_after(datetime.datetime(2099, 1, 1, tzinfo=datetime.timezone.utc))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if names:
        builder = builder.add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), critical=False)
        builder = builder.add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
    options = {}
    if pss:
        options["rsa_padding"] = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32)
    return builder.sign(issuer_key or key, hashes.SHA256(), **options)


def _der(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.DER)


def _key_pem(key, password: str | None = None) -> bytes:
    encryption = (serialization.BestAvailableEncryption(password.encode()) if password
                  else serialization.NoEncryption())
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption)


def _openssl_pfx(folder: Path, name: str, cert_pem: bytes, key_pem: bytes, options: list,
                 extra_pem: bytes = b"") -> None:
    (folder / "cert.pem").write_bytes(cert_pem)
    key_file = folder / "key.pem"
    key_file.write_bytes(key_pem)
    if extra_pem:
        (folder / "extra.pem").write_bytes(extra_pem)
        options = options + ["-certfile", "extra.pem"]
    try:
        subprocess.run(["openssl", "pkcs12", "-export", "-in", "cert.pem", "-inkey", "key.pem", "-name", name,
                        "-passout", "env:PSR_PASSWORD", "-out", name] + options,
                       cwd=str(folder), env=dict(os.environ, PSR_PASSWORD=PASSWORD), check=True, capture_output=True)
    finally:
        key_file.unlink()


def _certificates_versions_read_apart(key) -> dict:
    """PKCS#12 files with certificates that cryptography's versions read differently unless ``crypto`` bridges
    them: a byte after the certificate (ignored before 35), an issuer name with a BMPString of odd length
    (UnicodeDecodeError on 36 to 41), a PrintableString holding '*' (refused by the newest only), and a
    self-signed Password Secure certificate signed with RSA-PSS (can't be checked before 41)."""
    sales = C.certificate_der(MADE[C.SALES])
    sales_key = C.key_der(MADE[C.SALES])
    unit = sales.index(b"\x0c\x05sales")  # the issuer's OU, a UTF8String (the subject's comes after it)

    def issuer_unit(tagged: bytes) -> bytes:
        return sales[:unit] + tagged + sales[unit + 7:]

    subject = C.name("psrDatabaseKey", "pss")
    start = datetime.datetime(2024, 1, 1, tzinfo=datetime.timezone.utc)
    pss = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
           .serial_number(7).not_valid_before(start).not_valid_after(start + datetime.timedelta(days=3650))
           .sign(key, hashes.SHA256(), rsa_padding=padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32)))

    def pfx(certificate: bytes, private_key: bytes) -> tuple:
        return pkcs12.write_pfx([pkcs12.PfxEntry(certificate, private_key, "case")], PASSWORD), PASSWORD

    return {
        "a certificate with a byte after it": pfx(sales + b"\x00", sales_key),
        "an issuer name with a BMPString of odd length": pfx(issuer_unit(b"\x1e\x05sales"), sales_key),
        "an issuer name with a PrintableString holding '*'": pfx(issuer_unit(b"\x13\x05sa*es"), sales_key),
        "a Password Secure certificate self-signed with RSA-PSS": pfx(_der(pss), C.pkcs8(key)),
    }


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> dict:
    """Every file a host imports, each made once: by this collection's writer, by openssl, and your own PKI."""
    folder = tmp_path_factory.mktemp("host-inputs")
    made_ssl = generate(SSL, key_size=2048, names=NAMES)
    every = [MADE[ref] for ref in SERVER_REFS]
    files = {
        "collection-modern.pfx": C.pfx(every),
        "collection-compatibility.pfx": C.pfx(every, profile="compatibility"),
        "collection-ssl.pfx": C.pfx([made_ssl]),
    }
    for name, data in files.items():
        (folder / name).write_bytes(data)
    server = MADE[SERVER]
    for name, options in OPENSSL_STYLES.items():
        _openssl_pfx(folder, name, server.certificate_pem, server.private_key_pem, options)
    # Your own SSL certificate: root -> intermediate -> leaf, once signed with PKCS#1 v1.5, once with RSA-PSS.
    keys = [rsa.generate_private_key(public_exponent=65537, key_size=2048) for _i in range(4)]
    root = _cert("Example Root CA", keys[0], ca=True)
    intermediate = _cert("Example Issuing CA", keys[1], root, keys[0], ca=True)
    leaf = _cert("psr1.example.com", keys[2], intermediate, keys[1], ca=False, names=NAMES)
    leaf_pss = _cert("psr1.example.com", keys[2], intermediate, keys[1], ca=False, names=NAMES, pss=True)
    chain = _pem(_der(intermediate), "CERTIFICATE") + _pem(_der(root), "CERTIFICATE")
    # RC2-encrypted certificates with CA certificates that have friendly names of their own (read apart by
    # cryptography before 36 unless crypto bridges it: order and names).
    _openssl_pfx(folder, "openssl-legacy-chain.pfx", server.certificate_pem, server.private_key_pem,
                 ["-legacy", "-caname", "Example Issuing CA", "-caname", "Example Root CA"], chain)
    pems = {
        "own.pem": _pem(_der(leaf), "CERTIFICATE") + chain + _key_pem(keys[2]),
        "own-pss.pem": _pem(_der(leaf_pss), "CERTIFICATE") + chain + _key_pem(keys[2]),
        "own-encrypted-key.pem": _pem(_der(leaf), "CERTIFICATE") + chain + _key_pem(keys[2], OWN_KEY_PASSWORD),
        "own-wrong-key.pem": _pem(_der(leaf), "CERTIFICATE") + chain + _key_pem(keys[3]),
        "own-no-key.pem": _pem(_der(leaf), "CERTIFICATE") + chain,
    }
    for name, data in pems.items():
        (folder / name).write_bytes(data)
    corpus = folder / "corpus"
    corpus.mkdir()
    cases = {case: (bad.data, bad.password) for case, bad in C.CORPUS.items()}
    cases.update(_certificates_versions_read_apart(keys[3]))
    for number, (data, _password) in enumerate(cases.values()):
        (corpus / ("%02d.pfx" % number)).write_bytes(data)
    return {
        "folder": folder,
        "corpus": [[case, str(corpus / ("%02d.pfx" % number)), password]
                   for number, (case, (_data, password)) in enumerate(cases.items())],
        "server_thumbprint": C.thumbprint(server),
        "every_thumbprint": sorted(C.thumbprint(made) for made in every),
        "own_thumbprints": [crypto.fingerprints(_der(cert))[0] for cert in (leaf, intermediate, root)],
        "own_pss_thumbprint": crypto.fingerprints(_der(leaf_pss))[0],
    }


# --------------------------------------------------------------------------- the scenario

# Run in the host's Python: each bad file of the corpus through the import (check mode), and the bad PEM
# files through the PEM import, the messages as the module gives them; then what read_pfx reads from the good
# files: every certificate in file order, whether its key came with it, its friendly name.
CORPUS_SCRIPT = """
import json, sys
from ansible_collections.passwordsecure.server.plugins.module_utils import crypto, pkcs12, transfer
from ansible_collections.passwordsecure.server.plugins.module_utils.errors import PasswordSecureError
task = json.load(sys.stdin)
out = {}
for case, path, password, fmt in task["cases"]:
    with open(path, "rb") as handle:
        data = handle.read()
    try:
        result = transfer.import_(task["store"], [(path, data)], password=password, fmt=fmt,
                                  kind="ssl" if fmt == "pem" else None, check_mode=True, from_files=True)
    except PasswordSecureError as exc:
        out[case] = "refused: " + str(exc)
    else:
        out[case] = "imported: " + " ".join(sorted(c["thumbprint"] for c in result["certificates"]))
for path in task["read"]:
    with open(path, "rb") as handle:
        contents = pkcs12.read_pfx(handle.read(), task["password"])
    out[path] = [[crypto.fingerprints(e.certificate_der)[0], e.private_key_der is not None, e.friendly_name]
                 for e in contents.entries]
print(json.dumps(out))
"""


def _anew(certificates: list) -> list:
    """The certificates without what a new generation changes."""
    return [{k: v for k, v in c.items() if k not in GENERATED_ANEW} for c in certificates]


def _relative(value, folder: str):
    """``value`` with the host's folder shown as <host>, so that messages compare across hosts."""
    if isinstance(value, str):
        return value.replace(folder, "<host>")
    if isinstance(value, list):
        return [_relative(v, folder) for v in value]
    if isinstance(value, dict):
        return {k: _relative(v, folder) for k, v in value.items() if k != "invocation"}
    return value


def _shape(der: bytes) -> dict:
    """What a generated certificate is made of, apart from its key and serial, as the newest reads it."""
    cert = x509.load_der_x509_certificate(der)
    return {
        "version": cert.version.name,
        "subject": cert.subject.public_bytes().hex(),
        "issuer_is_subject": cert.issuer == cert.subject,
        "signature": cert.signature_algorithm_oid.dotted_string,
        "extensions": [(e.oid.dotted_string, e.critical, None if e.oid.dotted_string == "2.5.29.14" else e.value)
                       for e in cert.extensions],
        "not_after": crypto.iso(crypto.not_valid_after(cert)),
        "key": crypto.key_description(cert.public_key()),
    }


def _store_shapes(path: Path) -> dict:
    index = store.load(str(path))
    shapes = {}
    for ref in index.records:
        parts = store.split_entry(store.read_entry(index, ref), where=ref.describe())
        shape = _shape(parts.certificate_der)
        shape["extensions"] = repr(shape["extensions"])
        shapes[ref.describe()] = shape
    return shapes


def _openssl_thumbprints(path: Path, password: str) -> list:
    """The thumbprints of the certificates openssl reads from a PKCS#12 file (an independent reader)."""
    read = subprocess.run(["openssl", "pkcs12", "-in", str(path), "-nokeys", "-passin", "env:PSR_PASSWORD"],
                          env=dict(os.environ, PSR_PASSWORD=password), capture_output=True, check=True)
    blocks = read.stdout.split(b"-----BEGIN CERTIFICATE-----")[1:]
    ders = [base64.b64decode(b"".join(b.split(b"-----END CERTIFICATE-----")[0].split())) for b in blocks]
    return sorted(crypto.fingerprints(der)[0] for der in ders)


def _thumbprints(result: dict) -> list:
    return sorted(c["thumbprint"] for c in result["certificates"])


def scenario(host: Host, inputs: dict) -> dict:
    """Every module's work with one host Python; returns what must be the same on every host, asserts the rest."""
    folder, given = host.folder, inputs["folder"]
    out = {}

    # Ensure every kind with generated keys (the SSL kind with names), then a rerun that changes nothing.
    gen = str(folder / "gen")
    ensured = host.ok("certificate", {"store_path": gen, "certificates": EVERY_KIND, "key_size": 2048})
    rerun = host.ok("certificate", {"store_path": gen, "certificates": EVERY_KIND, "key_size": 2048})
    assert ensured["changed"] and not rerun["changed"]
    assert _thumbprints(rerun) == _thumbprints(ensured)
    out["ensure"] = _anew(ensured["certificates"])
    info = host.ok("certificate_info", {"store_path": gen})
    assert _thumbprints(info) == _thumbprints(ensured)
    out["info"] = {"certificates": _anew(info["certificates"]), "counts": info["counts"]}
    out["generated_shapes"] = _store_shapes(folder / "gen")

    # Export: PKCS#12 in both profiles and PEM; openssl and the newest read what this host wrote.
    written = {}
    for profile in ("modern", "compatibility"):
        path = folder / ("export-%s.pfx" % profile)
        exported = host.ok("certificate_export", {"store_path": gen, "path": str(path), "password": PASSWORD,
                                                  "encryption": profile})
        written[profile] = path
        assert _openssl_thumbprints(path, PASSWORD) == sorted(c["thumbprint"] for c in exported["certificates"])
        out["export_" + profile] = sorted((c["kind"], c["identity"]) for c in exported["certificates"])
    pem = folder / "ssl.pem"
    host.ok("certificate_export", {"store_path": gen, "kind": "ssl", "format": "pem", "path": str(pem)})
    ssl_thumbprint = next(c["thumbprint"] for c in ensured["certificates"] if c["kind"] == "ssl")
    assert crypto.fingerprints(C.der_of(pem.read_bytes()))[0] == ssl_thumbprint
    newest = Host(sys.executable, folder / "newest-reads")
    for profile, path in written.items():
        back = newest.ok("certificate_import", {"store_path": str(newest.folder / profile), "path": str(path),
                                                "password": PASSWORD})
        assert set(_thumbprints(back)) <= set(_thumbprints(ensured)) and back["certificates"], profile

    # Import the same files: this collection's, openssl's (default, RC2 legacy, 3DES), the SSL kind.
    imp = str(folder / "imp")
    imported = {}
    for name in ["collection-modern.pfx", "collection-compatibility.pfx"] + list(OPENSSL_STYLES):
        result = host.ok("certificate_import", {"store_path": imp, "path": str(given / name), "password": PASSWORD})
        imported[name] = [(c["kind"], c["identity"], c["thumbprint"]) for c in result["certificates"]]
    result = host.ok("certificate_import", {"store_path": imp, "path": str(given / "collection-ssl.pfx"),
                                            "password": PASSWORD, "kind": "ssl"})
    imported["collection-ssl.pfx"] = [(c["kind"], c["identity"], c["thumbprint"]) for c in result["certificates"]]
    assert sorted(t for _k, _i, t in imported["collection-modern.pfx"]) == inputs["every_thumbprint"]
    assert all(entry[2] == inputs["server_thumbprint"] for name in OPENSSL_STYLES for entry in imported[name])
    out["imported"] = imported
    out["imported_info"] = _relative(host.ok("certificate_info", {"store_path": imp})["certificates"], str(folder))

    # Your own SSL certificate with its chain, from PEM (PKCS#1 v1.5 and RSA-PSS signatures).
    for name in ("own.pem", "own-pss.pem"):
        result = host.ok("certificate_import", {"store_path": str(folder / name), "path": str(given / name),
                                                "format": "pem", "kind": "ssl"})
        out[name] = _relative(result["certificates"], str(folder))
    assert out["own.pem"][0]["thumbprint"] == inputs["own_thumbprints"][0]
    assert [c["thumbprint"] for c in out["own.pem"][0]["chain"]] == inputs["own_thumbprints"][1:]
    assert out["own-pss.pem"][0]["thumbprint"] == inputs["own_pss_thumbprint"]

    # Proof: a challenge from the imported store, answered by it.
    challenges = host.ok("certificate_proof", {"mode": "challenge", "store_path": imp, "database": ["sales"]})
    answers = host.ok("certificate_proof", {"mode": "answer", "store_path": imp,
                                            "challenges": challenges["challenges"]})["answers"]
    assert [a["answer"] for a in answers] == [c["expected"] for c in challenges["challenges"]]
    out["proof"] = [(a["kind"], a["identity"], a["thumbprint"], a["error"]) for a in answers]

    # An encrypted store: ensure, export, import into another, proof across them; the newest reads it too.
    enc, enc2 = str(folder / "enc"), str(folder / "enc2")
    sales = [{"kind": "database", "identity": "sales"}]
    host.ok("certificate", {"store_path": enc, "certificates": sales, "key_size": 2048,
                            "store_password": STORE_PASSWORD})
    path = folder / "enc.pfx"
    host.ok("certificate_export", {"store_path": enc, "database": ["sales"], "path": str(path),
                                   "password": PASSWORD, "store_password": STORE_PASSWORD})
    moved = host.ok("certificate_import", {"store_path": enc2, "path": str(path), "password": PASSWORD,
                                           "store_password": STORE_PASSWORD})
    challenges = host.ok("certificate_proof", {"mode": "challenge", "store_path": enc, "database": ["sales"]})
    answers = host.ok("certificate_proof", {"mode": "answer", "store_path": enc2, "store_password": STORE_PASSWORD,
                                            "challenges": challenges["challenges"]})["answers"]
    assert [a["answer"] for a in answers] == [c["expected"] for c in challenges["challenges"]]
    newest.ok("certificate_export", {"store_path": enc, "database": ["sales"], "return_content": True,
                                     "password": PASSWORD, "store_password": STORE_PASSWORD})
    out["encrypted"] = {"moved": [(c["kind"], c["identity"]) for c in moved["certificates"]],
                        "keys_encrypted": host.ok("certificate_info", {"store_path": enc2})["keys_encrypted"]}

    # The same bad inputs give the same messages.
    errors = {
        "wrong password": host.failed("certificate_import", {"store_path": imp, "password": WRONG_PASSWORD,
                                                             "path": str(given / "collection-modern.pfx")}),
        "wrong store password": host.failed("certificate_export", {
            "store_path": enc, "return_content": True, "password": PASSWORD, "store_password": WRONG_PASSWORD}),
        "own key that is another's": host.failed("certificate_import", {
            "store_path": str(folder / "own-bad"), "path": str(given / "own-wrong-key.pem"), "format": "pem",
            "kind": "ssl"}),
        "own key with a wrong password": host.failed("certificate_import", {
            "store_path": str(folder / "own-bad"), "path": str(given / "own-encrypted-key.pem"), "format": "pem",
            "kind": "ssl", "password": "not the key's passphrase"}),
        "bad SSL name": host.failed("certificate", {"store_path": gen, "kind": "ssl", "names": ["bad name"]}),
        "damaged challenge": host.failed("certificate_proof", {
            "mode": "answer", "store_path": imp, "challenges": [{"kind": "database", "identity": "sales",
                                                                 "thumbprint": "00" * 20, "challenge": "!!"}]}),
    }
    out["errors"] = _relative(errors, str(folder))
    cases = [[case, path, password, "pkcs12"] for case, path, password in inputs["corpus"]]
    cases += [[name, str(given / name), None, "pem"] for name in ("own-no-key.pem", "own-wrong-key.pem")]
    read = [str(given / name) for name in ["collection-modern.pfx", "collection-compatibility.pfx",
                                           "openssl-legacy-chain.pfx"] + list(OPENSSL_STYLES)]
    out["corpus"] = _relative(host.script(CORPUS_SCRIPT, {"store": str(folder / "corpus-store"), "cases": cases,
                                                          "read": read, "password": PASSWORD}), str(folder))
    legacy = out["corpus"][str(given / "openssl-legacy-chain.pfx")]
    assert [name for _thumbprint, _key, name in legacy] == ["openssl-legacy-chain.pfx", "Example Issuing CA",
                                                            "Example Root CA"]
    return out


@pytest.fixture(scope="module")
def newest_outcome(inputs, tmp_path_factory) -> dict:
    return scenario(Host(sys.executable, tmp_path_factory.mktemp("host-newest")), inputs)


@pytest.mark.parametrize("name", [host.name for host in old_python.HOSTS] + ["debian"])
def test_every_module_gives_the_newest_results_on_the_host(name, inputs, newest_outcome, tmp_path):
    python = _host(name)
    cryptography_version, asn1crypto_version = versions(python)
    if name != "debian":
        assert "cryptography==%s" % cryptography_version in {h.name: h.pins for h in old_python.HOSTS}[name]
    assert cryptography_version != versions(sys.executable)[0], "the host must not be the newest"
    outcome = scenario(Host(python, tmp_path / name), inputs)
    for part in newest_outcome:
        assert outcome[part] == newest_outcome[part], "%s differs on cryptography %s, asn1crypto %s" % (
            part, cryptography_version, asn1crypto_version)


# --------------------------------------------------------------------------- below the floors


@pytest.mark.parametrize("name, module, library, floor", [
    ("cryptography-3.3.2", "certificate", "cryptography", "3.4"),
    ("cryptography-3.3.2", "certificate_proof", "cryptography", "3.4"),
    ("asn1crypto-1.3.0", "certificate_export", "asn1crypto", "1.4"),
    ("asn1crypto-1.3.0", "certificate_import", "asn1crypto", "1.4"),
])
def test_a_host_below_the_floor_is_told_its_versions_and_the_fix(name, module, library, floor, tmp_path):
    python = _host(name)
    cryptography_version, asn1crypto_version = versions(python)
    host = Host(python, tmp_path / "host")
    store_path = str(tmp_path / "store")
    args = {
        "certificate": {"store_path": store_path, "kind": "database", "identity": "sales"},
        "certificate_proof": {"mode": "challenge", "store_path": store_path},
        "certificate_export": {"store_path": store_path, "return_content": True, "password": PASSWORD},
        "certificate_import": {"store_path": store_path, "content": "AAAA", "password": PASSWORD},
    }[module]
    message = host.failed(module, args)
    found = cryptography_version if library == "cryptography" else asn1crypto_version
    assert "needs the Python library '%s' %s or newer on the managed host" % (library, floor) in message
    assert "(%s: Python %s; cryptography %s, asn1crypto %s) has %s" % (
        python, versions_python(python), cryptography_version, asn1crypto_version, found) in message
    assert "%s -m pip install '%s>=%s'" % (python, library, floor) in message
    assert "apt-get install python3-%s" % library in message  # this machine is Debian
    assert not os.path.exists(store_path)


def versions_python(python: str) -> str:
    return subprocess.run([python, "-c", "import sys; print(sys.version.split()[0])"], capture_output=True,
                          check=True).stdout.decode().strip()


def test_the_asn1crypto_floor_leaves_modules_without_pkcs12_working(tmp_path):
    host = Host(_host("asn1crypto-1.3.0"), tmp_path / "host")
    store_path = str(tmp_path / "store")
    ensured = host.ok("certificate", {"store_path": store_path, "kind": "database", "identity": "sales",
                                      "key_size": 2048})
    assert ensured["changed"]
    challenges = host.ok("certificate_proof", {"mode": "challenge", "store_path": store_path})["challenges"]
    answers = host.ok("certificate_proof", {"mode": "answer", "store_path": store_path, "challenges": challenges})
    assert [a["answer"] for a in answers["answers"]] == [c["expected"] for c in challenges]
