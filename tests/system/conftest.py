# Copyright (c) passwordsecure.server contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Helpers for the system tests (the ``tools`` fixture): run the real modules as processes, read a store
without the collection's code."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import types
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization

from ansible_collections.passwordsecure.server.plugins.module_utils import store as store_lib

REPO = Path(__file__).resolve().parents[2]
MODULES = REPO / "plugins" / "modules"
# The folder holding ansible_collections/, as the collection was imported (not resolved: it is a symlink).
COLLECTIONS_ROOT = Path(store_lib.__file__).parents[5]


def module_env() -> dict:
    return dict(os.environ, PYTHONPATH=str(COLLECTIONS_ROOT))


def write_args(path: Path, options: dict) -> Path:
    path.write_text(json.dumps({"ANSIBLE_MODULE_ARGS": dict(options, _ansible_check_mode=False)}))
    return path


def start_module(module: str, options: dict, workdir: Path, name: str) -> tuple[subprocess.Popen, Path]:
    """Start a module as its own process; its JSON result goes to ``<name>.out``."""
    args = write_args(workdir / ("%s.json" % name), options)
    out = workdir / ("%s.out" % name)
    with open(out, "wb") as stdout, open(out.with_suffix(".err"), "wb") as stderr:  # the child keeps its own
        process = subprocess.Popen(
            [sys.executable, str(MODULES / ("%s.py" % module)), str(args)], stdout=stdout, stderr=stderr,
            env=module_env(),
        )
    return process, out


def result_of(process: subprocess.Popen, out: Path, timeout: float = 300) -> dict:
    process.wait(timeout=timeout)
    text = out.read_text()
    try:
        result = json.loads(text)
    except ValueError:
        raise AssertionError("module printed no JSON (exit %s): %s %s" % (
            process.returncode, text[-2000:], out.with_suffix(".err").read_text()[-2000:])) from None
    assert process.returncode == 0 and not result.get("failed"), result.get("msg", text[-2000:])
    return result


def run_module(module: str, options: dict, workdir: Path, name: str) -> dict:
    return result_of(*start_module(module, options, workdir, name))


def ref_of(kind: str, identity: str | None) -> tuple[str, str]:
    return kind, identity or ""


def read_store(path: Path) -> dict[tuple[str, str], dict]:
    """Read a store with no help from the collection: parse index.json, hash and parse every entry file.

    Asserts what every reader may rely on: each listed file exists and hashes to its file_sha256, holds a
    certificate whose fingerprints are the index's and a private key that belongs to that certificate, and
    no certificate or file is listed twice. Returns {(kind, identity or ""): record}.
    """
    index = path / "index.json"
    if not index.exists():
        return {}
    document = json.loads(index.read_bytes())
    assert document["format"] == "passwordsecure.server/store"
    records: dict[tuple[str, str], dict] = {}
    files = set()
    for record in document["entries"]:
        ref = ref_of(record["kind"], record["identity"])
        assert ref not in records, "index lists %r twice" % (ref,)
        assert record["file"] not in files, "index names %s twice" % record["file"]
        records[ref] = record
        files.add(record["file"])
        content = (path / record["file"]).read_bytes()  # FileNotFoundError is a failure too
        assert hashlib.sha256(content).hexdigest() == record["file_sha256"], "%s does not match" % record["file"]
        assert record["file"] == "entries/%s.pem" % record["file_sha256"]
        cert = x509.load_pem_x509_certificate(content)
        der = cert.public_bytes(serialization.Encoding.DER)
        assert hashlib.sha1(der).hexdigest().upper() == record["thumbprint"]
        assert cert.fingerprint(hashes.SHA256()).hex().upper() == record["sha256"]
        assert cert.subject.rfc4514_string() == record["subject"]
        key = serialization.load_pem_private_key(content, None, unsafe_skip_rsa_key_validation=True)
        assert key.public_key().public_numbers() == cert.public_key().public_numbers(), ref
        assert key.key_size == record["key_size"]
    return records


def leftovers(path: Path) -> list[str]:
    """What a killed writer may leave: temp files, a journal, entry files that no index names."""
    if not path.exists():
        return []
    named = {os.path.basename(r["file"]) for r in read_store(path).values()}
    found = [n for n in os.listdir(path) if n.startswith(".tmp-") or n == "journal.json"]
    entries = path / "entries"
    if entries.is_dir():
        found += ["entries/" + n for n in os.listdir(entries) if n.startswith(".tmp-") or n not in named]
    return sorted(found)


def summary(records: dict) -> dict[tuple[str, str], tuple[str, str]]:
    """What must never change about a kept certificate: its thumbprint and its file."""
    return {ref: (r["thumbprint"], r["file_sha256"]) for ref, r in records.items()}


def certificates(refs) -> list[dict]:
    return [{"kind": kind, "identity": identity} if identity else {"kind": kind} for kind, identity in refs]


@pytest.fixture
def tools() -> types.SimpleNamespace:
    """The helpers above (a test module must not import conftest: pytest may hold another by that name)."""
    names = ("module_env", "write_args", "start_module", "result_of", "run_module", "ref_of", "read_store",
             "leftovers", "summary", "certificates")
    return types.SimpleNamespace(**{name: globals()[name] for name in names})
