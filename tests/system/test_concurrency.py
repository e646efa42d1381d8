# Copyright (c) passwordsecure.server contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Concurrency: real module processes writing one store at once, and readers watching them.

Writers are serialised by the store's lock and plan again under it, so overlapping requests create a
shared certificate exactly once; readers (``store.load`` in a loop in its own process, and
``certificate_info`` processes one after another) must only ever see whole states: each writer's
change all there or not at all, never an error.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

from ansible_collections.passwordsecure.server.plugins.module_utils import store as store_lib

SHARED = [("server_encryption", ""), ("master_key", "corp.example.com"), ("database", "shared")]

# A reader in its own process: store.load in a loop until told to stop. Until the index exists it
# does not pause at all, to catch a first writer's commit in the act. After its first load it says it is
# ready, so that the writers start only once it has seen the state before them.
READER = r"""
import json, os, sys, time
from ansible_collections.passwordsecure.server.plugins.module_utils import store
path, stop, out, ready = sys.argv[1:5]
states, errors, loads = set(), [], 0
while not os.path.exists(stop):
    try:
        index = store.load(path)
        states.add(tuple(sorted((r.kind, r.identity or "", rec["thumbprint"]) for r, rec in index.records.items())))
    except Exception as exc:
        errors.append("%s: %s" % (type(exc).__name__, exc))
    loads += 1
    if loads == 1:
        open(ready, "w").close()
    if os.path.exists(os.path.join(path, "index.json")):
        time.sleep(0.001)
with open(out, "w") as handle:
    json.dump({"loads": loads, "states": sorted(states), "errors": errors[:20]}, handle)
"""


class Readers:
    """A store.load loop process and a thread running certificate_info processes, while writers run."""

    def __init__(self, t, workdir: Path, store: Path):
        self.t, self.workdir, self.store = t, workdir, store
        self.stop = workdir / "stop-readers"
        self.out = workdir / "reader.json"
        self.ready = workdir / "reader-ready"
        self.infos: list[dict] = []
        self.info_errors: list[str] = []
        self.done = threading.Event()

    def __enter__(self) -> Readers:
        self.process = subprocess.Popen(
            [sys.executable, "-c", READER, str(self.store), str(self.stop), str(self.out), str(self.ready)],
            env=self.t.module_env(),
        )
        # On a busy machine the reader's start can take longer than a writer's whole run: wait for its first load,
        # or the test would miss the state before the writers by chance, not by a fault of the store.
        deadline = time.monotonic() + 60
        while not self.ready.exists():
            assert self.process.poll() is None, "the reader process ended before its first load"
            assert time.monotonic() < deadline, "the reader process made no load in 60 s"
            time.sleep(0.01)
        self.thread = threading.Thread(target=self._infos)
        self.thread.start()
        return self

    def _infos(self) -> None:
        number = 0
        while not self.done.is_set():
            process, out = self.t.start_module("certificate_info", {"store_path": str(self.store)}, self.workdir,
                                               "info-%03d" % number)
            try:
                self.infos.append(self.t.result_of(process, out))
            except AssertionError as exc:
                self.info_errors.append(str(exc))
            number += 1

    def __exit__(self, *exc_info) -> None:
        self.done.set()
        self.thread.join()
        self.stop.touch()
        self.process.wait(timeout=60)

    def states(self) -> list[dict[tuple[str, str], str]]:
        """Every store state the readers saw, as {ref: thumbprint}; asserts they saw no error."""
        seen = json.loads(self.out.read_text())
        assert seen["errors"] == [] and self.info_errors == [], (seen["errors"], self.info_errors)
        assert seen["loads"] > 0 and self.infos
        states = [{(kind, identity): thumbprint for kind, identity, thumbprint in state} for state in seen["states"]]
        states += [
            {self.t.ref_of(c["kind"], c["identity"]): c["thumbprint"] for c in info["certificates"]}
            for info in self.infos
        ]
        return states


def options(store: Path, t, refs, **extra) -> dict:
    return dict({"store_path": str(store), "certificates": t.certificates(refs), "key_size": 2048}, **extra)


def run_at_once(t, workdir: Path, requests: dict[str, dict]) -> dict[str, dict]:
    started = {name: t.start_module("certificate", opts, workdir, name) for name, opts in requests.items()}
    return {name: t.result_of(process, out) for name, (process, out) in started.items()}


def by_ref(t, result: dict) -> dict[tuple[str, str], dict]:
    return {t.ref_of(c["kind"], c["identity"]): c for c in result["certificates"]}


def assert_whole(states, groups, always=frozenset()) -> None:
    """Each group (one writer's change) is in a state entirely or not at all; ``always`` is in every one."""
    for state in states:
        for group in groups:
            assert len(set(state) & group) in (0, len(group)), "a reader saw part of a change: %s" % sorted(group)
        assert always <= set(state)


def assert_stable_thumbprints(states, final: dict) -> None:
    """A certificate never changes once made: every sighting has the final thumbprint (or it was removed)."""
    for state in states:
        for ref, thumbprint in state.items():
            if ref in final:
                assert thumbprint == final[ref]["thumbprint"], ref


