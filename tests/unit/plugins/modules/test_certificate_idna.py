"""The certificate module on a managed host whose Python has no ``idna``: non-ASCII names fail clearly, ASCII work.

The module runs as Ansible runs it (``module_process``) with a folder first on PYTHONPATH whose ``idna``
package raises ImportError, so it cannot import the one this Python has; a run without that folder is the
control.
"""

from __future__ import annotations

import pytest

from ansible_collections.passwordsecure.server.plugins.module_utils import store
from ansible_collections.passwordsecure.server.plugins.module_utils.kinds import CertRef
from ansible_collections.passwordsecure.server.tests.unit.plugins.modules import module_process

SSL = CertRef("ssl", None)


@pytest.fixture
def without_idna(tmp_path, monkeypatch):
    hider = tmp_path / "no-idna" / "idna"
    hider.mkdir(parents=True)
    (hider / "__init__.py").write_text('raise ImportError("No module named \'idna\' (hidden by the test)")\n')
    monkeypatch.setenv("PYTHONPATH", str(hider.parent))


def test_without_idna_a_non_ascii_name_fails_clearly_and_writes_nothing(tmp_path, without_idna):
    store_path = tmp_path / "store"
    run = module_process.run_module(tmp_path, "certificate", {
        "store_path": str(store_path), "kind": "ssl", "names": ["psr1", "straße.example"]})
    assert run.rc != 0 and run.result["failed"] is True
    message = run.result["msg"]
    assert message.startswith("names[1] holds 'straße.example', which is not ASCII")
    assert "needs the Python library 'idna'" in message and "apt-get install python3-idna" in message
    assert not store_path.exists()


def test_without_idna_ascii_names_work(tmp_path, without_idna):
    store_path = tmp_path / "store"
    run = module_process.run_module(tmp_path, "certificate", {
        "store_path": str(store_path), "kind": "ssl", "key_size": 2048,
        "names": ["PSR1.Example.com", "xn--strae-oqa.example", "192.0.2.10"]})
    assert run.rc == 0 and run.result["changed"] is True, run.result
    names = store.load(str(store_path)).records[SSL]["names"]
    assert names == ["psr1.example.com", "xn--strae-oqa.example", "192.0.2.10"]


def test_with_idna_the_same_name_is_written_as_its_idna_2008_a_label(tmp_path):
    store_path = tmp_path / "store"
    run = module_process.run_module(tmp_path, "certificate", {
        "store_path": str(store_path), "kind": "ssl", "key_size": 2048, "names": ["psr1", "Straße.example"]})
    assert run.rc == 0 and run.result["changed"] is True, run.result
    assert store.load(str(store_path)).records[SSL]["names"] == ["psr1", "xn--strae-oqa.example"]
