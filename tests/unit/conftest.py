from __future__ import annotations

import os
import stat
from typing import Callable

import pytest


def _snapshot(root: str) -> dict[str, tuple[int, bytes | None]]:
    """Every path under ``root`` (itself included): its mode, and its bytes for files."""
    found: dict[str, tuple[int, bytes | None]] = {}
    if not os.path.lexists(root):
        return found
    for folder, dirs, files in os.walk(root):
        rel = os.path.relpath(folder, root)
        found[rel] = (os.lstat(folder).st_mode, None)
        for name in dirs + files:
            path = os.path.join(folder, name)
            st = os.lstat(path)
            if stat.S_ISREG(st.st_mode):
                with open(path, "rb") as handle:
                    found[os.path.join(rel, name)] = (st.st_mode, handle.read())
            elif not stat.S_ISDIR(st.st_mode):
                found[os.path.join(rel, name)] = (st.st_mode, os.readlink(path).encode() if stat.S_ISLNK(st.st_mode)
                                                  else None)
    return found


@pytest.fixture
def snapshot() -> Callable[[object], dict[str, tuple[int, bytes | None]]]:
    """Take a byte-for-byte picture of a directory tree (files, folders, modes)."""
    return lambda root: _snapshot(str(root))
