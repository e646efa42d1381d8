"""The collection's tarball holds what ships and nothing a run leaves in the tree.

A copy of the tree gets a dummy of every output a run can leave (each pattern of .gitignore, at the top and
deeper down, and the outputs of the demo, the tests, the benchmarks, the docs site and ansible-navigator);
``ansible-galaxy collection build`` must leave every one of them out (galaxy.yml's build_ignore) and keep
the modules, roles, playbooks, docs and the files galaxy.yml names.
"""

from __future__ import annotations

import fnmatch
import json
import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]

# Outputs that .gitignore's patterns cover only in part, or that name a place: each gets a dummy.
RUN_OUTPUTS = [
    ".venv/bin/python",
    ".venv-run/bin/ansible-playbook",
    ".venv-run/collections/ansible_collections/passwordsecure/server/README.md",
    ".venv-ee/bin/ansible-navigator",
    ".venv-docs/bin/sphinx-build",
    "benchmarks/.venv/bin/python",
    ".ansible/collections/x.json",
    ".demo/server1/index.json",
    ".demo/reports/20260101T000000Z-server1-to-server2.md",
    ".pytest_cache/v/cache/nodeids",
    "tests/unit/.pytest_cache/v/cache/nodeids",
    ".ruff_cache/0.17.0/123",
    ".mypy_cache/3.11/x.json",
    ".hypothesis/examples/x",
    "tests/.hypothesis/examples/x",
    ".cache/ansible-navigator/collection_doc_cache.db",
    "tests/output/run/lint.log",
    "tests/output/.tmp/sanity/x",
    "tests/integration/inventory",
    "benchmarks/results/relocation-quick-20260101T000000Z.json",
    "relocation-reports/20260101T000000Z-psr1-to-psr2.html",
    "playbooks/relocation-reports/20260101T000000Z-psr1-to-psr2.md",
    "docs/docsite/build/html/index.html",
    "docs/docsite/_build/html/index.html",
    "plugins/modules/__pycache__/certificate.cpython-311.pyc",
    "plugins/module_utils/store.pyc",
    "tests/unit/__pycache__/conftest.cpython-311-pytest-9.0.0.pyc",
    "ansible-navigator.log",
    "playbooks/demo-artifact-2026-01-01T00:00:00.000000+00:00.json",
    "relocate_database-artifact-2026-01-01T00:00:00.000000+00:00.json",
    "passwordsecure-server-1.0.0.tar.gz",
    "benchmarks/relocation.log",
    "changelogs/.plugin-cache.yaml",
]


def _ansible_galaxy() -> str:
    beside = Path(sys.executable).with_name("ansible-galaxy")
    found = str(beside) if beside.exists() else shutil.which("ansible-galaxy")
    if not found:
        pytest.fail("ansible-galaxy is neither beside %s nor on PATH; install ansible-core" % sys.executable)
    return found


def _tree_files() -> list[str]:
    """The tree's files as a clone has them (tracked, and new ones not ignored), else every file."""
    try:
        command = ["git", "-C", str(ROOT), "ls-files", "-z", "--cached", "--others", "--exclude-standard"]
        listed = subprocess.run(command, check=True, capture_output=True).stdout.decode().split("\0")
        return [name for name in listed if name and (ROOT / name).is_file()]
    except (OSError, subprocess.CalledProcessError):  # not a clone (tests/run's copy): every file but run outputs
        skip = (".git", ".ansible", ".demo", "__pycache__", ".pytest_cache", ".ruff_cache", ".hypothesis", ".cache")
        return [str(path.relative_to(ROOT)) for path in ROOT.rglob("*") if path.is_file()
                and not str(path.relative_to(ROOT)).startswith(("tests/output/", "benchmarks/results/"))
                and not any(part in skip or part.startswith(".venv") for part in path.relative_to(ROOT).parts)]


