# Copyright (c) passwordsecure.server contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: proof_results
short_description: Compare the answers of a key proof with its challenges
version_added: 1.0.0
author:
  - passwordsecure.server contributors (@passwordsecure)
description:
  - The controller's half of the proof of M(passwordsecure.server.certificate_proof) - pairs each challenge (made on
    the source with O(passwordsecure.server.certificate_proof#module:mode=challenge)) with the answer of the same
    kind and identity (given on the target with O(passwordsecure.server.certificate_proof#module:mode=answer)).
  - A challenge passes when its answer equals its C(expected) value and the target's thumbprint is the source's.
  - Answers without a challenge are left out.
positional: _input, answers
options:
  _input:
    description:
      - The C(challenges) of the certificate_proof result with
        O(passwordsecure.server.certificate_proof#module:mode=challenge), C(expected) included.
    type: list
    elements: dict
    required: true
  answers:
    description:
      - The C(answers) of the certificate_proof result with
        O(passwordsecure.server.certificate_proof#module:mode=answer).
    type: list
    elements: dict
    required: true
seealso:
  - module: passwordsecure.server.certificate_proof
"""

EXAMPLES = r"""
- name: Challenge on the source
  passwordsecure.server.certificate_proof:
    mode: challenge
    database: [sales]
  delegate_to: psr-old.example.com
  register: psr_challenge

- name: Answer on the target
  passwordsecure.server.certificate_proof:
    mode: answer
    challenges: "{{ psr_challenge.challenges }}"
  delegate_to: psr-new.example.com
  register: psr_answer

- name: Fail unless the target holds every key
  ansible.builtin.assert:
    that: psr_failed == []
    fail_msg: "{{ psr_failed | map(attribute='reason') | list }}"
  vars:
    psr_failed: "{{ psr_challenge.challenges | passwordsecure.server.proof_results(psr_answer.answers)
                    | rejectattr('passed') | list }}"
"""

RETURN = r"""
_value:
  description: One item per challenge, in the order of the challenges.
  type: list
  elements: dict
  contains:
    kind:
      description: The certificate kind.
      type: str
    identity:
      description: The identity; V(null) for the server encryption certificate.
      type: str
    thumbprint:
      description: The source's thumbprint of the certificate.
      type: str
    passed:
      description: Whether the target proved that it holds the certificate's private key.
      type: bool
    reason:
      description:
        - V(null) when passed; otherwise why not.
        - V(no answer) when no answer has the challenge's kind and identity.
        - "The answer's error: V(absent), C(thumbprint differs: source X, this host Y), V(does not decrypt)."
        - C(wrong answer) when the answer is not the expected one.
      type: str
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.passwordsecure.server.plugins.module_utils.errors import PasswordSecureError
from ansible_collections.passwordsecure.server.plugins.module_utils.proof import proof_results


def _proof_results(challenges, answers):
    try:
        return proof_results(challenges, answers)
    except PasswordSecureError as exc:
        raise AnsibleFilterError(str(exc)) from exc


class FilterModule:
    """The proof's comparison on the controller."""

    def filters(self):
        return {"proof_results": _proof_results}
