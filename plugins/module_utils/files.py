# Copyright (c) passwordsecure.server contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""File plumbing of the modules that write files outside the store (the export's PKCS#12 files).

The one piece of module_utils that works with the AnsibleModule object (passed
in, never imported): temp file in the destination's folder created 0600,
fsync, ``module.atomic_move``, then the usual file attributes, and a backup
of the file it replaces when asked. Key material never lands in a shared
temp folder. Also the diff lines of a permission fix, for those files and for
the store's, so that a change of mode or owner shows in the diff like a change
of content.
"""

from __future__ import annotations

import os
import stat
import tempfile

from ansible_collections.passwordsecure.server.plugins.module_utils.errors import InvalidRequestError, StoreError
from ansible_collections.passwordsecure.server.plugins.module_utils.store import DIR_MODE, FILE_MODE

DEFAULT_FILE_MODE = "0600"


def read_if_exists(path: str, max_size: int) -> bytes | None:
    """A destination's current bytes, or None when it does not exist; refuses a folder or a huge file."""
    try:
        if os.path.isdir(path):
            raise InvalidRequestError("%s is a directory; give the path of a file" % path)
        if os.path.getsize(path) > max_size:
            return b""  # larger than anything this collection writes: not what it would write
        with open(path, "rb") as handle:
            return handle.read()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise StoreError("cannot read %s: %s; run as a user that may read it (become: true)"
                         % (path, exc.strerror or exc)) from exc


def ensure_directory(module, path: str) -> bool:
    """Create ``path`` (0700) when missing; True when created."""
    if os.path.isdir(path):
        return False
    if os.path.exists(path):
        raise InvalidRequestError("directory %s is a file; give the path of a directory" % path)
    if not module.check_mode:
        try:
            os.makedirs(path, 0o700)
        except OSError as exc:
            raise StoreError("cannot create %s: %s; run as a user that may write there (become: true)"
                             % (path, exc.strerror or exc)) from exc
    return True


def write_file(module, path: str, data: bytes, *, backup: bool) -> str | None:
    """Write ``data`` to ``path`` atomically; return the backup file's name, if one was made."""
    folder = os.path.dirname(os.path.abspath(path))
    backup_file = module.backup_local(path) if backup and os.path.exists(path) else None
    try:
        fd, temp = tempfile.mkstemp(prefix=".psr-tmp-", dir=folder)
    except OSError as exc:
        raise StoreError("cannot write in %s: %s; run as a user that may write there (become: true) or choose "
                         "another path" % (folder, exc.strerror or exc)) from exc
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        module.atomic_move(temp, path)
    finally:
        if os.path.exists(temp):
            os.unlink(temp)
    return backup_file


def apply_attributes(module, path: str, changed: bool, diff: dict | None = None) -> bool:
    """The file's mode (0600 unless given), owner, group and SELinux context, as the options say.

    With ``diff`` (a dict whose ``before`` and ``after`` are text), a change of mode, owner, group or file
    attributes adds a line to each, ``<path>: mode 0644, owner 1000`` before and ``<path>: mode 0600, owner 0``
    after; in check mode too, where nothing is changed."""
    file_args = module.load_file_common_arguments(module.params, path=path)
    if file_args.get("mode") is None:
        file_args["mode"] = DEFAULT_FILE_MODE
    changes: dict = {}
    changed = module.set_fs_attributes_if_different(file_args, changed, diff=changes)
    if diff is not None and changes:
        for side in ("before", "after"):
            values = changes.get(side, {})
            diff[side] += "%s: %s\n" % (path, ", ".join("%s %s" % (name, values[name]) for name in sorted(values)))
    return changed


def attribute_snapshot(folder: str) -> dict[str, tuple[int, int, int]]:
    """Mode, uid and gid of ``folder`` and of everything in it, by normalised path; {} when it does not exist."""
    snapshot: dict[str, tuple[int, int, int]] = {}
    for base, _dirs, names in os.walk(folder):
        for path in [base] + [os.path.join(base, name) for name in names]:
            try:
                st = os.lstat(path)
            except FileNotFoundError:
                continue
            snapshot[os.path.normpath(path)] = (stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid)
    return snapshot


def store_fix_lines(paths: list[str], snapshot: dict[str, tuple[int, int, int]],
                    owner: tuple[int, int]) -> tuple[str, str]:
    """The diff lines of the store paths whose mode or owner a task puts right (``attributes_fixed``): each as
    ``<path>: mode 0644, owner 1000, group 1000`` before (from ``snapshot``, taken before the task) and with the
    mode (folders 0700, files 0600) and the owner (when given) it gets after."""
    before, after = [], []
    for path in paths:
        key = os.path.normpath(path)
        if key not in snapshot:
            continue
        mode, uid, gid = snapshot[key]
        wanted = (DIR_MODE if os.path.isdir(path) else FILE_MODE,
                  uid if owner[0] == -1 else owner[0], gid if owner[1] == -1 else owner[1])
        before.append("%s: mode 0%03o, owner %d, group %d\n" % (path, mode, uid, gid))
        after.append("%s: mode 0%03o, owner %d, group %d\n" % ((path,) + wanted))
    return "".join(before), "".join(after)
