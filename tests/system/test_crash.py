# Copyright (c) passwordsecure.server contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Crash safety: kill -9 the real ``certificate`` module at seeded random moments of bulk runs.

Phase 1 creates 200 certificates (all five kinds) in a new store. Phase 2 runs exclusive changes on
that store, each adding 30 certificates and removing 30; its runs are short, so most kills are there.
Each kill lands at a random time within the run (the phase's first kill measures how long a run
takes) or at a random event of the write phase: the journal appearing, the k-th new entry file
appearing, or the index being replaced (in phase 2 that crashes the removal of the dropped files).
After every kill the store must read, with ``store.load`` and with our own reader that hashes and
parses every file, as exactly the old set or exactly the new one, every kept certificate unchanged.
A rerun then converges and leaves no temp, journal or unreferenced file behind.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import time
from collections import Counter
from contextlib import suppress
from pathlib import Path

from ansible_collections.passwordsecure.server.plugins.module_utils import store as store_lib

SEED = 20261126
KINDS = ("database", "master_key", "discovery_service", "password_reset", "server_encryption")
BEFORE, WRITING, PENDING, AFTER = (
    "before writing",
    "writing, index not replaced",
    "index replaced, cleanup pending",
    "after the last write",
)


def bulk_refs() -> list[tuple[str, str]]:
    return (
        [("server_encryption", "")]
        + [("database", "db-%03d" % i) for i in range(150)]
        + [("master_key", "d%02d.example.com" % i) for i in range(20)]
        + [("discovery_service", "scan-%02d" % i) for i in range(15)]
        + [("password_reset", "reset-%02d" % i) for i in range(14)]
    )


def new_refs(trial: int, count: int) -> list[tuple[str, str]]:
    kinds = ("database", "database", "database", "master_key", "discovery_service", "password_reset")
    refs = []
    for i in range(count):
        kind = kinds[i % len(kinds)]
        name = "t%02d-%02d" % (trial, i)
        refs.append((kind, "%s.example.com" % name if kind == "master_key" else name))
    return refs


def entry_names(store: Path) -> set[str]:
    try:
        return {n for n in os.listdir(store / "entries") if not n.startswith(".tmp-")}
    except FileNotFoundError:
        return set()


def index_id(store: Path) -> tuple[int, int] | None:
    try:
        st = os.stat(store / "index.json")
    except FileNotFoundError:
        return None
    return st.st_ino, st.st_mtime_ns


def journal_bytes(store: Path) -> bytes | None:
    try:
        return (store / "journal.json").read_bytes()
    except FileNotFoundError:
        return None


class Crasher:
    """Runs the module against one store and kills it; checks what each kill left."""

    def __init__(self, t, workdir: Path):
        self.t = t
        self.workdir = workdir
        self.kills = 0
        self.outcomes: Counter = Counter()
        self.timeline: list[str] = []

    def options(self, store: Path, refs, exclusive: bool = False) -> dict:
        opts = {"store_path": str(store), "certificates": self.t.certificates(refs), "key_size": 2048}
        if exclusive:
            opts.update(exclusive=True, exclusive_kinds=list(KINDS))
        return opts

    def run_and_kill(self, opts: dict, name: str, store: Path, plan: tuple) -> float | None:
        """Run the module, kill -9 it when ``plan`` says; return when its first new entry file appeared."""
        before_files, before_index = entry_names(store), index_id(store)
        before_journal = journal_bytes(store)
        process, _args = self.t.start_module("certificate", opts, self.workdir, name)
        started = time.monotonic()
        first_entry = None
        if plan[0] == "time":
            with suppress(subprocess.TimeoutExpired):
                process.wait(timeout=plan[1])
        else:
            while process.poll() is None:
                fresh = len(entry_names(store) - before_files)
                if fresh and first_entry is None:
                    first_entry = time.monotonic() - started
                if (
                    (plan[0] == "entries" and fresh >= plan[1])
                    or (plan[0] == "journal" and journal_bytes(store) not in (None, before_journal))
                    or (plan[0] == "index" and index_id(store) != before_index)
                ):
                    break
                time.sleep(0.0005)
        process.kill()  # SIGKILL; nothing if it has already ended
        process.wait()
        killed = process.returncode == -signal.SIGKILL
        self.kills += killed
        self.last = (name, plan, time.monotonic() - started, killed, before_files, before_journal)
        return first_entry

    def check(self, store: Path, old: dict, target_refs: set, kept_refs: set) -> dict:
        """What the last kill left must be a whole store, the old set or the new one; return its records."""
        name, plan, took, killed, before_files, before_journal = self.last
        loaded = store_lib.load(str(store))  # verifies every file against the index; must not raise
        records = self.t.read_store(store)  # our own reader: index.json, file hashes, certificates, keys
        assert {self.t.ref_of(r.kind, r.identity): rec["thumbprint"] for r, rec in loaded.records.items()} == {
            ref: rec["thumbprint"] for ref, rec in records.items()
        }
        now, then = self.t.summary(records), self.t.summary(old)
        kept = {ref: v for ref, v in then.items() if ref in kept_refs}
        assert {ref: now.get(ref) for ref in kept} == kept, "%s: a kept certificate was lost or changed" % name
        assert now == then or set(now) == target_refs, "%s: the store is neither the old set nor the new" % name
        left = self.t.leftovers(store)
        if now != then:
            where = PENDING if left else AFTER
        elif entry_names(store) - before_files or journal_bytes(store) not in (None, before_journal):
            where = WRITING
        else:
            where = BEFORE
        self.outcomes[(name[:2], where)] += 1
        shown = plan[0] if len(plan) == 1 else "%s %.4g" % plan
        how = "killed after" if killed else "ENDED (not killed) after"
        self.timeline.append("%s %-14s %s %5.2fs: %s" % (name, shown, how, took, where))
        print(self.timeline[-1], flush=True)  # noqa: T201
        return records

    def converge(self, store: Path, opts: dict, name: str, records: dict, target_refs: set) -> dict:
        """A rerun completes the change, a further one changes nothing; no file is left over."""
        left = self.t.leftovers(store)
        first = self.t.run_module("certificate", opts, self.workdir, name + "-rerun")
        self.timeline.append("%s rerun: changed %s, %d leftover file(s) removed" % (name, first["changed"], len(left)))
        assert first["changed"] is (set(records) != target_refs)
        final = self.t.read_store(store)
        assert set(final) == target_refs
        assert self.t.leftovers(store) == []
        assert self.t.run_module("certificate", opts, self.workdir, name + "-again")["changed"] is False
        assert self.t.summary(self.t.read_store(store)) == self.t.summary(final)
        return final

    def report(self) -> str:
        counts = ["%3d  %s %s" % (n, phase, where) for (phase, where), n in sorted(self.outcomes.items())]
        return "\n".join(["kills: %d (seed %d)" % (self.kills, SEED)] + self.timeline + counts)


