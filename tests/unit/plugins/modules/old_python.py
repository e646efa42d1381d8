"""Running a module with Debian's /usr/bin/python3 and its cryptography 38, the oldest the modules support.

That Python has no Ansible. ``environment()`` gives it ansible-core's package (pure Python) through a folder
that holds nothing else, so that it keeps its own cryptography instead of the virtual environment's.
"""

from __future__ import annotations

import os
import subprocess

import ansible

PYTHON = "/usr/bin/python3"
_PROBE = "import asn1crypto, cryptography; print(cryptography.__version__); print(cryptography.__file__)"


def ansible_only_path(folder) -> str:
    """A folder holding only ``ansible``, a link to this ansible-core's package."""
    path = os.path.join(str(folder), "ansible-only")
    if not os.path.isdir(path):
        os.makedirs(path)
        os.symlink(os.path.dirname(os.path.abspath(ansible.__file__)), os.path.join(path, "ansible"))
    return path


def cryptography_of(folder) -> tuple[str, str] | None:
    """(version, file) of the cryptography /usr/bin/python3 imports with ``ansible_only_path``; None if it can't."""
    if not os.access(PYTHON, os.X_OK):
        return None
    env = dict(os.environ, PYTHONPATH=ansible_only_path(folder))
    probe = subprocess.run([PYTHON, "-c", _PROBE], capture_output=True, env=env, check=False)
    if probe.returncode != 0:
        return None
    version, where = probe.stdout.decode().split()
    return version, where
