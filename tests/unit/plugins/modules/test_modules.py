"""The modules run as Ansible runs them: a process given an arguments file, printing one JSON result."""

from __future__ import annotations

import os
import stat
import sys

import pytest

from ansible_collections.passwordsecure.server.plugins.module_utils import manage
from ansible_collections.passwordsecure.server.plugins.module_utils.kinds import CertRef
from ansible_collections.passwordsecure.server.tests.unit.plugins.modules import module_process

PLUGINS, Run = module_process.PLUGINS, module_process.Run
assert os.path.basename(os.path.dirname(os.path.dirname(os.path.dirname(PLUGINS)))) == "ansible_collections"
PASSWORD = "Zq9-store-Sécret-4711"

# Runs a module with 'cryptography' unimportable, as on a host without the library.
WITHOUT_CRYPTOGRAPHY = r"""
import runpy, sys

class BlockCryptography:
    def find_spec(self, name, path=None, target=None):
        if name == "cryptography" or name.startswith("cryptography."):
            raise ModuleNotFoundError("No module named %r" % name, name=name)
        return None

sys.meta_path.insert(0, BlockCryptography())
sys.argv = sys.argv[1:]
runpy.run_path(sys.argv[0], run_name="__main__")
"""


def run_module(tmp_path, name: str, args: dict, *, check_mode: bool = False, diff: bool = False,
               without_cryptography: bool = False) -> Run:
    prefix = [sys.executable, "-c", WITHOUT_CRYPTOGRAPHY] if without_cryptography else None
    return module_process.run_module(tmp_path, name, args, check_mode=check_mode, diff=diff, prefix=prefix)


def summary(result: dict) -> list:
    return [(c["kind"], c["identity"], c["state"], c["changed"]) for c in result["certificates"]]


CERTIFICATES = [
    {"kind": "database", "identity": "sales"},
    {"kind": "database", "identity": "Продажи"},
    {"kind": "master_key", "identity": "Corp.Example.com"},
    {"kind": "server_encryption"},
]


def test_certificate_check_mode_real_run_rerun_and_info(tmp_path):
    store_path = tmp_path / "new" / "store"
    args = {"store_path": str(store_path), "certificates": CERTIFICATES, "key_size": 2048}

    checked = run_module(tmp_path, "certificate", args, check_mode=True, diff=True)
    assert checked.rc == 0 and checked.result["changed"] is True
    assert summary(checked.result) == [("database", "sales", "present", True),
                                       ("database", "Продажи", "present", True),
                                       ("master_key", "corp.example.com", "present", True),
                                       ("server_encryption", None, "present", True)]
    assert all(c["thumbprint"] is None for c in checked.result["certificates"])
    assert not (tmp_path / "new").exists()

    real = run_module(tmp_path, "certificate", args, diff=True)
    assert real.rc == 0 and real.result["changed"] is True
    assert summary(real.result) == summary(checked.result)
    assert real.result["removed"] == checked.result["removed"] == []
    assert all(c["thumbprint"] and c["not_after"] == "9999-12-31T23:59:59Z" for c in real.result["certificates"])
    assert "PRIVATE KEY" not in real.stdout
    assert real.result["diff"]["before"] == ""
    assert len(real.result["diff"]["after"].splitlines()) == 4
    assert stat.S_IMODE(store_path.stat().st_mode) == 0o700
    assert stat.S_IMODE((store_path / "index.json").stat().st_mode) == 0o600

    rerun = run_module(tmp_path, "certificate", args)
    assert rerun.rc == 0 and rerun.result["changed"] is False
    assert [c["thumbprint"] for c in rerun.result["certificates"]] == [
        c["thumbprint"] for c in real.result["certificates"]]

    listed = run_module(tmp_path, "certificate_info", {"store_path": str(store_path)})
    assert listed.rc == 0 and listed.result["changed"] is False
    assert listed.result["store_exists"] is True and listed.result["keys_encrypted"] is False
    assert listed.result["counts"] == {"database": 2, "master_key": 1, "discovery_service": 0,
                                       "password_reset": 0, "server_encryption": 1, "ssl": 0}
    assert all(c["names"] is None for c in listed.result["certificates"])  # names are the ssl kind's only
    made = {(c["kind"], c["identity"]): c["thumbprint"] for c in real.result["certificates"]}
    assert {(c["kind"], c["identity"]): c["thumbprint"] for c in listed.result["certificates"]} == made
    assert all(c["has_private_key"] and not c["expired"] for c in listed.result["certificates"])

    one = run_module(tmp_path, "certificate_info", {"store_path": str(store_path), "kind": "master_key",
                                                    "identity": "CORP.example.COM"}, check_mode=True)
    assert one.rc == 0
    assert [c["thumbprint"] for c in one.result["certificates"]] == [made[("master_key", "corp.example.com")]]


