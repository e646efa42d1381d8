"""Managed-host Pythons with the cryptography and asn1crypto that distributions ship, for the module tests.

A module runs on the managed host's Python; the collection supports cryptography 3.4 and asn1crypto 1.4
and newer. The tests run modules as processes with each of these Pythons:

* ``PYTHON``: Debian's ``/usr/bin/python3`` with its python3-cryptography 38.0.4 and python3-asn1crypto
  (Debian 12);
* ``HOSTS``: virtual environments made from PyPI with the versions other distributions ship (Ubuntu
  22.04, RHEL 9, Ubuntu 24.04), and ``BELOW_FLOOR`` ones that the modules must refuse with a clear
  message.

None of these Pythons has Ansible. ``environment()`` gives them ansible-core's package (pure Python)
through a folder that holds nothing else, so that each keeps its own cryptography instead of the test
virtual environment's.

**The cache.** ``venv_python`` makes each virtual environment once, in ``$PSR_HOST_VENVS`` (default
``$XDG_CACHE_HOME/passwordsecure.server/host-venvs``, that is ``~/.cache/...``), one folder per set of
pins (``cryptography-3.4.8_asn1crypto-1.4.0``), with ``python -m venv`` and ``pip install`` of exactly
those pins (about 10 s each the first time). A folder that is there and holds a ``pins.txt`` with the
same pins is used as it is. When pip can't reach the package index, ``Unreachable`` is raised and the
tests skip, saying so; any other failure of pip fails the test.

Run ``python tests/unit/plugins/modules/old_python.py`` (with the collection importable, as for
pytest) to make every virtual environment and print its Python, for example for a step that runs the
integration targets with each as ``ansible_python_interpreter``.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import sys
import tempfile
from typing import NamedTuple

import ansible

PYTHON = "/usr/bin/python3"
_PROBE = "import asn1crypto, cryptography; print(cryptography.__version__); print(cryptography.__file__)"
_VERSIONS = "import asn1crypto, cryptography; print(cryptography.__version__, asn1crypto.__version__)"


class Host(NamedTuple):
    name: str  # the pytest id
    shipped_by: str  # where a managed host has these versions
    pins: tuple[str, ...]


# The distributions' versions, from PyPI. asn1crypto 1.4.0 everywhere: Ubuntu 22.04's, the oldest supported.
HOSTS = (
    Host("cryptography-3.4.8", "Ubuntu 22.04", ("cryptography==3.4.8", "asn1crypto==1.4.0")),
    Host("cryptography-36.0.1", "RHEL 9", ("cryptography==36.0.1", "asn1crypto==1.4.0")),
    Host("cryptography-41.0.7", "Ubuntu 24.04", ("cryptography==41.0.7", "asn1crypto==1.4.0")),
)
# Just below the floors (Debian 11 ships cryptography 3.3.2; asn1crypto 1.3.0 is the release before 1.4).
BELOW_FLOOR = (
    Host("cryptography-3.3.2", "Debian 11", ("cryptography==3.3.2", "asn1crypto==1.4.0")),
    Host("asn1crypto-1.3.0", "no distribution", ("cryptography==3.4.8", "asn1crypto==1.3.0")),
)
# What pip says when it can't reach the index (then the tests skip; anything else is a failure).
_UNREACHABLE = ("NewConnectionError", "Failed to establish a new connection", "Temporary failure in name resolution",
                "Name or service not known", "Network is unreachable", "ConnectTimeoutError", "ProxyError",
                "Max retries exceeded", "Could not fetch URL", "connection timed out")


class Unreachable(Exception):
    """pip could not reach the package index: the virtual environment can't be made here."""


def ansible_only_path(folder) -> str:
    """A folder holding only ``ansible``, a link to this ansible-core's package."""
    path = os.path.join(str(folder), "ansible-only")
    if not os.path.isdir(path):
        os.makedirs(path)
        os.symlink(os.path.dirname(os.path.abspath(ansible.__file__)), os.path.join(path, "ansible"))
    return path