def _gitignore_dummies() -> list[str]:
    """A path for each pattern of .gitignore: at the top, and inside plugins/ for patterns that apply anywhere."""
    paths = []
    for line in (ROOT / ".gitignore").read_text().splitlines():
        pattern = line.strip()
        if not pattern or pattern.startswith(("#", "!")):
            continue
        concrete = pattern.rstrip("/").replace("*", "dummy")
        leaf = concrete + "/dummy.txt" if pattern.endswith("/") else concrete
        paths.append(leaf)
        if "/" not in pattern.rstrip("/"):
            paths.append("plugins/" + leaf)
    return paths


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> tuple[list[str], dict, list[str]]:
    """Build the tarball from a copy of the tree full of run outputs: (its names, its MANIFEST.json, the dummies)."""
    base = tmp_path_factory.mktemp("build")
    tree = base / "tree"
    for name in _tree_files():
        target = tree / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, target)
    dummies = RUN_OUTPUTS + _gitignore_dummies()
    for name in dummies:
        path = tree / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists():
            path.write_text("a run's output\n")
    subprocess.run([_ansible_galaxy(), "collection", "build", str(tree), "--output-path", str(base / "dist")],
                   check=True, capture_output=True, env=dict(os.environ, ANSIBLE_HOME=str(base / "ansible-home")))
    (tarball,) = (base / "dist").glob("passwordsecure-server-*.tar.gz")
    with tarfile.open(tarball) as archive:
        names = [member.name.rstrip("/") for member in archive.getmembers()]
        manifest = json.load(archive.extractfile("MANIFEST.json"))
    return names, manifest, dummies


def test_no_run_output_in_the_tarball(built):
    names, _manifest, dummies = built
    leaked = [name for name in dummies if name in names]
    assert leaked == [], "build_ignore in galaxy.yml lets these into the tarball: %s" % leaked


def test_no_venv_cache_or_bytecode_in_the_tarball(built):
    names = built[0]
    parts = {part for name in names for part in name.split("/")}
    assert not [part for part in parts if part.startswith(".venv") or part in (
        "__pycache__", ".pytest_cache", ".ruff_cache", ".mypy_cache", ".hypothesis", ".cache", ".ansible", ".demo",
        "relocation-reports", ".git")]
    assert not [name for name in names if fnmatch.fnmatch(name, "*.pyc") or fnmatch.fnmatch(name, "*.log")
                or fnmatch.fnmatch(name, "*.tar.gz") or fnmatch.fnmatch(name, "*-artifact-*.json")]
    assert not [name for name in names if name.startswith(("tests/output", "benchmarks/results", "docs/docsite/build",
                                                           "docs/docsite/_build", "tests/integration/inventory"))]


def test_the_tarball_holds_what_ships(built):
    names, _manifest, _dummies = built
    galaxy = yaml.safe_load((ROOT / "galaxy.yml").read_text())
    wanted = ["MANIFEST.json", "FILES.json", galaxy["readme"], galaxy["license_file"], "meta/runtime.yml",
              "meta/execution-environment.yml", "meta/ee-requirements.txt", "bindep.txt", "requirements.txt",
              "changelogs/changelog.yaml", "changelogs/config.yaml", "docs/docsite/extra-docs.yml"]
    for kind, pattern in (("modules", "plugins/modules/*.py"), ("plugins", "plugins/*/*.py"),
                          ("playbooks", "playbooks/*.yml"), ("guides", "docs/*.md"),
                          ("docs site pages", "docs/docsite/rst/*.rst"), ("role files", "roles/*/*/*.yml"),
                          ("role READMEs", "roles/*/README.md")):
        found = sorted(str(path.relative_to(ROOT)) for path in ROOT.glob(pattern))
        assert found, "no %s in the tree (%s)" % (kind, pattern)
        wanted += found
    missing = [name for name in wanted if name not in names]
    assert missing == []


def test_manifest_describes_what_ships(built):
    info = built[1]["collection_info"]
    assert (info["namespace"], info["name"]) == ("passwordsecure", "server")
    assert "later release" not in info["description"]
    for link in ("repository", "documentation", "issues", "homepage"):
        assert not info.get(link) or "example.invalid" not in info[link], "%s is a made-up link" % link
