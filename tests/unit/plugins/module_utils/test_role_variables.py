"""module_utils/role_variables.py and the lookup unknown_role_variables: a role's variables it does not know.

The roles' own files are the witnesses: every variable with a role's prefix that its tasks, defaults and vars read
must be known to its argument spec or be a result the role sets (else the role would warn about itself), and the
names each role's task tells the lookup to ignore must be exactly the results it sets.
"""

from __future__ import annotations

import difflib
import os
import re

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from ansible_collections.passwordsecure.server.plugins.module_utils import role_variables
from ansible_collections.passwordsecure.server.plugins.module_utils.errors import InvalidRequestError
from ansible_collections.passwordsecure.server.plugins.module_utils.role_variables import (
    Unknown,
    closest,
    known_names,
    unknown_variables,
    warning,
)

ROOT = os.path.abspath(os.path.join(os.path.dirname(role_variables.__file__), os.pardir, os.pardir))
ROLES = ("certificates", "database_relocation", "certificate_backup", "client_trust")


def role_files(role: str) -> dict[str, str]:
    """Every YAML file of the role's tasks, defaults and vars: path -> text."""
    found = {}
    for part in ("tasks", "defaults", "vars"):
        folder = os.path.join(ROOT, "roles", role, part)
        for name in sorted(os.listdir(folder)) if os.path.isdir(folder) else ():
            with open(os.path.join(folder, name), encoding="utf-8") as handle:
                found[os.path.join(part, name)] = handle.read()
    return found


def role_known(role: str) -> set[str]:
    with open(os.path.join(ROOT, "roles", role, "meta", "argument_specs.yml"), encoding="utf-8") as handle:
        return known_names(yaml.safe_load(handle))


def results_set(role: str) -> set[str]:
    """The variables with the role's prefix that its tasks set: registered results and set_fact keys."""
    found = set()
    for path, text in role_files(role).items():
        if not path.startswith("tasks"):
            continue
        for task in yaml.safe_load(text) or []:
            for each in [task] + task.get("block", []) + task.get("rescue", []) + task.get("always", []):
                if str(each.get("register", "")).startswith(role + "_"):
                    found.add(each["register"])
                facts = each.get("ansible.builtin.set_fact") or {}
                found.update(name for name in facts if name.startswith(role + "_"))
    return found


def ignored_by_the_role(role: str) -> list[list[str]]:
    """The ignore lists of the role's calls of the lookup, in its task files."""
    calls = []
    for text in role_files(role).values():
        call = r"query\('passwordsecure\.server\.unknown_role_variables', role_path, ignore=(\[.*?\])\)"
        for match in re.finditer(call, text):
            calls.append(yaml.safe_load(match.group(1)))
    return calls


# --------------------------------------------------------------------------- the roles themselves


@pytest.mark.parametrize("role", ROLES)
def test_every_variable_a_role_reads_is_known_or_a_result_it_sets(role):
    used = set()
    for text in role_files(role).values():
        used.update(re.findall(r"(?<![\w.])%s_\w+" % role, text))
    assert used, role
    assert sorted(used - role_known(role) - results_set(role)) == []
    assert unknown_variables(used, prefix=role + "_", known=role_known(role), ignore=results_set(role)) == []


@pytest.mark.parametrize("role", ROLES)
def test_each_role_warns_once_per_run_and_ignores_exactly_the_results_it_sets(role):
    calls = ignored_by_the_role(role)
    assert len(calls) == 1, calls  # one task: both entry points of certificate_backup share its preflight
    assert sorted(calls[0]) == sorted(results_set(role))
    assert results_set(role)  # every role sets a result of its own


def test_the_results_the_roles_set_are_the_ones_documented():
    assert {role: sorted(results_set(role)) for role in ROLES} == {
        "certificates": ["certificates_result"],
        "database_relocation": ["database_relocation_result"],
        "certificate_backup": ["certificate_backup_restore_result", "certificate_backup_result"],
        "client_trust": ["client_trust_result"],
    }


# --------------------------------------------------------------------------- known_names


def test_known_names_are_every_entry_points_options():
    specs = {"argument_specs": {"main": {"options": {"a_x": {}, "a_y": {}}}, "restore": {"options": {"a_z": {}}},
                                "empty": {}}}
    assert known_names(specs) == {"a_x", "a_y", "a_z"}
    assert "certificate_backup_restore" in role_known("certificate_backup")  # from the entry point restore
    assert "certificate_backup_keep" in role_known("certificate_backup")  # from main