def test_kill_9_at_random_moments_never_loses_or_damages_a_certificate(tmp_path, tools):
    rng = random.Random(SEED)
    crash = Crasher(tools, tmp_path)

    # ---------------------------------------------------------- phase 1: 200 certificates into a new store
    bulk = bulk_refs()
    target = set(bulk)
    store = tmp_path / "store-1"
    # The first kill waits for an entry file, which also measures key generation: the times come after it.
    plan = [("entries", rng.randint(1, 199))]
    rest = [("time",)] * 4 + [("entries", rng.randint(1, 199)), ("journal",)]
    rng.shuffle(rest)
    plan += rest + [("index",)]  # the rerun must then remove the journal, though it has nothing else to do
    duration = 0.0
    records: dict = {}
    for number, step in enumerate(plan):
        if set(records) == target:  # a kill after the commit completed this store: go on with a new one
            store, records = tmp_path / ("store-1-%02d" % number), {}
        if step[0] == "time":
            step = ("time", rng.uniform(0, duration))
        first_entry = crash.run_and_kill(crash.options(store, bulk), "p1-%02d" % number, store, step)
        if number == 0:
            assert first_entry is not None, "no entry file appeared"
        if first_entry is not None:  # the shortest run seen: key generation, then writing 200 files
            duration = min(duration or 1e9, first_entry + 0.3)
        records = crash.check(store, records, target, set(records))
    final = crash.converge(store, crash.options(store, bulk), "p1", records, target)

    # ------------------------------- phase 2: exclusive runs that add 30 and remove 30, crashed as well
    plan = [("entries", rng.randint(1, 29))]
    rest = [("time",)] * 7 + [("entries", rng.randint(1, 29)) for _round in range(3)]
    rest += [("journal",)] + [("index",)] * 4
    rng.shuffle(rest)
    # The last two: one crashes the removal of the dropped files, and a rerun with nothing else to do
    # must remove them; one surely lands before the index, and a rerun must finish its work.
    plan += rest + [("index",), ("entries", rng.randint(1, 25))]
    records = final
    for number, step in enumerate(plan):
        kept = set(rng.sample(sorted(records), len(records) - 30))
        wanted = sorted(kept) + new_refs(number, 30)
        opts = crash.options(store, wanted, exclusive=True)
        if step[0] == "time":
            step = ("time", rng.uniform(0, duration))
        first_entry = crash.run_and_kill(opts, "p2-%02d" % number, store, step)
        if number == 0:
            assert first_entry is not None, "no entry file appeared"
            duration = 0.0
        if first_entry is not None:
            duration = min(duration or 1e9, first_entry + 0.1)
        records = crash.check(store, records, set(wanted), kept)
        if number == len(plan) - 2:
            records = crash.converge(store, opts, "p2-%02d" % number, records, set(wanted))
    assert crash.outcomes[("p2", PENDING)] >= 1, "no kill left dropped files behind"
    final = crash.converge(store, opts, "p2", records, set(wanted))

    report = crash.report()
    print("\n" + report, flush=True)  # noqa: T201
    assert crash.kills >= 20, report
    # The kills that matter most: files on disk that the index does not name (yet, or any longer).
    assert sum(n for (_phase, where), n in crash.outcomes.items() if where in (WRITING, PENDING)) >= 5, report
    assert crash.outcomes[("p2", WRITING)] + crash.outcomes[("p2", PENDING)] >= 2, report

    # Independent readers of the final store: certificate_info, and openssl on a few entry files.
    info = tools.run_module("certificate_info", {"store_path": str(store)}, tmp_path, "info")
    assert {tools.ref_of(c["kind"], c["identity"]): c["thumbprint"] for c in info["certificates"]} == {
        ref: rec["thumbprint"] for ref, rec in final.items()
    }
    for ref in rng.sample(sorted(final), 3):
        path = str(store / final[ref]["file"])

        def openssl(*args: str, path: str = path) -> str:
            return subprocess.run(["openssl", *args, "-in", path], capture_output=True, text=True, check=True).stdout

        fingerprint = openssl("x509", "-noout", "-fingerprint", "-sha1")
        assert fingerprint.strip().split("=", 1)[1].replace(":", "") == final[ref]["thumbprint"]
        assert openssl("x509", "-noout", "-pubkey") == openssl("pkey", "-pubout")