def test_state_absent_and_exclusive(tmp_path):
    store_path = str(tmp_path / "store")
    manage.ensure(store_path, refs=[CertRef("database", "a"), CertRef("database", "b"),
                                    CertRef("password_reset", "self-service")], key_size=2048)
    exclusive = {"store_path": store_path, "certificates": [{"kind": "database", "identity": "a"}],
                 "exclusive": True, "key_size": 2048}
    checked = run_module(tmp_path, "certificate", exclusive, check_mode=True)
    real = run_module(tmp_path, "certificate", exclusive)
    for run in (checked, real):
        assert run.rc == 0 and run.result["changed"] is True
        assert [(r["kind"], r["identity"]) for r in run.result["removed"]] == [("database", "b")]
    gone = run_module(tmp_path, "certificate", {"store_path": store_path, "kind": "password_reset",
                                                "identity": "self-service", "state": "absent"})
    assert gone.rc == 0 and summary(gone.result) == [("password_reset", "self-service", "absent", True)]
    assert [(c["kind"], c["identity"]) for c in manage.info(store_path)["certificates"]] == [("database", "a")]


@pytest.mark.parametrize(
    ("module", "args", "words"),
    [
        ("certificate", {"kind": "database", "identity": "a/b"},
         "identity 'a/b' for a database certificate holds a path"),
        ("certificate", {"kind": "server_encryption", "identity": "main"}, "has no identity"),
        ("certificate", {"kind": "database", "identity": "x", "certificates": [{"kind": "database"}]},
         "mutually exclusive"),
        ("certificate", {"certificates": [{"kind": "database", "identity": "x"}], "exclusive": True,
                         "state": "absent"}, "exclusive applies to state=present only"),
        ("certificate", {"certificates": [{"kind": "database", "identity": "x", "certificate": "PEM"}]},
         "certificate"),
        ("certificate", {"kind": "tls"}, "kind"),
        ("certificate", {"kind": "database"}, "identity is missing"),
        ("certificate", {"kind": "database", "identity": "x", "key_size": 1024}, "key_size"),
        ("certificate_info", {"identity": "sales"}, "kind"),
        ("certificate_info", {"kind": "database", "identity": "  sales"}, "white space"),
    ],
)
def test_a_user_error_is_a_clean_failure(tmp_path, module, args, words):
    store_path = tmp_path / "store"
    run = run_module(tmp_path, module, dict(args, store_path=str(store_path)))
    assert run.rc != 0
    assert run.result["failed"] is True
    assert words in run.result["msg"]
    assert not store_path.exists()


def test_a_store_path_that_is_a_file_is_a_clean_failure(tmp_path):
    path = tmp_path / "file"
    path.write_text("mine")
    for module, args in (("certificate", {"kind": "server_encryption"}), ("certificate_info", {})):
        run = run_module(tmp_path, module, dict(args, store_path=str(path)))
        assert run.result["failed"] is True and "is not a directory" in run.result["msg"]
    assert path.read_text() == "mine"


def test_the_store_password_never_shows(tmp_path):
    store_path = tmp_path / "store"
    base = {"store_path": str(store_path), "store_password": PASSWORD, "key_size": 2048}
    runs = [
        run_module(tmp_path, "certificate", dict(base, kind="database", identity="sales"), check_mode=True,
                   diff=True),
        run_module(tmp_path, "certificate", dict(base, kind="database", identity="sales"), diff=True),
        run_module(tmp_path, "certificate", dict(base, certificates=[{"kind": "database", "identity": "sales"},
                                                                     {"kind": "server_encryption"}])),
        run_module(tmp_path, "certificate", dict(base, store_password=PASSWORD + "!", kind="database",
                                                 identity="other")),
        run_module(tmp_path, "certificate", dict(base, store_password=None, kind="database", identity="other")),
        run_module(tmp_path, "certificate_info", {"store_path": str(store_path), "store_password": PASSWORD}),
    ]
    assert [r.rc == 0 for r in runs] == [True, True, True, False, False, True]
    assert "is not the password of" in runs[3].result["msg"]
    assert "give store_password" in runs[4].result["msg"]
    assert runs[5].result["keys_encrypted"] is True
    assert [c["identity"] for c in runs[5].result["certificates"]] == ["sales", None]
    for run in runs:
        assert PASSWORD not in run.stdout and PASSWORD not in run.stderr
        assert "PRIVATE KEY" not in run.stdout
    for path in store_path.rglob("*"):
        if path.is_file():
            assert PASSWORD.encode() not in path.read_bytes()
    assert manage.info(str(store_path))["counts"]["database"] == 1  # the refused runs wrote nothing


def test_without_cryptography_certificate_fails_clearly_and_info_still_lists(tmp_path, snapshot):
    store_path = tmp_path / "store"
    made = manage.ensure(str(store_path), refs=[CertRef("database", "sales")], key_size=2048)
    before = snapshot(store_path)

    refused = run_module(tmp_path, "certificate", {"store_path": str(store_path), "kind": "database",
                                                   "identity": "new", "key_size": 2048}, without_cryptography=True)
    assert refused.rc != 0 and refused.result["failed"] is True
    message = refused.result["msg"]
    assert "'cryptography'" in message and "not installed" in message
    assert "pip install" in message and "ansible_python_interpreter" in message
    assert snapshot(store_path) == before

    listed = run_module(tmp_path, "certificate_info", {"store_path": str(store_path)}, without_cryptography=True)
    assert listed.rc == 0
    assert [c["thumbprint"] for c in listed.result["certificates"]] == [made["certificates"][0]["thumbprint"]]
    assert snapshot(store_path) == before
