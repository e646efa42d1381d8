# Copyright (c) passwordsecure.server contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The README's main command, exactly as a user types it: ``bash scripts/demo.sh``.

It builds its own virtual environment from requirements.txt (in a temp dir here, through VENV_RUN), runs the
relocation of the database sales between two local servers, and must converge: a second run changes nothing.
Check mode prints the plan and writes nothing.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DEMO = REPO / ".demo"


def demo(venv: Path, *extra: str) -> str:
    env = dict(os.environ, VENV_RUN=str(venv))
    for name in ("ANSIBLE_COLLECTIONS_PATH", "ANSIBLE_HOME", "ANSIBLE_LOCAL_TEMP", "PYTHONPATH"):
        env.pop(name, None)  # the demo sets up its own, as on a fresh machine
    done = subprocess.run(["bash", str(REPO / "scripts" / "demo.sh"), *extra], env=env, capture_output=True,
                          text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    return done.stdout


def recap(output: str) -> dict[str, dict[str, int]]:
    hosts = {}
    for host, counts in re.findall(r"^(\S+)\s+: (ok=.*)$", output, re.MULTILINE):
        hosts[host] = {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", counts)}
    return hosts


def store_thumbprints(path: Path) -> dict[str, str]:
    index = json.loads((path / "index.json").read_text())
    return {"%s/%s" % (e["kind"], e.get("identity")): e["thumbprint"] for e in index["entries"]}


@pytest.fixture(scope="module")
def venv(tmp_path_factory):
    if shutil.which("python3") is None:
        pytest.skip("python3 is not on PATH")
    shutil.rmtree(DEMO, ignore_errors=True)
    yield tmp_path_factory.mktemp("demo") / "venv-run"
    shutil.rmtree(DEMO, ignore_errors=True)


def test_check_mode_on_a_fresh_machine_writes_nothing(venv):
    output = demo(venv, "--check")
    assert re.search(r"run\s+without\s+--check\s+first", output), output[-2000:]
    assert not (DEMO / "server1" / "index.json").exists()
    assert not (DEMO / "server2").exists() and not (DEMO / "reports").exists()


def test_the_demo_relocates_verifies_reports_and_converges(venv):
    first = demo(venv)
    assert re.search(r"Relocation succeeded: 5 certificates, 5 imported, 5/5 proofs passed", first), first[-3000:]
    reports = sorted((DEMO / "reports").glob("*-server1-to-server2.md"))
    assert len(reports) == 1 and str(reports[0]) in first
    source, target = store_thumbprints(DEMO / "server1"), store_thumbprints(DEMO / "server2")
    travelling = {k: v for k, v in source.items() if not k.startswith("database/") or k == "database/sales"}
    assert len(source) == 7 and target == travelling
    report = reports[0].read_text()
    assert report.count("| passed |") == 5
    assert all(thumbprint in report for thumbprint in travelling.values())
    html = reports[0].with_suffix(".html").read_text()
    assert html.count(">passed<") == 5

    second = demo(venv)
    assert re.search(r"5 certificates, 0 imported, 5/5 proofs passed", second)
    assert all(counts["changed"] == 0 and counts["failed"] == 0 for counts in recap(second).values()), second[-2000:]
    assert store_thumbprints(DEMO / "server2") == travelling

    plan = demo(venv, "--check")
    assert "check mode: nothing is changed" in plan
    assert len(list((DEMO / "reports").glob("*.md"))) == 2
