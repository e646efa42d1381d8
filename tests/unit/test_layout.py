"""The repository's layout rules that a reader relies on: the code and its tests explain themselves, without
pointing at the tracker (an issue number means nothing to someone reading a released collection)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
_ISSUE = re.compile(r"\b(issue|task) ?#?\d+\b", re.IGNORECASE)


def _tracked(*patterns: str) -> list[Path]:
    listed = subprocess.run(["git", "ls-files", "--", *patterns], cwd=ROOT, capture_output=True, text=True,
                            check=False)
    if listed.returncode != 0:  # not a git checkout (a collection tarball): every file on disk
        return sorted(p for pattern in patterns for p in ROOT.glob(pattern.replace("*", "**/*", 1)))
    return [ROOT / line for line in listed.stdout.splitlines()]


def test_no_code_test_or_benchmark_refers_to_an_issue_number():
    files = _tracked("plugins/*.py", "roles/*.yml", "playbooks/*.yml", "tests/*.py", "tests/*.yml", "tests/*.sh",
                     "benchmarks/*.py", "benchmarks/*.md")
    assert len(files) > 50
    found = ["%s:%d: %s" % (path.relative_to(ROOT), number, line.strip())
             for path in files if path.is_file()
             for number, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), 1)
             if _ISSUE.search(line)]
    assert found == []