@pytest.mark.parametrize(
    ("specs", "words"),
    [
        (None, "holds no argument_specs with an entry point"),
        ({}, "holds no argument_specs with an entry point"),
        ({"argument_specs": {}}, "holds no argument_specs with an entry point"),
        ({"argument_specs": {"main": {"options": ["a"]}}},
         "the entry point main of x.yml has no dictionary of options"),
        ({"argument_specs": {"main": "text"}}, "the entry point main of x.yml has no dictionary of options"),
    ],
)
def test_an_argument_spec_that_is_none_is_refused(specs, words):
    with pytest.raises(InvalidRequestError, match=re.escape(words)):
        known_names(specs, where="x.yml")


# --------------------------------------------------------------------------- unknown_variables and closest


def test_unknown_variables_have_the_prefix_and_are_neither_known_nor_ignored():
    known = role_known("certificates")
    names = ["certificates_database", "certificates_databases", "certificates_result", "__certificates_wanted",
             "other_certificates_x", "certificate_backup_dir", "certificates_zzzz", 7, None, "certificates_keysize",
             "certificates_database"]
    assert unknown_variables(names, prefix="certificates_", known=known, ignore=["certificates_result"]) == [
        Unknown("certificates_database", "certificates_databases"),
        Unknown("certificates_keysize", "certificates_key_size"),
        Unknown("certificates_zzzz", None),
    ]
    assert unknown_variables([], prefix="certificates_", known=known) == []


@pytest.mark.parametrize(
    ("role", "name", "suggestion"),
    [
        ("certificates", "certificates_database", "certificates_databases"),
        ("certificates", "certificates_master_key_domains", "certificates_masterkey_domains"),
        ("certificates", "certificates_remove_unlited", "certificates_remove_unlisted"),
        ("certificates", "certificates_store_path", "passwordsecure_store_path"),  # another prefix, same rest
        ("certificates", "certificates_certificates", None),
        ("database_relocation", "database_relocation_databse", "database_relocation_databases"),
        ("database_relocation", "database_relocation_remove_source", "database_relocation_remove_from_source"),
        ("database_relocation", "database_relocation_report_directory", "database_relocation_report_dir"),
        ("certificate_backup", "certificate_backup_restore_from", "certificate_backup_restore_from_host"),
        ("certificate_backup", "certificate_backup_keeps", "certificate_backup_keep"),
        ("client_trust", "client_trust_servers", "client_trust_server"),
        ("client_trust", "client_trust_update_cmd", "client_trust_update_command"),
        ("client_trust", "client_trust_zzz", None),
    ],
)
def test_the_closest_known_name_is_offered(role, name, suggestion):
    assert closest(name, prefix=role + "_", known=role_known(role)) == suggestion


_EDIT = st.sampled_from(["delete", "insert", "replace", "swap"])


@settings(max_examples=300, deadline=None, database=None)
@given(st.sampled_from(ROLES), st.data())
def test_a_one_letter_typo_gets_a_suggestion_at_least_as_alike_as_the_name_meant(role, data):
    prefix = role + "_"
    known = sorted(role_known(role))
    meant = data.draw(st.sampled_from([name for name in known if name.startswith(prefix)]))
    rest = meant[len(prefix):]
    at = data.draw(st.integers(min_value=0, max_value=len(rest) - 1))
    letter = data.draw(st.sampled_from("abcdefghijklmnopqrstuvwxyz_"))
    edit = data.draw(_EDIT)
    typo = {"delete": rest[:at] + rest[at + 1:], "insert": rest[:at] + letter + rest[at:],
            "replace": rest[:at] + letter + rest[at + 1:],
            "swap": rest[:at] + rest[at + 1:at + 2] + rest[at] + rest[at + 2:]}[edit]
    name = prefix + typo
    if name in known or not typo:
        return
    found = unknown_variables([name], prefix=prefix, known=known)
    assert [item.name for item in found] == [name]
    suggestion = found[0].suggestion
    assert suggestion is not None and suggestion in known

    def alike(candidate):
        return difflib.SequenceMatcher(None, typo, candidate[len(prefix):] if candidate.startswith(prefix)
                                       else candidate.split("_", 1)[-1]).ratio()

    assert alike(suggestion) >= alike(meant)


def test_the_warning_names_the_role_the_variable_the_suggestion_and_where_to_look():
    assert warning("certificates", Unknown("certificates_database", "certificates_databases")) == (
        "the role passwordsecure.server.certificates ignores the variable certificates_database, which it does not "
        "know (did you mean certificates_databases?); check the name against the role's variables: "
        "ansible-doc -t role passwordsecure.server.certificates")
    assert warning("client_trust", Unknown("client_trust_zzz", None)) == (
        "the role passwordsecure.server.client_trust ignores the variable client_trust_zzz, which it does not know; "
        "check the name against the role's variables: ansible-doc -t role passwordsecure.server.client_trust")
