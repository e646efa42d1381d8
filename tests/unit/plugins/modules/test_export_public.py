"""certificate_export with format pem and der: the certificates alone, for clients to trust.

The module runs as a process (module_process.run_module), on a store made with the certificate module's own
code. openssl reads every file written, as the independent witness: its fingerprint must be the store's
thumbprint, and no file or result may hold key material.
"""

from __future__ import annotations

import base64
import os
import stat
import subprocess

import pytest

from ansible_collections.passwordsecure.server.plugins.module_utils import manage, store
from ansible_collections.passwordsecure.server.plugins.module_utils.kinds import CertRef
from ansible_collections.passwordsecure.server.tests.unit.plugins.modules.module_process import run_module

NAMES = ["psr1.example.com", "psr1", "192.0.2.10"]
STORE_PASSWORD = "Store-Secret-Zq9-4711-pem"
REFS = [CertRef("ssl", None), CertRef("database", "sales"), CertRef("server_encryption", None)]


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    """A store whose keys are encrypted (so that a run reading a key would need store_password), and the
    thumbprint of each certificate."""
    path = tmp_path_factory.mktemp("public") / "store"
    manage.ensure(str(path), refs=REFS, names=NAMES, key_size=2048, store_password=STORE_PASSWORD)
    index = store.load(str(path))
    return path, {ref.kind: index.records[ref]["thumbprint"] for ref in REFS}


def openssl_fingerprints(data: bytes, fmt: str) -> list[str]:
    """The SHA-1 fingerprint of each certificate in ``data`` as openssl reads it (PEM: every block)."""
    if fmt == "der":
        blocks = [data]
    else:
        text = data.decode("ascii")
        blocks = [("-----BEGIN CERTIFICATE-----" + part).encode("ascii")
                  for part in text.split("-----BEGIN CERTIFICATE-----")[1:]]
    prints = []
    for block in blocks:
        out = subprocess.run(["openssl", "x509", "-inform", fmt.upper(), "-noout", "-fingerprint", "-sha1"],
                             input=block, capture_output=True, check=True).stdout.decode()
        prints.append(out.strip().split("=", 1)[1].replace(":", ""))
    return prints


def test_the_ssl_certificate_as_pem_then_unchanged_then_in_check_mode(tmp_path, made):
    path, thumbprints = made
    dest = tmp_path / "psr1-ssl.crt"
    args = {"store_path": str(path), "kind": "ssl", "format": "pem", "path": str(dest)}
    first = run_module(tmp_path, "certificate_export", args)
    assert first.rc == 0 and first.result["changed"] is True, first.result
    data = dest.read_bytes()
    assert openssl_fingerprints(data, "pem") == [thumbprints["ssl"]]
    assert b"PRIVATE KEY" not in data and stat.S_IMODE(dest.stat().st_mode) == 0o644
    assert [c["thumbprint"] for c in first.result["certificates"]] == [thumbprints["ssl"]]
    assert first.result["format"] == "pem" and first.result["left_out"] == []
    again = run_module(tmp_path, "certificate_export", args)
    assert again.result["changed"] is False and dest.read_bytes() == data
    dest.unlink()
    check = run_module(tmp_path, "certificate_export", args, check_mode=True)
    assert check.result["changed"] is True and not dest.exists()


def test_the_trust_anchor_of_a_generated_certificate_is_the_certificate_itself(tmp_path, made):
    path, thumbprints = made
    args = {"store_path": str(path), "kind": "ssl", "format": "pem", "return_content": True, "trust_anchor": True}
    run = run_module(tmp_path, "certificate_export", args)
    assert run.rc == 0, run.result
    assert openssl_fingerprints(run.result["content"].encode("ascii"), "pem") == [thumbprints["ssl"]]
    [summary] = run.result["certificates"]
    assert summary["trust_anchor"] == {"subject": "O=Password Secure,CN=PSR8Server", "thumbprint": thumbprints["ssl"]}


def test_der_as_content_and_a_directory_of_files_with_a_mode(tmp_path, made):
    path, thumbprints = made
    content = run_module(tmp_path, "certificate_export",
                         {"store_path": str(path), "kind": "ssl", "format": "der", "return_content": True})
    assert content.rc == 0 and content.result["changed"] is False
    assert openssl_fingerprints(base64.b64decode(content.result["content"]), "der") == [thumbprints["ssl"]]
    folder = tmp_path / "certs"
    everything = run_module(tmp_path, "certificate_export",
                            {"store_path": str(path), "format": "der", "directory": str(folder), "mode": "0640"})
    assert everything.rc == 0, everything.result
    assert sorted(os.listdir(folder)) == ["database_sales.cer", "server_encryption.cer"]
    assert openssl_fingerprints((folder / "database_sales.cer").read_bytes(), "der") == [thumbprints["database"]]
    assert stat.S_IMODE((folder / "server_encryption.cer").stat().st_mode) == 0o640
    # The SSL connection certificate stays out of a selection without kind, and the result says so.
    assert [item["kind"] for item in everything.result["left_out"]] == ["ssl"]


def test_pem_holds_several_and_content_is_the_pem_text(tmp_path, made):
    path, thumbprints = made
    run = run_module(tmp_path, "certificate_export",
                     {"store_path": str(path), "database": ["sales"], "format": "pem", "return_content": True})
    assert run.rc == 0
    text = run.result["content"]
    assert text.count("-----BEGIN CERTIFICATE-----") == 2 and "PRIVATE KEY" not in text
    assert openssl_fingerprints(text.encode("ascii"), "pem") == [thumbprints["database"],
                                                                 thumbprints["server_encryption"]]


@pytest.mark.parametrize(
    ("args", "words"),
    [
        ({"kind": "ssl", "format": "pem", "path": "x.crt", "password": "long-enough-password"},
         "password goes with format pkcs12 only"),
        ({"kind": "ssl", "format": "der", "path": "x.cer", "store_password": STORE_PASSWORD},
         "store_password goes with format pkcs12 only"),
        ({"format": "der", "path": "x.cer"}, "format der holds one certificate, and the selection has 2"),
        ({"kind": "ssl", "path": "x.pfx"}, "format is pkcs12 but all of the following are missing: password"),
        ({"kind": "ssl", "format": "p7b", "path": "x.p7b"}, "value of format must be one of: pkcs12, pem, der"),
        ({"kind": "ssl", "path": "x.pfx", "password": "long-enough-password", "trust_anchor": True},
         "trust_anchor goes with format pem or der"),
    ],
)
def test_bad_requests_fail_cleanly_and_write_nothing(tmp_path, made, args, words):
    path, _thumbprints = made
    args = dict(args, store_path=str(path))
    if "path" in args:
        args["path"] = str(tmp_path / args["path"])
    run = run_module(tmp_path, "certificate_export", args)
    assert run.rc == 1 and words in run.result["msg"], run.result
    assert not (tmp_path / args.get("path", "none")).exists()
