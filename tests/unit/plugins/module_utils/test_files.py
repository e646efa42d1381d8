from __future__ import annotations

import os

from ansible_collections.passwordsecure.server.plugins.module_utils.files import attribute_snapshot, store_fix_lines


def _tree(root) -> tuple[str, str, str]:
    folder = os.path.join(str(root), "store")
    entries = os.path.join(folder, "entries")
    os.makedirs(entries, 0o755)
    index = os.path.join(folder, "index.json")
    with open(index, "w") as handle:
        handle.write("{}")
    os.chmod(index, 0o644)
    os.chmod(entries, 0o755)
    return folder, entries, index


def test_snapshot_holds_every_path_with_mode_and_owner(tmp_path):
    folder, entries, index = _tree(tmp_path)
    snap = attribute_snapshot(folder + "/")  # a trailing slash finds the same normalised paths
    assert set(snap) == {folder, entries, index}
    uid, gid = os.getuid(), os.getgid()
    assert snap[index] == (0o644, uid, gid)
    assert snap[entries] == (0o755, uid, gid)


def test_snapshot_of_a_missing_folder_is_empty(tmp_path):
    assert attribute_snapshot(str(tmp_path / "nothing")) == {}


def test_fix_lines_give_the_mode_before_and_the_mode_after(tmp_path):
    folder, entries, index = _tree(tmp_path)
    snap = attribute_snapshot(folder)
    uid, gid = os.getuid(), os.getgid()
    before, after = store_fix_lines([index, entries], snap, (-1, -1))
    assert before == "%s: mode 0644, owner %d, group %d\n%s: mode 0755, owner %d, group %d\n" % (
        index, uid, gid, entries, uid, gid)
    assert after == "%s: mode 0600, owner %d, group %d\n%s: mode 0700, owner %d, group %d\n" % (
        index, uid, gid, entries, uid, gid)


def test_fix_lines_give_the_owner_asked_for(tmp_path):
    folder, _entries, index = _tree(tmp_path)
    snap = attribute_snapshot(folder)
    before, after = store_fix_lines([index], snap, (65534, 65533))
    assert "owner %d, group %d" % (os.getuid(), os.getgid()) in before
    assert after == "%s: mode 0600, owner 65534, group 65533\n" % index


def test_fix_lines_leave_out_what_the_snapshot_lacks(tmp_path):
    folder, _entries, index = _tree(tmp_path)
    assert store_fix_lines([index], {}, (-1, -1)) == ("", "")
    assert store_fix_lines([], attribute_snapshot(folder), (-1, -1)) == ("", "")
