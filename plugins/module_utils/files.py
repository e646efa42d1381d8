# Copyright (c) passwordsecure.server contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""File plumbing of the modules that write files outside the store (the export's PKCS#12 files).

The one piece of module_utils that works with the AnsibleModule object (passed
in, never imported): temp file in the destination's folder created 0600,
fsync, ``module.atomic_move``, then the usual file attributes, and a backup
of the file it replaces when asked. Key material never lands in a shared
temp folder.
"""

from __future__ import annotations

import os
import tempfile

from ansible_collections.passwordsecure.server.plugins.module_utils.errors import InvalidRequestError, StoreError

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


def apply_attributes(module, path: str, changed: bool) -> bool:
    """The file's mode (0600 unless given), owner, group and SELinux context, as the options say."""
    file_args = module.load_file_common_arguments(module.params, path=path)
    if file_args.get("mode") is None:
        file_args["mode"] = DEFAULT_FILE_MODE
    return module.set_fs_attributes_if_different(file_args, changed)