def environment(folder) -> dict:
    """The environment for a module process run by one of these Pythons: ansible-core on its path, nothing else."""
    env = dict(os.environ, PYTHONPATH=ansible_only_path(folder))
    env.pop("PYTHONSAFEPATH", None)
    return env


def cryptography_of(folder, python: str = PYTHON) -> tuple[str, str] | None:
    """(version, file) of the cryptography ``python`` imports with ``ansible_only_path``; None if it can't."""
    if not os.access(python, os.X_OK):
        return None
    probe = subprocess.run([python, "-c", _PROBE], capture_output=True, env=environment(folder), check=False)
    if probe.returncode != 0:
        return None
    version, where = probe.stdout.decode().split()
    return version, where


def versions_of(python: str) -> tuple[str, str]:
    """(cryptography, asn1crypto) versions ``python`` imports by itself."""
    probe = subprocess.run([python, "-c", _VERSIONS], capture_output=True, check=True, env=environment_free())
    cryptography_version, asn1crypto_version = probe.stdout.decode().split()
    return cryptography_version, asn1crypto_version


def environment_free() -> dict:
    env = dict(os.environ)
    for name in ("PYTHONPATH", "PYTHONSAFEPATH", "PYTHONHOME"):
        env.pop(name, None)
    return env


def cache_folder() -> str:
    """Where the virtual environments live: ``$PSR_HOST_VENVS``, else the user's cache folder."""
    configured = os.environ.get("PSR_HOST_VENVS")
    if configured:
        return configured
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "passwordsecure.server", "host-venvs")


def _folder_name(pins: tuple[str, ...]) -> str:
    return "_".join(pin.replace("==", "-") for pin in pins)


def venv_python(pins: tuple[str, ...]) -> str:
    """The Python of a virtual environment with exactly ``pins`` installed, made in the cache if missing.

    Raises ``Unreachable`` when pip can't reach the package index, AssertionError when it fails otherwise."""
    root = cache_folder()
    os.makedirs(root, exist_ok=True)
    target = os.path.join(root, _folder_name(pins))
    wanted = "\n".join(pins) + "\n"
    python = os.path.join(target, "bin", "python")
    with open(os.path.join(root, ".lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one maker at a time; the others then find it made
        if _made(target, wanted):
            return python
        shutil.rmtree(target, ignore_errors=True)
        work = tempfile.mkdtemp(prefix=".making-", dir=root)
        try:
            subprocess.run([sys.executable, "-m", "venv", work], check=True, capture_output=True)
            pip = subprocess.run(
                [os.path.join(work, "bin", "python"), "-m", "pip", "install", "--disable-pip-version-check",
                 "--no-input", "--retries", "1", "--timeout", "20", "-q"] + list(pins),
                capture_output=True, env=environment_free(), check=False)
            if pip.returncode != 0:
                output = (pip.stdout + pip.stderr).decode("utf-8", "replace")
                if any(sign in output for sign in _UNREACHABLE):
                    raise Unreachable("pip could not reach the package index to install %s:\n%s"
                                      % (" ".join(pins), output[-2000:]))
                raise AssertionError("pip install %s failed:\n%s" % (" ".join(pins), output[-4000:]))
            with open(os.path.join(work, "pins.txt"), "w") as handle:
                handle.write(wanted)
            os.rename(work, target)  # bin/python is a link to the base Python: it works from the new name
        finally:
            shutil.rmtree(work, ignore_errors=True)
    return python


def _made(target: str, wanted: str) -> bool:
    try:
        with open(os.path.join(target, "pins.txt")) as handle:
            if handle.read() != wanted:
                return False
    except OSError:
        return False
    return os.access(os.path.join(target, "bin", "python"), os.X_OK)


def main() -> int:
    for host in HOSTS + BELOW_FLOOR:
        python = venv_python(host.pins)
        sys.stdout.write("%s\t%s\t%s\n" % (host.name, " ".join(versions_of(python)), python))
    return 0


if __name__ == "__main__":
    sys.exit(main())
