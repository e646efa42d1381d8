# Copyright (c) passwordsecure.server contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Fixtures for the tests over real SSH hosts (tests/hosts/hosts.py; needs root, skipped otherwise).

- ``ssh_hosts`` (session): a running ``hosts.Hosts`` with the hosts ``psr-src`` and ``psr-dst``; its
  ``inventory``, ``ansible_cfg``, ``names``, ``store_paths`` and ``hosts[name]`` (address, private_dir,
  store_path), and the fault helpers (``kill_host``, ``revive``, ``freeze``, ``thaw``, ``disconnect``,
  ``reconnect``, ``run_in``, ``ssh``, ``processes``). Torn down at the end of the session, also when a test
  fails, on Ctrl-C and on SIGTERM.
- ``ansible`` (session): runs the real ``ansible`` and ``ansible-playbook`` against those hosts.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
import hosts as hosts_lib

REPO = Path(__file__).resolve().parents[2]
HOST_NAMES = ("psr-src", "psr-dst")


def _interrupt(signum, frame):
    raise KeyboardInterrupt("SIGTERM")


@pytest.fixture(scope="session")
def ssh_hosts(tmp_path_factory: pytest.TempPathFactory):
    reason = hosts_lib.unusable_reason()
    if reason:
        pytest.skip(reason)
    directory = tmp_path_factory.mktemp("ssh-hosts")
    if len(str(directory)) > 60:  # ssh control sockets must stay short
        directory = Path(tempfile.mkdtemp(prefix="psrh-"))
    # SIGTERM becomes KeyboardInterrupt, which pytest answers by tearing the fixtures down.
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        run = hosts_lib.start(directory, list(HOST_NAMES))
        try:
            yield run
        finally:
            run.stop()
    finally:
        signal.signal(signal.SIGTERM, previous)


def _collections_path() -> str | None:
    """Where ansible finds this collection: ANSIBLE_COLLECTIONS_PATH (tests/run exports it), else the folder
    holding ansible_collections/ when this repository sits in such a tree."""
    value = os.environ.get("ANSIBLE_COLLECTIONS_PATH") or os.environ.get("ANSIBLE_COLLECTIONS_PATHS")
    if value:
        return value
    if REPO.parent.name == "passwordsecure" and REPO.parents[1].name == "ansible_collections":
        return str(REPO.parents[2])
    return None


def _ansible_bin(name: str) -> str | None:
    """The ansible tools of the Python running pytest (the venv), else the first on PATH."""
    beside = Path(sys.executable).parent / name
    return str(beside) if beside.exists() else shutil.which(name)


@dataclasses.dataclass
class Ansible:
    hosts: hosts_lib.Hosts
    ansible: str
    ansible_playbook: str
    collections_path: str

    def env(self, **extra: str) -> dict:
        return self.hosts.env(ANSIBLE_COLLECTIONS_PATH=self.collections_path, ANSIBLE_NOCOLOR="1", **extra)

    def _run(self, argv: list[str], secret_vars: dict | None, timeout: float, env: dict) -> subprocess.CompletedProcess:
        with contextlib.ExitStack() as stack:
            if secret_vars:  # secrets go through a 0600 file, never on the command line
                handle = stack.enter_context(tempfile.NamedTemporaryFile(
                    "w", suffix=".json", dir=self.hosts.dir, prefix="vars-"))
                json.dump(secret_vars, handle)
                handle.flush()
                argv = [*argv, "-e", "@" + handle.name]
            return subprocess.run(argv, capture_output=True, text=True, env=env, timeout=timeout, check=False,
                                  cwd=self.hosts.dir)

    def adhoc(self, pattern: str, module: str, module_args: str = "", *options: str, timeout: float = 300,
              **env: str) -> subprocess.CompletedProcess:
        """``ansible PATTERN -m MODULE -a ARGS OPTIONS``. The result's ``results`` is {host: (status, result)}
        parsed from the output (status SUCCESS, CHANGED, FAILED!, UNREACHABLE!)."""
        argv = [self.ansible, pattern, "-m", module, *(["-a", module_args] if module_args else []), *options]
        result = self._run(argv, None, timeout, self.env(**env))
        result.results = parse_adhoc(result.stdout)
        return result

    def playbook(self, playbook: str | os.PathLike, *options: str, secret_vars: dict | None = None,
                 timeout: float = 600, **env: str) -> subprocess.CompletedProcess:
        """``ansible-playbook PLAYBOOK OPTIONS`` against the hosts; ``secret_vars`` are passed as an extra-vars
        file. ``env`` adds environment variables."""
        argv = [self.ansible_playbook, str(playbook), *options]
        return self._run(argv, secret_vars, timeout, self.env(**env))


_ADHOC = re.compile(r"^(\S+) \| (SUCCESS|CHANGED|FAILED!|UNREACHABLE!) => ", re.M)


def parse_adhoc(stdout: str) -> dict[str, tuple[str, dict]]:
    """{host: (status, result)} from the output of ad hoc ``ansible`` (its minimal callback prints
    ``HOST | STATUS => {json}``; ansible-core has no json callback of its own)."""
    found = {}
    decoder = json.JSONDecoder()
    for match in _ADHOC.finditer(stdout):
        found[match.group(1)] = (match.group(2), decoder.raw_decode(stdout, match.end())[0])
    return found


@pytest.fixture(scope="session")
def ansible(ssh_hosts: hosts_lib.Hosts) -> Ansible:
    tools = {name: _ansible_bin(name) for name in ("ansible", "ansible-playbook")}
    missing = [name for name, path in tools.items() if not path]
    if missing:
        pytest.skip("%s not found beside %s or on PATH" % (", ".join(missing), sys.executable))
    collections_path = _collections_path()
    if not collections_path:
        pytest.skip("set ANSIBLE_COLLECTIONS_PATH to the folder holding ansible_collections/passwordsecure/server")
    return Ansible(ssh_hosts, tools["ansible"], tools["ansible-playbook"], collections_path)
