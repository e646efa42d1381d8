"""certificate_info's free_bytes: statvfs f_bavail * f_frsize of the store's file system (or its nearest parent's).

Free space on a shared disk moves while a test runs, so the exact comparisons run in a file system of
their own: a 16 MiB tmpfs mounted in a private mount namespace (``unshare``), where nothing else
writes. There ``df -B1 --output=avail``, which shares no code with the module, must say the same to
the byte, before and after a file and a store take their share.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest

from ansible_collections.passwordsecure.server.plugins.modules.certificate_info import free_bytes
from ansible_collections.passwordsecure.server.tests.unit.plugins.module_utils import pfx_corpus as C
from ansible_collections.passwordsecure.server.tests.unit.plugins.modules import module_process, old_python

TMPFS_SIZE = 16 << 20
PAGE = os.sysconf("SC_PAGE_SIZE")
FILLER = 3_000_000  # bytes; tmpfs charges whole pages
# Free space on the shared disk may move by this much between two looks.
SLACK = 256 << 20


def avail_by_df(path) -> int:
    out = subprocess.run(["df", "-B1", "--output=avail", str(path)], capture_output=True, check=True).stdout.split()
    return int(out[-1])


def test_free_bytes_is_f_bavail_of_the_nearest_existing_parent(tmp_path):
    (tmp_path / "file").write_bytes(b"x")
    found = os.statvfs(str(tmp_path))
    for path in (tmp_path, tmp_path / "new" / "deeper" / "store"):
        value = free_bytes(str(path))
        assert abs(value - found.f_bavail * found.f_frsize) <= SLACK
        assert abs(value - avail_by_df(tmp_path)) <= SLACK
    assert not (tmp_path / "new").exists()
    assert abs(free_bytes("relative/not/there") - free_bytes(os.getcwd())) <= SLACK
    assert free_bytes("/") >= 0


def test_certificate_info_returns_free_bytes(tmp_path):
    store_path = tmp_path / "store"
    C.make_store(str(store_path), [C.MADE[C.SALES]])
    for path in (store_path, tmp_path / "missing" / "store"):
        run = module_process.run_module(tmp_path, "certificate_info", {"store_path": str(path)})
        assert run.rc == 0, run.stdout
        assert isinstance(run.result["free_bytes"], int)
        assert abs(run.result["free_bytes"] - avail_by_df(tmp_path)) <= SLACK


NAMESPACE_SCRIPT = r"""
set -eu
mount -t tmpfs -o size=%(size)d,mode=0700 psr-free-bytes "$MNT"
avail() { df -B1 --output=avail "$MNT" | tail -n 1 | tr -d ' '; }
"$PY" "$INFO" "$ARGS_MISSING" > "$OUT/empty.json"; avail > "$OUT/empty.df"
head -c %(filler)d /dev/zero > "$MNT/filler"
"$PY" "$INFO" "$ARGS_MISSING" > "$OUT/filled.json"; avail > "$OUT/filled.df"
"$PY" "$CERTIFICATE" "$ARGS_CREATE" > "$OUT/created.json"
"$PY" "$INFO" "$ARGS_STORE" > "$OUT/store.json"; avail > "$OUT/store.df"
"""


def private_tmpfs_works() -> bool:
    if shutil.which("unshare") is None or shutil.which("df") is None:
        return False
    probe = subprocess.run(["unshare", "-rm", "sh", "-c", "mount -t tmpfs none /mnt"], capture_output=True,
                           check=False)
    return probe.returncode == 0


@pytest.mark.skipif(not private_tmpfs_works(), reason="cannot mount a tmpfs in a private namespace (unshare -rm)")
@pytest.mark.parametrize("which", ["new", "old"])
def test_free_bytes_equals_df_to_the_byte_on_a_private_tmpfs(tmp_path, which):
    env = dict(os.environ)
    if which == "new":
        py = sys.executable
        env["PYTHONPATH"] = module_process.IMPORT_ROOT
    else:
        if old_python.cryptography_of(tmp_path) is None:
            pytest.skip("no /usr/bin/python3 with cryptography and asn1crypto")
        py = old_python.PYTHON
        env["PYTHONPATH"] = os.pathsep.join([module_process.IMPORT_ROOT, old_python.ansible_only_path(tmp_path)])
    mnt, out = tmp_path / "mnt", tmp_path / "out"
    mnt.mkdir()
    out.mkdir()

    def args(name: str, **options) -> str:
        path = tmp_path / ("%s.json" % name)
        path.write_text(json.dumps({"ANSIBLE_MODULE_ARGS": dict(options, _ansible_check_mode=False)}))
        return str(path)

    env.update({
        "MNT": str(mnt), "OUT": str(out), "PY": py,
        "INFO": os.path.join(module_process.PLUGINS, "modules", "certificate_info.py"),
        "CERTIFICATE": os.path.join(module_process.PLUGINS, "modules", "certificate.py"),
        "ARGS_MISSING": args("missing", store_path=str(mnt / "not" / "yet" / "store")),
        "ARGS_CREATE": args("create", store_path=str(mnt / "store"), kind="server_encryption", key_size=2048),
        "ARGS_STORE": args("store", store_path=str(mnt / "store")),
    })
    script = NAMESPACE_SCRIPT % {"size": TMPFS_SIZE, "filler": FILLER}
    run = subprocess.run(["unshare", "-rm", "sh", "-c", script], capture_output=True, env=env, cwd=str(tmp_path),
                         check=False, timeout=120)
    assert run.returncode == 0, run.stderr.decode(errors="replace")
    assert os.listdir(mnt) == []  # the tmpfs lived in the namespace only

    def seen(name: str) -> tuple[int, int]:
        result = json.loads((out / ("%s.json" % name)).read_text())
        return result["free_bytes"], int((out / ("%s.df" % name)).read_text())

    assert seen("empty") == (TMPFS_SIZE, TMPFS_SIZE)
    filled = TMPFS_SIZE - -(-FILLER // PAGE) * PAGE  # whole pages
    assert seen("filled") == (filled, filled)
    assert json.loads((out / "created.json").read_text())["changed"] is True
    in_store, by_df = seen("store")
    assert in_store == by_df and in_store < filled  # the store's files took their pages
    assert json.loads((out / "store.json").read_text())["store_exists"] is True
