# Copyright (c) passwordsecure.server contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
name: relocation_report_rows
short_description: The rows of a relocation report
version_added: 1.0.0
description:
  - Adds to each certificate of a relocation plan what the report says of it, in one pass on the
    controller (a report of a thousand certificates built in Jinja takes seconds).
  - The role P(passwordsecure.server.database_relocation#role) uses it for C(database_relocation_result.certificates),
    which M(passwordsecure.server.relocation_report) writes as the report.
options:
  _input:
    description: The C(certificates) of a plan from P(passwordsecure.server.relocation_plan#filter).
    type: list
    elements: dict
    required: true
  proofs:
    description: What P(passwordsecure.server.proof_results#filter) returned, if the proofs ran.
    type: list
    elements: dict
    default: []
  imported:
    description: The thumbprints this run imported.
    type: list
    elements: str
    default: []
  rolled_back:
    description: The thumbprints this run imported and then removed again after a failure.
    type: list
    elements: str
    default: []
"""

EXAMPLES = r"""
- name: The report's rows
  ansible.builtin.set_fact:
    rows: "{{ plan.certificates | passwordsecure.server.relocation_report_rows(proofs, imported_thumbprints) }}"
"""

RETURN = r"""
_value:
  description:
    - The certificates in the plan's order, each with the plan's keys and C(before) (the target's state before the
      run and what the run did, for example V(absent, imported) or V(held it already)), C(proof) (V(passed),
      C(FAILED) and the reason, or V(not run)) and C(passed) (a boolean).
  type: list
  elements: dict
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.passwordsecure.server.plugins.module_utils.errors import PasswordSecureError
from ansible_collections.passwordsecure.server.plugins.module_utils.relocation import report_rows


def relocation_report_rows(certificates, proofs=None, imported=None, rolled_back=None):
    """The report's rows: each certificate with ``before``, ``proof`` and ``passed``."""
    try:
        return report_rows(certificates, proofs or [], imported or [], rolled_back or [])
    except PasswordSecureError as exc:
        raise AnsibleFilterError("passwordsecure.server.relocation_report_rows: %s" % exc) from None


class FilterModule:
    def filters(self):
        return {"relocation_report_rows": relocation_report_rows}
