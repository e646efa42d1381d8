"""Running a module as Ansible does: a process given an arguments file, printing one JSON result.

Shared by the module tests. ``run_module`` asserts what holds for every run: a JSON result, no
traceback, and none of the given secrets in stdout or stderr.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

from ansible_collections.passwordsecure.server.plugins.module_utils import store

PLUGINS = os.path.dirname(os.path.dirname(os.path.abspath(store.__file__)))
# The folder that holds ansible_collections/passwordsecure/server/plugins.
IMPORT_ROOT = os.path.abspath(os.path.join(PLUGINS, os.pardir, os.pardir, os.pardir, os.pardir))


class Run:
    def __init__(self, proc: subprocess.CompletedProcess, secrets=()):
        self.rc = proc.returncode
        self.stdout = proc.stdout.decode("utf-8", errors="replace")
        self.stderr = proc.stderr.decode("utf-8", errors="replace")
        try:
            self.result = json.loads(self.stdout)
        except ValueError:
            raise AssertionError("no JSON result (rc %d):\n%s\n%s" % (self.rc, self.stdout, self.stderr)) from None
        output = self.stdout + self.stderr
        assert "Traceback" not in output, output
        for secret in secrets:
            assert secret not in output


def run_module(tmp_path, name: str, args: dict, *, check_mode: bool = False, diff: bool = False,
               prefix: list | None = None, secrets=()) -> Run:
    """Run plugins/modules/<name>.py with ``args``; ``prefix`` replaces the plain ``python`` command."""
    args_file = tmp_path / ("args-%d.json" % len(list(tmp_path.glob("args-*.json"))))
    args_file.write_text(json.dumps({"ANSIBLE_MODULE_ARGS": dict(args, _ansible_check_mode=check_mode,
                                                                 _ansible_diff=diff)}))
    os.chmod(str(args_file), 0o600)  # it may hold passwords
    module = os.path.join(PLUGINS, "modules", name + ".py")
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (IMPORT_ROOT, env.get("PYTHONPATH")) if p)
    env.pop("PYTHONSAFEPATH", None)
    proc = subprocess.run((prefix or [sys.executable]) + [module, str(args_file)], capture_output=True, env=env,
                          cwd=str(tmp_path), timeout=300, check=False)
    return Run(proc, secrets)
