"""certificate_info on a store_path that holds no store: store_exists false, and a warning naming the path.

The module runs as Ansible runs it (``module_process``); the warning is in its result's ``warnings``, which
ansible-playbook shows as ``[WARNING]:`` (the integration target certificate_info checks that).
"""

from __future__ import annotations

import pytest

from ansible_collections.passwordsecure.server.plugins.module_utils import manage
from ansible_collections.passwordsecure.server.plugins.module_utils.kinds import CertRef
from ansible_collections.passwordsecure.server.plugins.modules.certificate_info import missing_store_warning
from ansible_collections.passwordsecure.server.tests.unit.plugins.modules import module_process


def warnings(result: dict) -> list:
    """The warnings' texts: plain strings before ansible-core 2.19, WarningSummary objects from it on."""
    return [item["event"]["msg"] if isinstance(item, dict) else item for item in result.get("warnings", [])]


@pytest.mark.parametrize("check_mode", [False, True])
def test_a_missing_store_reads_as_empty_with_a_warning_and_is_not_created(tmp_path, check_mode):
    path = tmp_path / "missing"
    run = module_process.run_module(tmp_path, "certificate_info", {"store_path": str(path)}, check_mode=check_mode)
    assert run.rc == 0 and run.result["store_exists"] is False and run.result["certificates"] == []
    assert warnings(run.result) == [
        "the certificate store at %s does not exist; check store_path (it lists no certificates; a new server's "
        "store is made by the first certificate written to it)" % path]
    assert not path.exists()


def test_an_empty_directory_is_no_store_and_says_so(tmp_path):
    path = tmp_path / "empty"
    path.mkdir()
    run = module_process.run_module(tmp_path, "certificate_info", {"store_path": str(path)})
    assert run.result["store_exists"] is False
    assert warnings(run.result) == [missing_store_warning(str(path))]
    assert warnings(run.result)[0].startswith(
        "the certificate store at %s does not exist (the directory holds no index.json); check store_path (" % path)
    assert list(path.iterdir()) == []


def test_warn_missing_store_false_is_silent(tmp_path):
    run = module_process.run_module(tmp_path, "certificate_info", {"store_path": str(tmp_path / "missing"),
                                                                   "warn_missing_store": False})
    assert run.result["store_exists"] is False
    assert warnings(run.result) == []


def test_a_store_that_exists_gives_no_warning(tmp_path):
    path = tmp_path / "store"
    manage.ensure(str(path), refs=[CertRef("server_encryption", None)], key_size=2048)
    run = module_process.run_module(tmp_path, "certificate_info", {"store_path": str(path)})
    assert run.result["store_exists"] is True and len(run.result["certificates"]) == 1
    assert warnings(run.result) == []
