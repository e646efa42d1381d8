"""certificate_proof run as Ansible runs it, with the venv's Python and with Debian's (cryptography 38).

The challenge is made by one Python and answered by the other, too: the proof must not depend on the
library version at either end. Every run is checked for secrets in its output by module_process.
"""

from __future__ import annotations

import json
import sys

import pytest

from ansible_collections.passwordsecure.server.plugins.filter.proof_results import FilterModule
from ansible_collections.passwordsecure.server.tests.unit.plugins.module_utils import pfx_corpus as C
from ansible_collections.passwordsecure.server.tests.unit.plugins.module_utils.pfx_corpus import (
    MADE,
    OTHER,
    SALES,
    SERVER_REFS,
    STORE_PASSWORD,
    TRAVELLERS,
)
from ansible_collections.passwordsecure.server.tests.unit.plugins.modules import module_process, old_python

TARGET_PASSWORD = "Target-Store-Secret-8841-q"
SECRETS = (STORE_PASSWORD, TARGET_PASSWORD)
NEW, OLD = "new", "old"


def python(which: str, tmp_path, monkeypatch) -> list:
    if which == NEW:
        return [sys.executable]
    found = old_python.cryptography_of(tmp_path)
    if found is None:
        pytest.skip("no /usr/bin/python3 with cryptography and asn1crypto")
    assert not found[1].startswith(sys.prefix), "the old Python must use its own cryptography"
    monkeypatch.setenv("PYTHONPATH", old_python.ansible_only_path(tmp_path))
    return [old_python.PYTHON]


def run(tmp_path, args: dict, prefix: list, check_mode: bool = False) -> module_process.Run:
    result = module_process.run_module(tmp_path, "certificate_proof", args, prefix=prefix, check_mode=check_mode,
                                       secrets=SECRETS)
    output = result.stdout + result.stderr
    assert "PRIVATE KEY" not in output and "********" not in output, output
    return result


def make(tmp_path, name: str, items, store_password=None) -> str:
    path = str(tmp_path / name)
    C.make_store(path, list(items), store_password)
    return path


@pytest.mark.parametrize("challenger, answerer", [(NEW, NEW), (OLD, OLD), (NEW, OLD)])
def test_challenge_on_one_store_answer_on_another(tmp_path, monkeypatch, snapshot, challenger, answerer):
    source = make(tmp_path, "source", [MADE[ref] for ref in SERVER_REFS], STORE_PASSWORD)
    target = make(tmp_path, "target", [MADE[ref] for ref in SERVER_REFS], TARGET_PASSWORD)
    imposter = make(tmp_path, "imposter", [OTHER[SALES]] + [MADE[ref] for ref in TRAVELLERS], TARGET_PASSWORD)
    before = {path: snapshot(path) for path in (source, target, imposter)}

    made = run(tmp_path, {"mode": "challenge", "store_path": source, "database": ["sales"]},
               python(challenger, tmp_path, monkeypatch))
    assert made.rc == 0 and made.result["changed"] is False
    challenges = made.result["challenges"]
    assert [(c["kind"], c["identity"]) for c in challenges] == [tuple(SALES)] + [tuple(ref) for ref in TRAVELLERS]

    prefix = python(answerer, tmp_path, monkeypatch)
    args = {"mode": "answer", "store_path": target, "challenges": challenges, "store_password": TARGET_PASSWORD}
    answered = run(tmp_path, args, prefix)
    checked = run(tmp_path, args, prefix, check_mode=True)
    assert answered.rc == 0 and answered.result["changed"] is False and checked.result["changed"] is False
    assert answered.result["answers"] == checked.result["answers"]
    assert [a["answer"] for a in answered.result["answers"]] == [c["expected"] for c in challenges]
    assert all(a["error"] is None for a in answered.result["answers"])

    refused = run(tmp_path, dict(args, store_path=imposter), prefix)
    assert refused.rc == 0
    sales = refused.result["answers"][0]
    assert sales["answer"] is None and sales["error"].startswith("thumbprint differs: source %s, this host %s"
                                                                 % (C.thumbprint(MADE[SALES]),
                                                                    C.thumbprint(OTHER[SALES])))
    assert challenges[0]["expected"] not in refused.stdout  # expected came in and never went out
    assert '"expected"' not in refused.stdout and '"expected"' not in answered.stdout

    verdict = FilterModule().filters()["proof_results"]
    assert [v["passed"] for v in verdict(challenges, answered.result["answers"])] == [True] * len(challenges)
    assert [v["passed"] for v in verdict(challenges, refused.result["answers"])] == [False] + [True] * len(TRAVELLERS)
    assert {path: snapshot(path) for path in before} == before


def test_challenge_in_check_mode_and_without_a_store_password(tmp_path, snapshot):
    source = make(tmp_path, "source", [MADE[ref] for ref in SERVER_REFS], STORE_PASSWORD)
    before = snapshot(source)
    checked = run(tmp_path, {"mode": "challenge", "store_path": source, "kind": "database", "identity": "hr"},
                  [sys.executable], check_mode=True)
    assert checked.rc == 0 and checked.result["changed"] is False
    assert [(c["kind"], c["identity"]) for c in checked.result["challenges"]] == [("database", "hr")]
    assert snapshot(source) == before


@pytest.mark.parametrize(
    "args, words",
    [
        ({"mode": "answer", "challenges": [{"kind": "database", "identity": "sales", "thumbprint": "AB" * 20,
                                            "challenge": "%%%"}]},
         ["challenges[0].challenge is not base64", "mode=challenge"]),
        ({"mode": "answer", "challenges": [{"kind": "database", "identity": "sales", "challenge": "AA=="}]},
         ["challenges[0] lacks thumbprint"]),
        ({"mode": "answer", "challenges": [], "store_password": STORE_PASSWORD},
         ["store_password is not the password"]),
        ({"mode": "answer"}, ["mode is answer", "challenges"]),
        ({"mode": "challenge", "challenges": []}, ["challenges goes with mode=answer"]),
        ({"mode": "challenge", "database": ["sales"], "kind": "database"}, ["mutually exclusive"]),
        ({"mode": "challenge", "identity": "sales"}, ["kind"]),
        ({"mode": "prove"}, ["mode", "challenge, answer"]),
    ],
)
def test_bad_input_fails_cleanly(tmp_path, args, words):
    target = make(tmp_path, "target", [MADE[SALES]], TARGET_PASSWORD)
    failed = run(tmp_path, dict(args, store_path=target), [sys.executable])
    assert failed.rc != 0 and failed.result["failed"] is True
    for word in words:
        assert word in failed.result["msg"], failed.result["msg"]


def test_the_filter_turns_bad_input_into_a_filter_error():
    from ansible.errors import AnsibleFilterError

    with pytest.raises(AnsibleFilterError, match="proof_results: answers is not a list"):
        FilterModule().filters()["proof_results"]([], {"answers": []})
    assert json.dumps(FilterModule().filters()["proof_results"]([], [])) == "[]"
