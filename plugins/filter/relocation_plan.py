# Copyright (c) passwordsecure.server contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
name: relocation_plan
short_description: The plan of a database relocation from what two stores hold
version_added: 1.0.0
description:
  - Works out, on the controller, which certificates must move when databases move from a source
    server to a target server, which of them the target already holds, and every reason the relocation
    cannot start (all of them, not just the first).
  - Each named database's own certificate travels, and so does every server-wide certificate of the
    source (master key, discovery service, Password Reset and server encryption certificates).
  - The role P(passwordsecure.server.database_relocation#role) uses it in its preflight phase. It reads
    no key and changes nothing.
options:
  _input:
    description: The registered result of M(passwordsecure.server.certificate_info) on the source.
    type: dict
    required: true
  target:
    description: The registered result of M(passwordsecure.server.certificate_info) on the target.
    type: dict
    required: true
  databases:
    description: The names of the databases to relocate.
    type: list
    elements: str
    required: true
  target_free_bytes:
    description:
      - The free bytes on the file system of the target's store, for example
        RV(passwordsecure.server.certificate_info#module:free_bytes).
      - When given, a target without room for the import is a problem.
    type: int
"""

EXAMPLES = r"""
- name: Work out what must move
  ansible.builtin.set_fact:
    relocation: >-
      {{ source_info | passwordsecure.server.relocation_plan(target_info, ['sales', 'personal'],
                                                            target_free_bytes=target_info.free_bytes) }}

- name: Stop before anything changes when the relocation cannot start
  ansible.builtin.fail:
    msg: "{{ relocation.problems | join('; ') }}"
  when: relocation.problems | length > 0
"""

RETURN = r"""
_value:
  description: The plan.
  type: dict
  contains:
    databases:
      description: The database names, normalised to Unicode NFC, without repeats.
      type: list
      elements: str
    certificates:
      description:
        - Every certificate that must be on the target afterwards, the databases first in the order given, then the
          server-wide certificates in the source's order.
        - Each has C(kind), C(identity), C(label) (how messages name it), C(friendly_name), C(thumbprint)
          and C(on_target), one of V(absent) (to import), V(same) (the target holds it already),
          V(different) (a conflict) and V(moved) (a database the source no longer holds and the target
          does, after an earlier relocation that removed it from the source).
      type: list
      elements: dict
    to_import:
      description: The certificates with C(on_target=absent).
      type: list
      elements: dict
    present:
      description: The certificates the target holds already (C(on_target) V(same) or V(moved)).
      type: list
      elements: dict
    moved:
      description: The names of the databases relocated earlier (C(on_target=moved)).
      type: list
      elements: str
    ssl:
      description:
        - The SSL connection certificate of each side, under C(source) and C(target), each with C(thumbprint),
          C(origin) and C(names), or V(null) where the store holds none.
        - It is never among the certificates that travel; the target keeps its own.
      type: dict
    conflicts:
      description: Each certificate the target holds differently, with C(kind), C(identity), C(label),
        C(source_thumbprint) and C(target_thumbprint).
      type: list
      elements: dict
    missing:
      description: What the source lacks, each with C(kind), C(identity) and C(label).
      type: list
      elements: dict
    needed_bytes:
      description: An upper estimate of the bytes the import needs on the target.
      type: int
    free_bytes:
      description: The O(target_free_bytes) given, or V(null).
      type: int
    problems:
      description: One sentence per reason the relocation cannot start, each saying what to do; empty when it can.
      type: list
      elements: str
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.passwordsecure.server.plugins.module_utils.errors import PasswordSecureError
from ansible_collections.passwordsecure.server.plugins.module_utils.relocation import plan


def relocation_plan(source_info, target, databases, target_free_bytes=None):
    """The plan of relocating ``databases`` from ``source_info``'s store to ``target``'s."""
    try:
        return plan(source_info, target, databases, target_free_bytes=target_free_bytes)
    except PasswordSecureError as exc:
        raise AnsibleFilterError("passwordsecure.server.relocation_plan: %s" % exc) from None


class FilterModule:
    def filters(self):
        return {"relocation_plan": relocation_plan}