def test_four_writers_with_overlapping_sets_create_each_certificate_once(tmp_path, tools):
    t = tools
    store = tmp_path / "store"
    own = {"w%d" % i: [("database", "w%d-db%02d" % (i, j)) for j in range(12)] for i in range(4)}
    own["w3"].append(("master_key", "w3.example.com"))
    requests = {name: options(store, t, refs + SHARED) for name, refs in own.items()}

    with Readers(t, tmp_path, store) as readers:
        results = run_at_once(t, tmp_path, requests)

    final = t.read_store(store)
    wanted = set(SHARED).union(*own.values())
    assert set(final) == wanted and len(final) == len(wanted)  # each exactly once (read_store refuses doubles)
    assert t.leftovers(store) == []
    for name, result in results.items():
        certs = by_ref(t, result)
        assert all(certs[ref]["changed"] for ref in own[name])
        assert {ref: c["thumbprint"] for ref, c in certs.items()} == {ref: final[ref]["thumbprint"] for ref in certs}
    for ref in SHARED:
        assert [by_ref(t, r)[ref]["changed"] for r in results.values()].count(True) == 1, ref
    # Whoever won the lock first made the shared certificates, and every run changed something.
    assert all(r["changed"] for r in results.values())

    states = readers.states()
    assert_whole(states, [set(refs) for refs in own.values()])
    assert all(not state or set(SHARED) <= set(state) for state in states)
    assert_stable_thumbprints(states, final)
    assert any(set(state) == wanted for state in states)


def test_two_removers_and_two_adders_at_once_leave_exactly_the_expected_set(tmp_path, tools):
    t = tools
    store = tmp_path / "store"
    base = [("server_encryption", ""), ("master_key", "corp.example.com"), ("master_key", "lab.example.com")]
    base += [("database", "base-%02d" % i) for i in range(24)]
    t.run_module("certificate", options(store, t, base), tmp_path, "base")
    before = t.read_store(store)

    gone_1 = [("database", "base-%02d" % i) for i in range(0, 8)]
    gone_2 = [("database", "base-%02d" % i) for i in range(8, 16)] + [("master_key", "lab.example.com")]
    gone_both = [("database", "base-20")]
    new_1 = [("database", "add1-%02d" % i) for i in range(10)] + [("discovery_service", "scan")]
    new_2 = [("database", "add2-%02d" % i) for i in range(10)] + [("password_reset", "self-service")]
    new_both = [("database", "new-shared")]
    kept_asked = [("database", "base-16")]  # already there: an adder that asks for it must keep it
    requests = {
        "remove-1": options(store, t, gone_1 + gone_both, state="absent"),
        "remove-2": options(store, t, gone_2 + gone_both, state="absent"),
        "add-1": options(store, t, new_1 + new_both + kept_asked),
        "add-2": options(store, t, new_2 + new_both + kept_asked),
    }

    with Readers(t, tmp_path, store) as readers:
        results = run_at_once(t, tmp_path, requests)

    final = t.read_store(store)
    expected = (set(base) - set(gone_1) - set(gone_2) - set(gone_both)) | set(new_1) | set(new_2) | set(new_both)
    assert set(final) == expected
    assert t.leftovers(store) == []
    untouched = {ref: rec for ref, rec in before.items() if ref in expected}
    assert t.summary({ref: final[ref] for ref in untouched}) == t.summary(untouched)

    for name, gone in (("remove-1", gone_1), ("remove-2", gone_2)):
        certs = by_ref(t, results[name])
        assert all(certs[ref]["changed"] and certs[ref]["state"] == "absent" for ref in gone)
        assert certs[gone_both[0]]["thumbprint"] in (before[gone_both[0]]["thumbprint"], None)
    assert [by_ref(t, results[n])[gone_both[0]]["changed"] for n in ("remove-1", "remove-2")].count(True) == 1
    for name, new in (("add-1", new_1), ("add-2", new_2)):
        certs = by_ref(t, results[name])
        assert all(certs[ref]["changed"] and certs[ref]["thumbprint"] == final[ref]["thumbprint"] for ref in new)
        assert certs[kept_asked[0]]["changed"] is False
        assert certs[kept_asked[0]]["thumbprint"] == before[kept_asked[0]]["thumbprint"]
        assert certs[new_both[0]]["thumbprint"] == final[new_both[0]]["thumbprint"]
    assert [by_ref(t, results[n])[new_both[0]]["changed"] for n in ("add-1", "add-2")].count(True) == 1

    states = readers.states()
    assert_whole(states, [set(gone_1), set(gone_2), set(new_1), set(new_2)], always=frozenset(untouched))
    assert_stable_thumbprints(states, {**before, **final})
    assert any(set(state) == set(before) for state in states) and any(set(state) == expected for state in states)


def test_a_reader_racing_the_first_write_of_a_new_store_sees_nothing_or_everything(tmp_path, tools):
    """The moment a new store's index appears is the one a reader cannot lock around: watch it closely."""
    t = tools
    refs = [("database", "db-%02d" % i) for i in range(12)]
    for round_ in range(6):
        store = tmp_path / ("store-%d" % round_)
        process, out = t.start_module("certificate", options(store, t, refs), tmp_path, "first-%d" % round_)
        seen = set()
        while process.poll() is None:
            index = store_lib.load(str(store))  # no pause, no exception
            seen.add((index.exists, len(index.records)))
        t.result_of(process, out)
        assert seen <= {(False, 0), (True, len(refs))}, seen
        assert os.path.exists(store / "index.json") and len(t.read_store(store)) == len(refs)
