#!/usr/bin/env python
# Copyright (c) passwordsecure.server contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Speed of a database relocation between two real SSH hosts, and where its time goes, measured in one run.

The role ``passwordsecure.server.database_relocation`` (playbook ``passwordsecure.server.relocate_database``,
run by FQCN with the real ``ansible-playbook``) moves every database of a source server, with the server-wide
certificates, to an empty target server over SSH: two hosts that ``tests/hosts/hosts.py`` starts on this
machine (network namespaces, Debian's sshd, pipelining; needs root, skipped cleanly without it).

For each size (databases on the source, plus five server-wide certificates) and each managed-host Python
(Debian's /usr/bin/python3 with cryptography 38, and this venv's Python; with ``--pythons`` also a host with
the cryptography another distribution ships, such as ``cryptography-36`` for RHEL 9), it measures:

- the wall time of the first run and of a rerun (nothing to import, verification only);
- the role's own phase timings (``database_relocation_result.timings``) and every task's time (a small
  callback plugin of this script's own);
- the split of the wall time: the modules' own work (the same modules with the same inputs run as processes
  on the same host, minus the process start), their process starts, the transfer of the same bytes over
  SSH, and the rest: Ansible's overhead;
- against the target: under 15 s for 1,000 certificates.

The source's store is made beforehand with the ``certificate`` module and not timed (key generation does
not count). ``benchmarks/README.md`` explains every row. Nothing here asserts a time: the target is
reported as PASS or MISS; the exit code is 1 only when a run did not do its job.
"""

from __future__ import annotations

import argparse
import base64
import datetime
import json
import os
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
MODULES = REPO / "plugins" / "modules"
DEFAULT_RESULTS = HERE / "results"
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(REPO / "tests" / "hosts"))

import hosts as hosts_lib  # tests/hosts/hosts.py: standard library only
from bench_certificate import (
    BenchmarkError,
    Run,
    emit,
    progress,
    run_process,
    secs,
    table,
    write_private,
)

TARGET_SECONDS = 15.0
TARGET_CERTIFICATES = 1000
SOURCE, TARGET = "psr-src", "psr-dst"
# The server-wide certificates that travel with every database (kinds.py: travels_with_database).
SERVER_WIDE = [
    {"kind": "master_key", "identity": "corp.example.com"},
    {"kind": "master_key", "identity": "branch.example.com"},
    {"kind": "discovery_service", "identity": "network-scan"},
    {"kind": "password_reset", "identity": "self-service"},
    {"kind": "server_encryption"},
]
START_RUNS = 5  # module runs that measure the process start on a host
SSH_RUNS = 3  # repetitions of each SSH transfer measurement (median)
DEBIAN_PYTHON = "/usr/bin/python3"

# The role's module tasks, by task name, and the module run (below) that does the same work.
MODULE_TASKS = {
    "Read what the source's store holds": "info_source",
    "Read what the target's store holds": "info_target",
    "Make a challenge with each source certificate that travels": "challenge",
    "Export the certificates that travel, into the controller's memory": "export",
    "Import the certificates on the target": "import",
    "The target answers each challenge with its private key": "answer",
}

# A callback plugin of the bench's own: every task's start and end (controller clock), its action, its
# changed/failed/skipped counts, the play's stats and the role's database_relocation_result. Written into
# the work folder and enabled for the measured runs only; profile_tasks (ansible.posix) is not installed.
CALLBACK = '''
from __future__ import annotations

import json
import os
import time

from ansible.plugins.callback import CallbackBase


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "bench_timer"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self):
        super().__init__()
        self.loaded = time.time()
        self.tasks = []
        self.current = None
        self.relocation = None

    def _close(self):
        if self.current is not None:
            self.current["end"] = time.time()
            self.tasks.append(self.current)
            self.current = None

    def v2_playbook_on_task_start(self, task, is_conditional):
        self._close()
        self.current = {"name": task.get_name(), "action": task.action, "start": time.time(),
                        "changed": 0, "failed": 0, "skipped": 0, "ok": 0}

    def v2_playbook_on_handler_task_start(self, task):
        self.v2_playbook_on_task_start(task, False)

    def _count(self, what, result):
        if self.current is not None:
            self.current[what] += 1
            if what == "ok" and result._result.get("changed"):
                self.current["changed"] += 1

    def v2_runner_on_ok(self, result):
        self._count("ok", result)
        facts = result._result.get("ansible_facts") or {}
        if "database_relocation_result" in facts:
            self.relocation = facts["database_relocation_result"]

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._count("failed", result)

    def v2_runner_on_unreachable(self, result):
        self._count("failed", result)

    def v2_runner_on_skipped(self, result):
        self._count("skipped", result)

    def v2_playbook_on_stats(self, stats):
        self._close()
        hosts = sorted(stats.processed)
        out = {"loaded": self.loaded, "stats_at": time.time(), "tasks": self.tasks,
               "stats": {h: stats.summarize(h) for h in hosts}, "relocation": self.relocation}
        with open(os.environ["BENCH_TIMER_OUT"], "w") as handle:
            json.dump(out, handle, default=str)
'''


# --------------------------------------------------------------------------- helpers


def pct(part: float, whole: float) -> str:
    return "%.0f %%" % (100 * part / whole) if whole > 0 else "-"


def cell(value: float, whole: float) -> str:
    return "%s (%s)" % (secs(value), pct(value, whole))


def database_names(count: int) -> list[str]:
    return ["db-%04d" % number for number in range(count)]


def source_certificates(databases: int) -> list[dict[str, str]]:
    return SERVER_WIDE + [{"kind": "database", "identity": name} for name in database_names(databases)]


@dataclass
class Interpreter:
    label: str  # "debian", "venv" or a key of PINNED_PYTHONS
    python: str
    pythonpath: str  # what the module processes need on the host, beside the collection
    cryptography: str = ""
    extra_vars: dict[str, str] = field(default_factory=dict)
    shown: str = ""  # how the report names it

    def describe(self) -> str:
        return "%s (cryptography %s)" % (self.shown or self.python, self.cryptography)


@dataclass
class Playbook:
    """One ansible-playbook run: wall and controller CPU time, and what the callback recorded."""

    seconds: float
    cpu_seconds: float
    timer: dict[str, Any]
    spawned: float  # time.time() at spawn, to place the callback's timestamps
    load: float  # the machine's 1-minute load average at the start

    @property
    def relocation(self) -> dict[str, Any]:
        return self.timer.get("relocation") or {}

    @property
    def changed(self) -> int:
        return sum(stat.get("changed", 0) for stat in self.timer["stats"].values())

    @property
    def role_seconds(self) -> float:
        return float(self.relocation.get("seconds") or 0)


class Bench:
    """The hosts, the work folder, the collection path and the ways to run things on the hosts."""

    def __init__(self, work: Path, hosts: hosts_lib.Hosts, key_size: int):
        self.work = work
        self.hosts = hosts
        self.key_size = key_size
        self.python = sys.executable
        self.coll = work / "collections"
        link = self.coll / "ansible_collections" / "passwordsecure" / "server"
        link.parent.mkdir(parents=True)
        link.symlink_to(REPO, target_is_directory=True)
        (work / "callback_plugins").mkdir()
        (work / "callback_plugins" / "bench_timer.py").write_text(CALLBACK)
        (work / "args").mkdir()
        self.base_env = {k: v for k, v in os.environ.items() if not k.startswith(("ANSIBLE_", "PYTHON"))}
        self.password = secrets.token_urlsafe(24)  # the transfer password: random, in 0600 files only
        self._count = 0
        self.target_store: Path | None = None  # the target's store before a first run: its own SSL certificate
        self.playbook_bin = str(Path(self.python).parent / "ansible-playbook")
        if not os.access(self.playbook_bin, os.X_OK):
            self.playbook_bin = shutil.which("ansible-playbook") or "ansible-playbook"

    def next_file(self, name: str) -> Path:
        self._count += 1
        return self.work / "args" / ("%03d-%s.json" % (self._count, name))

    # -- the module as a process, locally (to make the source's store) or on a host (to measure it)

    def module(self, name: str, options: dict[str, Any], *, what: str, host: str | None = None,
               interpreter: Interpreter | None = None, fails: bool = False) -> tuple[Run, dict, int]:
        """Run a module as a process (inside ``host``'s namespaces when given); returns the run, its result and
        the size of its arguments in bytes."""
        args_file = self.next_file(name)
        text = json.dumps({"ANSIBLE_MODULE_ARGS": dict(options, _ansible_check_mode=False)})
        write_private(args_file, text)  # 0600: the export and import arguments hold the transfer password
        python = interpreter.python if interpreter else self.python
        pythonpath = str(self.coll) + (":" + interpreter.pythonpath if interpreter and interpreter.pythonpath else "")
        argv = [python, str(MODULES / ("%s.py" % name)), str(args_file)]
        env = dict(self.base_env, PYTHONPATH=pythonpath)
        if host is not None:
            holder = self.hosts.host(host).holder_pid
            argv = ["nsenter", "--target", str(holder), "--net", "--mount", "--uts", "--"] + argv
        run = run_process(argv, env=env, cwd=self.work, what=what, exit_code=1 if fails else 0)
        try:
            result = json.loads(run.stdout)
        except ValueError as exc:
            raise BenchmarkError("%s printed no JSON result: %s" % (what, run.stdout[-2000:])) from exc
        if bool(result.get("failed")) != fails:
            raise BenchmarkError("%s %s: %s" % (what, "failed" if not fails else "did not fail", result.get("msg")))
        return run, result, len(text.encode())

    # -- the hosts' stores

    def make_target_store(self) -> float:
        """The target's store as a new server has it: its own SSL connection certificate alone, which the product
        makes at the server's basic configuration, generated for the target's names (its host name and address,
        what the module finds on the host; once, untimed; each first run starts from a copy). Returns the seconds
        it took."""
        store = self.work / "stores" / "target-own-ssl"
        store.parent.mkdir(exist_ok=True)
        run, result, _size = self.module("certificate", {
            "store_path": str(store), "kind": "ssl", "key_size": self.key_size,
            "names": [TARGET, self.hosts.host(TARGET).address],
        }, what="the target's own SSL connection certificate")
        if not result.get("changed"):
            raise BenchmarkError("the certificate module made no SSL connection certificate for the target")
        self.target_store = store
        return run.seconds

    def put_source(self, store: Path) -> None:
        """The source host's store becomes a copy of ``store``; the target's store holds only its own SSL
        connection certificate (``make_target_store``), or nothing before that was made."""
        src, dst = self.hosts.host(SOURCE), self.hosts.host(TARGET)
        self.hosts.run_in(SOURCE, ["sh", "-c", 'rm -rf "$1" && cp -a "$2" "$1"', "sh", str(src.store_path), str(store)])
        self.hosts.run_in(TARGET, ["rm", "-rf", str(dst.store_path)])
        if self.target_store is not None:
            self.hosts.run_in(TARGET, ["cp", "-a", str(self.target_store), str(dst.store_path)])

    def close_connections(self) -> None:
        """Close the ControlPersist connections, so that every measured run opens its own (as a user's does)."""
        hosts_lib._close_control_sockets(self.hosts.dir)  # the harness's own teardown step; idempotent

    # -- ansible-playbook

    def playbook(self, databases: list[str], interpreter: Interpreter, what: str) -> Playbook:
        self.close_connections()
        vars_file = self.next_file("extra-vars")
        report_dir = self.work / "reports"
        write_private(vars_file, json.dumps(dict(
            interpreter.extra_vars,
            database_relocation_source=SOURCE,
            database_relocation_target=TARGET,
            database_relocation_databases=databases,
            database_relocation_password=self.password,
            database_relocation_report_dir=str(report_dir),
        )))
        timer = self.next_file("timer")
        env = self.hosts.env(self.base_env, ANSIBLE_COLLECTIONS_PATH=str(self.coll),
                             ANSIBLE_CALLBACK_PLUGINS=str(self.work / "callback_plugins"),
                             ANSIBLE_CALLBACKS_ENABLED="bench_timer", BENCH_TIMER_OUT=str(timer))
        spawned, load = time.time(), os.getloadavg()[0]
        run = run_process([self.playbook_bin, "passwordsecure.server.relocate_database",
                           "-i", str(self.hosts.inventory), "-e", "@%s" % vars_file],
                          env=env, cwd=self.work, what="ansible-playbook (%s)" % what)
        recorded = json.loads(timer.read_text())
        played = Playbook(run.seconds, run.cpu_seconds, recorded, spawned, load)
        result = played.relocation
        if result.get("status") != "succeeded":
            raise BenchmarkError("%s: the relocation did not succeed: %s" % (what, result.get("failure")))
        proofs = result.get("proofs") or []
        if not proofs or not all(p.get("passed") for p in proofs):
            raise BenchmarkError("%s: not every proof passed" % what)
        return played

    # -- SSH: the time to move N bytes, beyond an empty command

    def ssh_seconds(self, host: str, argv_tail: str, stdin: Path | None) -> float:
        ssh = ["ssh", "-F", str(self.hosts.ssh_config), host, argv_tail]
        times = []
        for _attempt in range(SSH_RUNS):
            with open(stdin if stdin else os.devnull, "rb") as handle:
                start = time.perf_counter()
                subprocess.run(ssh, stdin=handle, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True,
                               timeout=120)
                times.append(time.perf_counter() - start)
        return statistics.median(times)

    def transfer(self, to_host: dict[str, int], from_host: dict[str, int]) -> dict[str, Any]:
        """Seconds to move these byte counts over SSH to and from each host, each minus an empty command's time
        on the same (warm) connection. The bytes are random base64 text, like the PKCS#12 content."""
        measured: dict[str, Any] = {"to": {}, "from": {}, "empty": {}}
        total = 0.0
        for host in sorted(set(to_host) | set(from_host)):
            self.ssh_seconds(host, "true", None)  # opens the master connection
            empty = self.ssh_seconds(host, "true", None)
            measured["empty"][host] = empty
            for direction, counts in (("to", to_host), ("from", from_host)):
                size = counts.get(host, 0)
                blob = self.work / ("blob-%s-%s" % (host, direction))
                blob.write_bytes(base64.b64encode(os.urandom(size * 3 // 4 + 3))[:size])
                if direction == "to":
                    seconds = self.ssh_seconds(host, "cat > /dev/null", blob)
                else:
                    seconds = self.ssh_seconds(host, "cat %s" % blob, None)
                blob.unlink()
                measured[direction][host] = {"bytes": size, "seconds": seconds,
                                             "beyond_empty": max(0.0, seconds - empty)}
                total += max(0.0, seconds - empty)
        measured["seconds"] = total
        measured["bytes"] = sum(to_host.values()) + sum(from_host.values())
        return measured


# --------------------------------------------------------------------------- the source's store


def make_stores(bench: Bench, sizes: list[int], cache: Path | None) -> tuple[dict[int, Path], float | None]:
    """One store per size (databases), made locally with the certificate module: the biggest by generating
    its keys (or taken from ``cache``, where a run with --reuse-store left it), each smaller one as a copy with
    the extra databases removed. Returns the stores and the seconds the key generation took (None: reused), not
    part of any figure."""
    stores: dict[int, Path] = {}
    biggest = max(sizes)
    store = bench.work / "stores" / ("source-%d" % biggest)
    store.parent.mkdir(exist_ok=True)
    kept = cache / ("source-store-rsa%d-%d" % (bench.key_size, biggest)) if cache else None
    seconds = None
    if kept is not None and (kept / "index.json").exists():
        progress("reusing the source store %s" % kept)
        shutil.copytree(kept, store, symlinks=True)
    else:
        progress("generating the source store: %d databases + %d server-wide certificates, RSA-%d (not timed)"
                 % (biggest, len(SERVER_WIDE), bench.key_size))
        run, result, _size = bench.module("certificate", {
            "store_path": str(store), "key_size": bench.key_size, "certificates": source_certificates(biggest),
        }, what="certificate present (%d databases)" % biggest)
        if not result.get("changed"):
            raise BenchmarkError("the certificate module made no store")
        seconds = run.seconds
        if kept is not None:
            shutil.copytree(store, kept, symlinks=True)
    stores[biggest] = store
    for size in sorted(set(sizes) - {biggest}):
        smaller = bench.work / "stores" / ("source-%d" % size)
        shutil.copytree(store, smaller, symlinks=True)
        bench.module("certificate", {
            "store_path": str(smaller), "state": "absent",
            "certificates": [{"kind": "database", "identity": name} for name in database_names(biggest)[size:]],
        }, what="certificate absent (down to %d databases)" % size)
        stores[size] = smaller
    return stores, seconds


# --------------------------------------------------------------------------- the modules on the hosts


def module_runs(bench: Bench, interpreter: Interpreter, databases: list[str], store: Path,
                repeats: int) -> dict[str, Any]:
    """The role's module calls of a first run and of a rerun, as processes on the hosts with the same inputs, in
    the same order, on stores in the same state, ``repeats`` times (the median of each is kept). Returns each
    call's seconds and its argument and result bytes, and the process start."""
    repeated: list[dict[str, dict[str, Any]]] = []
    for _repeat in range(repeats):
        repeated.append(module_pass(bench, interpreter, databases, store))
    runs: dict[str, dict[str, Any]] = {}
    for phase, calls in repeated[0].items():
        runs[phase] = {}
        for key, call in calls.items():
            runs[phase][key] = dict(call, seconds=statistics.median(r[phase][key]["seconds"] for r in repeated),
                                    cpu_seconds=statistics.median(r[phase][key]["cpu_seconds"] for r in repeated),
                                    each_seconds=[r[phase][key]["seconds"] for r in repeated])
    return {"runs": runs, "start": process_start(bench, interpreter), "repeats": repeats}


def module_pass(bench: Bench, interpreter: Interpreter, databases: list[str], store: Path) -> dict[str, Any]:
    """One pass of the role's module calls (first run, then rerun) on fresh stores."""
    src, dst = bench.hosts.host(SOURCE), bench.hosts.host(TARGET)
    bench.put_source(store)
    runs: dict[str, dict[str, Any]] = {"first": {}, "rerun": {}}

    def measure(phase: str, key: str, name: str, host: str, options: dict[str, Any]) -> dict:
        run, result, size = bench.module(name, options, host=host, interpreter=interpreter,
                                         what="%s on %s (%s, %s)" % (name, host, interpreter.label, phase))
        runs[phase][key] = {"seconds": run.seconds, "cpu_seconds": run.cpu_seconds, "host": host,
                            "args_bytes": size, "result_bytes": len(run.stdout.encode())}
        return result

    def pair(phase: str) -> list[dict]:
        measure(phase, "info_source", "certificate_info", SOURCE, {"store_path": str(src.store_path)})
        measure(phase, "info_target", "certificate_info", TARGET, {"store_path": str(dst.store_path)})
        return measure(phase, "challenge", "certificate_proof", SOURCE, {
            "mode": "challenge", "store_path": str(src.store_path), "database": databases})["challenges"]

    def answer(phase: str, challenges: list[dict]) -> None:
        sent = [{k: c[k] for k in ("kind", "identity", "thumbprint", "challenge")} for c in challenges]
        answers = measure(phase, "answer", "certificate_proof", TARGET, {
            "mode": "answer", "store_path": str(dst.store_path), "challenges": sent})["answers"]
        expected = {(c["kind"], c["identity"]): c["expected"] for c in challenges}
        if sorted(expected.values()) != sorted(a.get("answer") or "" for a in answers):
            raise BenchmarkError("certificate_proof answers on %s (%s) do not match the challenges" % (
                TARGET, interpreter.label))

    challenges = pair("first")
    exported = measure("first", "export", "certificate_export", SOURCE, {
        "store_path": str(src.store_path), "database": databases, "return_content": True,
        "password": bench.password, "encryption": "modern"})
    imported = measure("first", "import", "certificate_import", TARGET, {
        "store_path": str(dst.store_path), "content": exported["content"], "password": bench.password,
        "on_conflict": "fail"})
    if len([c for c in imported["certificates"] if c.get("changed")]) != len(databases) + len(SERVER_WIDE):
        raise BenchmarkError("certificate_import on %s did not import every certificate" % TARGET)
    answer("first", challenges)
    answer("rerun", pair("rerun"))
    return runs


def process_start(bench: Bench, interpreter: Interpreter) -> float:
    """The median wall time of a module run on the target that stops before any work."""
    dst = bench.hosts.host(TARGET)
    # The fixed cost every module run pays before any work: a certificate_import that fails at once (its
    # directory holds no PKCS#12 file) starts Python, Ansible's module_utils, cryptography and asn1crypto.
    empty = bench.work / "empty"
    empty.mkdir(exist_ok=True)
    starts = []
    for _number in range(START_RUNS):
        run, result, _size = bench.module("certificate_import", {
            "store_path": str(dst.tmp_dir / "start-store"), "directory": str(empty), "password": bench.password,
        }, host=TARGET, interpreter=interpreter, what="process start (%s)" % interpreter.label, fails=True)
        if "holds no file" not in result.get("msg", ""):
            raise BenchmarkError("the start measurement failed for another reason: %s" % result.get("msg"))
        starts.append(run.seconds)
    return statistics.median(starts)


def split(bench: Bench, played: Playbook, modules: dict[str, Any], phase: str) -> dict[str, Any]:
    """Wall time = module work + process starts + transfer + Ansible (the rest)."""
    runs = modules["runs"][phase]
    start = modules["start"]
    module_total = sum(r["seconds"] for r in runs.values())
    starts = start * len(runs)
    to_host: dict[str, int] = {}
    from_host: dict[str, int] = {}
    for r in runs.values():
        to_host[r["host"]] = to_host.get(r["host"], 0) + r["args_bytes"]
        from_host[r["host"]] = from_host.get(r["host"], 0) + r["result_bytes"]
    moved = bench.transfer(to_host, from_host)
    work = max(0.0, module_total - starts)
    rest = played.seconds - work - starts - moved["seconds"]
    return {"wall": played.seconds, "controller_cpu": played.cpu_seconds, "load": played.load, "module_work": work,
            "process_starts": starts, "module_runs": len(runs), "start": start, "transfer": moved["seconds"],
            "transfer_detail": moved, "ansible": rest}


def task_profile(played: Playbook) -> dict[str, Any]:
    """The callback's tasks: each one's seconds; the time before the first task and after the last."""
    tasks = played.timer["tasks"]
    rows = [{"name": t["name"].split(" : ", 1)[-1], "action": t["action"], "seconds": t["end"] - t["start"],
             "changed": t["changed"], "skipped": t["skipped"]} for t in tasks]
    first = tasks[0]["start"] if tasks else played.timer["stats_at"]
    return {"tasks": rows, "before_first_task": first - played.spawned,
            "after_last_task": played.seconds - (played.timer["stats_at"] - played.spawned)}


REPORT_TASKS = ("Write the report as Markdown and HTML",)  # the action relocation_report


def ansible_parts(profile: dict[str, Any], runs: dict[str, dict[str, Any]]) -> dict[str, float]:
    """Where the wall time goes beyond the modules' own processes: the playbook's start, the host-module tasks
    beyond their module process (SSH, AnsiballZ, arguments and results, transfer included), the report on the
    controller, every other task (set_fact, fail, debug, include: Jinja on the controller), and the end."""
    module_tasks = [t for t in profile["tasks"] if t["name"] in MODULE_TASKS and t["skipped"] == 0]
    beyond = sum(t["seconds"] - runs[MODULE_TASKS[t["name"]]]["seconds"] for t in module_tasks
                 if MODULE_TASKS[t["name"]] in runs)
    report = sum(t["seconds"] for t in profile["tasks"] if t["name"] in REPORT_TASKS)
    others = [t for t in profile["tasks"] if t["name"] not in MODULE_TASKS and t["name"] not in REPORT_TASKS]
    return {"start": profile["before_first_task"], "module_tasks_beyond_module": beyond, "report": report,
            "other_tasks": sum(t["seconds"] for t in others), "other_task_count": len(others),
            "end": profile["after_last_task"]}


# --------------------------------------------------------------------------- one size, one Python


def measure(bench: Bench, interpreter: Interpreter, databases: int, store: Path, repeats: int) -> dict[str, Any]:
    names = database_names(databases)
    certificates = databases + len(SERVER_WIDE)
    label = "%d certificates, %s" % (certificates, interpreter.label)
    progress("%s: first run" % label)
    bench.put_source(store)
    first = bench.playbook(names, interpreter, "%s, first run" % label)
    imported = len(first.relocation.get("imported") or [])
    if imported != certificates:
        raise BenchmarkError("%s: the first run imported %d of %d certificates" % (label, imported, certificates))
    progress("%s: first run %s; rerun" % (label, secs(first.seconds)))
    rerun = bench.playbook(names, interpreter, "%s, rerun" % label)
    # The rerun's one change is its new report on the controller; no store may change.
    if rerun.changed != 1 or rerun.relocation.get("changed") or rerun.relocation.get("imported"):
        raise BenchmarkError("%s: the rerun changed something (%d changed tasks; only the report's write may be)"
                             % (label, rerun.changed))
    progress("%s: rerun %s; the same modules as processes on the hosts, and SSH transfers" % (
        label, secs(rerun.seconds)))
    modules = module_runs(bench, interpreter, names, store, repeats)
    measured: dict[str, Any] = {
        "python": interpreter.describe(), "cryptography": interpreter.cryptography, "certificates": certificates,
        "databases": databases, "modules": modules,
    }
    seen = {t["name"].split(" : ", 1)[-1] for t in first.timer["tasks"]}
    measured["notes"] = ["the role has no task named %r any more: update MODULE_TASKS in this script, or the "
                         "module columns stay empty" % name for name in MODULE_TASKS if name not in seen]
    for note in measured["notes"]:
        progress("note: %s" % note)
    for phase, played in (("first", first), ("rerun", rerun)):
        profile = task_profile(played)
        measured[phase] = {"split": split(bench, played, modules, phase), "phases": played.relocation.get("timings"),
                           "role_seconds": played.role_seconds, "profile": profile,
                           "ansible_parts": ansible_parts(profile, modules["runs"][phase])}
    return measured


# --------------------------------------------------------------------------- the report


def report_size(results: dict[str, dict[str, Any]], key_size: int) -> str:
    """The tables of one size: split, phases, the slowest tasks."""
    labels = list(results)
    any_result = results[labels[0]]
    columns = ["%s, %s" % (label, run) for label in labels for run in ("first run", "rerun")]
    header = ["", *columns]

    def each(get) -> list[str]:
        return [get(results[label][run]) for label in labels for run in ("first", "rerun")]

    rows = [
        ["ansible-playbook, wall time", *each(lambda r: "**%s**" % secs(r["split"]["wall"]))],
        ["module work (cryptography, store I/O)", *each(lambda r: cell(r["split"]["module_work"], r["split"]["wall"]))],
        ["module process starts", *each(lambda r: "%s (%d x %s)" % (
            pct(r["split"]["process_starts"], r["split"]["wall"]), r["split"]["module_runs"],
            secs(r["split"]["start"])))],
        ["transfer over SSH", *each(lambda r: "%s (%s, %.1f MB)" % (
            secs(r["split"]["transfer"]), pct(r["split"]["transfer"], r["split"]["wall"]),
            r["split"]["transfer_detail"]["bytes"] / 1e6))],
        ["Ansible (the rest)", *each(lambda r: cell(r["split"]["ansible"], r["split"]["wall"]))],
        ["controller CPU (ansible-playbook, ssh)", *each(lambda r: secs(r["split"]["controller_cpu"]))],
        ["the role's own clock", *each(lambda r: secs(r["role_seconds"]))],
        ["load average (1 min) at the start", *each(lambda r: "%.2f" % r["split"]["load"])],
    ]
    text = ("Wall time of `ansible-playbook passwordsecure.server.relocate_database` and its split "
            "(%d databases + %d server-wide certificates, RSA-%d; first run: the target's store holds only its own "
            "SSL connection certificate; rerun: nothing to import, verification only):\n\n" % (
                any_result["databases"], len(SERVER_WIDE), key_size)) + table(header, rows)

    parts = [
        ["ansible-playbook's start (before the first task)", "start"],
        ["host-module tasks beyond their module process", "module_tasks_beyond_module"],
        ["the report on the controller (relocation_report)", "report"],
        ["every other task (set_fact, fail, debug, include)", "other_tasks"],
        ["after the last task", "end"],
    ]
    part_rows = [[name, *each(lambda r, key=key: cell(r["ansible_parts"][key], r["split"]["wall"]))]
                 for name, key in parts]
    part_rows.append(["(number of other tasks)", *each(lambda r: str(r["ansible_parts"]["other_task_count"]))])
    text += ("\n\nWhere the time beyond the module processes goes (callback timestamps; a host-module task's "
             "time beyond its module process holds its SSH round trips, AnsiballZ, its arguments and result, "
             "the transfer):\n\n") + table(header, part_rows)

    phase_names: list[str] = []
    for label in labels:
        for run in ("first", "rerun"):
            for phase in results[label][run]["phases"] or []:
                if phase["phase"] not in phase_names:
                    phase_names.append(phase["phase"])
    phase_rows = []
    for name in phase_names:
        phase_rows.append([name, *each(lambda r, name=name: next(
            (secs(float(p["seconds"])) for p in r["phases"] or [] if p["phase"] == name), "-"))])
    phase_rows.append(["outside the role (start, inventory, report)", *each(
        lambda r: secs(r["split"]["wall"] - r["role_seconds"]))])
    text += "\n\nThe role's phases (`database_relocation_result.timings`):\n\n" + table(header, phase_rows)

    task_rows = []
    for label in labels:
        result = results[label]
        profile = result["first"]["profile"]
        runs = result["modules"]["runs"]["first"]
        slowest = sorted(profile["tasks"], key=lambda t: -t["seconds"])[:12]
        for task in slowest:
            module = runs.get(MODULE_TASKS.get(task["name"], ""))
            task_rows.append([label, task["name"], task["action"].split(".")[-1], secs(task["seconds"]),
                              secs(module["seconds"]) if module else "-",
                              secs(task["seconds"] - module["seconds"]) if module else "-"])
    text += ("\n\nThe slowest tasks of the first run (callback timestamps: task start to the next task's start), "
             "and the same module as a process on the host:\n\n") + table(
        ["python", "task", "action", "task", "module process", "difference"], task_rows)
    notes = sorted({note for label in labels for note in results[label]["notes"]})
    if notes:
        text += "\n\n" + "\n".join("Note: %s." % note for note in notes)
    return text


def versions(interpreters: list[Interpreter]) -> str:
    probe = "import ansible.release as r, cryptography; print(r.__version__, cryptography.__version__)"
    found = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    core, crypto = found.stdout.split()
    commit = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"],
                            capture_output=True, text=True, check=False).stdout.strip() or "unknown"
    dirty = subprocess.run(["git", "-C", str(REPO), "status", "--porcelain", "--untracked-files=no"],
                           capture_output=True, text=True, check=False).stdout.strip()
    return "Controller: Python %s, ansible-core %s, cryptography %s. Managed hosts: %s. %d cores, commit %s%s" % (
        sys.version.split()[0], core, crypto,
        "; ".join("%s: %s" % (i.label, i.describe()) for i in interpreters),
        os.cpu_count() or 1, commit, " (modified)" if dirty else "")


def host_venv(work: Path) -> Path:
    """A venv of Debian's Python that sees this venv's packages; returns its python."""
    import site

    probe = subprocess.run([DEBIAN_PYTHON, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
                           capture_output=True, text=True, check=True)
    if probe.stdout.strip() != "%d.%d" % sys.version_info[:2]:
        raise BenchmarkError("%s is Python %s, not %d.%d like this venv: it cannot load this venv's cryptography"
                             % (DEBIAN_PYTHON, probe.stdout.strip(), *sys.version_info[:2]))
    folder = work / "host-venv"
    subprocess.run([DEBIAN_PYTHON, "-m", "venv", "--without-pip", str(folder)], check=True)
    packages = subprocess.run([str(folder / "bin" / "python"), "-c", "import site; print(site.getsitepackages()[0])"],
                              capture_output=True, text=True, check=True).stdout.strip()
    Path(packages, "controller-venv.pth").write_text("".join(p + "\n" for p in site.getsitepackages()))
    return folder / "bin" / "python"


def pinned_host_venv(pins: list[str]) -> Path:
    """A venv of Debian's Python holding only ``pins`` (for example cryptography==36.0.1, as RHEL 9 ships it),
    made once and kept in the results folder; returns its python. The hosts mount a private /root, so the venv
    is made from Debian's Python, not from this one (pyenv's, under /root)."""
    folder = DEFAULT_RESULTS / "host-venvs" / "-".join(p.replace("==", "-") for p in pins)
    python = folder / "bin" / "python"
    stamp = folder / ".pins"
    if stamp.is_file() and stamp.read_text() == " ".join(pins):
        return python
    shutil.rmtree(str(folder), ignore_errors=True)
    subprocess.run([DEBIAN_PYTHON, "-m", "venv", "--without-pip", str(folder)], check=True)
    packages = subprocess.run([str(python), "-c", "import site; print(site.getsitepackages()[0])"],
                              capture_output=True, text=True, check=True).stdout.strip()
    progress("installing %s for the managed hosts into %s" % (" ".join(pins), folder))
    installed = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--disable-pip-version-check",
                                "--target", packages] + pins, capture_output=True, text=True, check=False)
    if installed.returncode != 0:
        raise BenchmarkError("pip could not install %s for the managed hosts: %s"
                             % (" ".join(pins), installed.stderr.strip()[-2000:]))
    stamp.write_text(" ".join(pins))
    return python


# --pythons labels beyond debian and venv: a managed host with the libraries a distribution ships.
PINNED_PYTHONS = {
    "cryptography-36": ["cryptography==36.0.1", "asn1crypto==1.4.0"],  # RHEL 9
    "cryptography-3.4": ["cryptography==3.4.8", "asn1crypto==1.4.0"],  # Ubuntu 22.04
}


def interpreters(wanted: list[str], work: Path) -> tuple[list[Interpreter], list[str]]:
    """The managed-host Pythons: Debian's (with only ansible-core's package added to its path, so that it keeps
    its own cryptography 38) and this venv's; those that cannot run the modules are left out with a note."""
    import ansible

    found, notes = [], []
    ansible_only = work / "ansible-only"
    ansible_only.mkdir()
    (ansible_only / "ansible").symlink_to(Path(ansible.__file__).resolve().parent, target_is_directory=True)
    for label in wanted:
        if label == "debian":
            item = Interpreter("debian", DEBIAN_PYTHON, str(ansible_only))
        elif label in PINNED_PYTHONS:
            python = str(pinned_host_venv(PINNED_PYTHONS[label]))
            item = Interpreter(label, python, str(ansible_only), extra_vars={"ansible_python_interpreter": python},
                               shown="%s with %s" % (DEBIAN_PYTHON, " ".join(PINNED_PYTHONS[label])))
        else:
            python = sys.executable
            if os.path.realpath(python).startswith("/root/"):
                # The hosts mount a private /root, so a venv made from pyenv's Python (/root/.pyenv) cannot
                # start there. The same packages then run on Debian's Python of the same minor version.
                python = str(host_venv(work))
                notes.append("venv: %s resolves to %s, under /root, which the hosts mount privately; its packages "
                             "(cryptography included) run there on %s, Debian's Python %d.%d, through a venv of "
                             "that Python whose .pth file names this venv's site-packages (%s)" % (
                                 sys.executable, os.path.realpath(sys.executable), DEBIAN_PYTHON,
                                 *sys.version_info[:2], python))
            item = Interpreter("venv", python, "", extra_vars={"ansible_python_interpreter": python},
                               shown=sys.executable if python == sys.executable else
                               "%s's packages on %s" % (sys.prefix, DEBIAN_PYTHON))
        probe = subprocess.run([item.python, "-c", "import asn1crypto, cryptography; print(cryptography.__version__)"],
                               capture_output=True, text=True, check=False,
                               env=dict(os.environ, PYTHONPATH=item.pythonpath))
        if probe.returncode != 0:
            notes.append("%s (%s) is left out: it lacks cryptography or asn1crypto" % (label, item.python))
            continue
        item.cryptography = probe.stdout.strip()
        found.append(item)
    return found, notes


# --------------------------------------------------------------------------- main


def _interrupt(signum, frame) -> None:
    raise KeyboardInterrupt("SIGTERM")


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true",
                        help="smoke run for CI: 10 databases (15 certificates), both Pythons")
    parser.add_argument("--sizes", help="comma-separated numbers of databases on the source, each relocated whole "
                                        "with the %d server-wide certificates (default 100,995: 105 and 1000 "
                                        "certificates; 10 with --quick)" % len(SERVER_WIDE))
    parser.add_argument("--pythons", default="debian,venv",
                        help="managed-host Pythons: debian (%s, cryptography 38), venv (this Python), %s (a "
                             "venv of Debian's Python with those versions, made once from PyPI); default "
                             "debian,venv" % (DEBIAN_PYTHON, ", ".join(sorted(PINNED_PYTHONS))))
    parser.add_argument("--key-size", type=int, choices=(2048, 3072, 4096), default=3072,
                        help="RSA key size of the source's certificates (default 3072, the collection's own default)")
    parser.add_argument("--out", type=Path,
                        help="the JSON results file (default benchmarks/results/relocation-<UTC time>.json; "
                             "the printed tables go beside it as .md)")
    parser.add_argument("--module-repeats", type=int,
                        help="passes of the module processes on the hosts, of which each call's median is kept "
                             "(default 3; 1 with --quick)")
    parser.add_argument("--reuse-store", action="store_true",
                        help="keep the generated source store in the results folder and reuse it in later runs "
                             "with this option (saves the key generation, about 90 s for 1000 RSA-3072 keys)")
    parser.add_argument("--keep", action="store_true", help="keep the work folder (stores, arguments, reports)")
    args = parser.parse_args(argv)
    try:
        args.size_list = sorted({int(p) for p in (args.sizes or ("10" if args.quick else "100,995")).split(",")})
    except ValueError:
        parser.error("--sizes takes numbers of databases separated by commas, like 100,995")
    if not args.size_list or min(args.size_list) < 1:
        parser.error("--sizes takes numbers of databases of at least 1")
    args.module_repeats = args.module_repeats or (1 if args.quick else 3)
    if args.module_repeats < 1:
        parser.error("--module-repeats takes a number of at least 1")
    args.python_list = [p.strip() for p in args.pythons.split(",") if p.strip()]
    if not args.python_list or set(args.python_list) - {"debian", "venv"} - set(PINNED_PYTHONS):
        parser.error("--pythons takes a list of debian, venv, %s" % ", ".join(sorted(PINNED_PYTHONS)))
    return args


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    reason = hosts_lib.unusable_reason()
    if reason:
        emit("bench_relocation: skipped: %s" % reason)
        return 0
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    out = args.out or DEFAULT_RESULTS / ("relocation-%s.json" % stamp)
    out.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="relocation-work-", dir=str(DEFAULT_RESULTS if args.out is None
                                                                    else out.parent)))
    # The hosts' run folder holds ssh control sockets: a short path.
    hosts_dir = Path(tempfile.mkdtemp(prefix="psrb-", dir="/tmp"))
    previous = signal.signal(signal.SIGTERM, _interrupt)  # SIGTERM tears the hosts down as Ctrl-C does
    started = time.perf_counter()
    parts: list[str] = []
    numbers: dict[str, Any] = {"key_size": args.key_size, "target_seconds": TARGET_SECONDS, "sizes": {}}
    run = None

    def say(text: str) -> None:
        emit(text)
        parts.append(text)

    try:
        found, notes = interpreters(args.python_list, work)
        if not found:
            raise BenchmarkError("no managed-host Python can run the modules: %s" % "; ".join(notes))
        progress("starting the SSH hosts %s and %s" % (SOURCE, TARGET))
        run = hosts_lib.start(hosts_dir, [SOURCE, TARGET])
        bench = Bench(work, run, args.key_size)
        say("# passwordsecure.server.database_relocation benchmark, %s (%s)\n\n%s\nLoad average at start: %s\n" % (
            stamp, "quick mode" if args.quick else "sizes %s" % ",".join(map(str, args.size_list)),
            versions(found), " ".join("%.2f" % x for x in os.getloadavg())))
        for note in notes:
            say("Note: %s\n" % note)
        stores, generated = make_stores(bench, args.size_list, out.parent if args.reuse_store else None)
        say("The source's stores were made beforehand with the certificate module (RSA-%d, %s for %d certificates; "
            "not part of any figure).\n" % (args.key_size, "reused from an earlier run" if generated is None
                                            else secs(generated), max(args.size_list) + len(SERVER_WIDE)))
        ssl_seconds = bench.make_target_store()
        say("The target's store holds its own SSL connection certificate, as a new server's does (the product makes "
            "it at the basic configuration): generated once beforehand for the target's names (%s, not part of any "
            "figure), so the role's phase ssl keeps it; generating one (a single RSA-%d key) takes 0.6 to 2.6 s "
            "with cryptography 38.\n" % (secs(ssl_seconds), args.key_size))
        verdicts = []
        for databases in args.size_list:
            results = {item.label: measure(bench, item, databases, stores[databases], args.module_repeats)
                       for item in found}
            certificates = databases + len(SERVER_WIDE)
            table = report_size(results, args.key_size)
            say("## %d certificates (%d databases)\n\n%s\n" % (certificates, databases, table))
            numbers["sizes"][str(certificates)] = results
            for label, result in results.items():
                wall = result["first"]["split"]["wall"]
                if certificates >= TARGET_CERTIFICATES:
                    verdicts.append("%s: %d certificates relocated in %s with %s, %s; target under %s for %d" % (
                        "PASS" if wall < TARGET_SECONDS else "MISS", certificates, secs(wall), label,
                        result["python"], secs(TARGET_SECONDS), TARGET_CERTIFICATES))
                else:
                    verdicts.append("not judged: %d certificates in %s with %s (the target is for %d)" % (
                        certificates, secs(wall), label, TARGET_CERTIFICATES))
        say("## Target\n\n" + "\n".join("- %s" % v for v in verdicts) + "\n")
        say("Load average at end: %s. Benchmark wall time: %s." % (
            " ".join("%.2f" % x for x in os.getloadavg()), secs(time.perf_counter() - started)))
    except BenchmarkError as exc:
        sys.stderr.write("benchmark stopped: %s\n" % exc)
        return 1
    except hosts_lib.HostsError as exc:
        sys.stderr.write("benchmark stopped: the SSH hosts: %s\n" % exc)
        return 1
    finally:
        if run is not None:
            run.stop()
        shutil.rmtree(hosts_dir, ignore_errors=True)
        signal.signal(signal.SIGTERM, previous)
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    out.write_text(json.dumps(numbers, indent=1, default=str))
    out.with_suffix(".md").write_text("\n".join(parts) + "\n")
    progress("results written to %s and %s" % (out, out.with_suffix(".md")))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
