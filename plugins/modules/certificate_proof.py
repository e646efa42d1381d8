#!/usr/bin/python
# Copyright (c) passwordsecure.server contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: certificate_proof
short_description: Prove that a host holds the private keys of a Password Secure server's certificates
version_added: 1.0.0
description:
  - Equal thumbprints show that two hosts hold the same certificates; this module shows that a host also holds
    each certificate's private key, without any key leaving it.
  - With O(mode=challenge) (on the host the certificates come from) it makes, for each selected certificate, a
    fresh 32-byte random nonce encrypted with the certificate's RSA public key (RSA-OAEP with SHA-256), and returns
    it as RV(challenges[].challenge) with RV(challenges[].expected), the hex SHA-256 of a fixed label and the nonce.
    It reads certificates only, never a private key.
  - With O(mode=answer) (on the host to be checked) it decrypts each challenge with the private key of its own
    certificate of the same kind and identity and returns the same hash of what came out as
    RV(answers[].answer). Only the matching private key recovers the nonce.
  - The filter P(passwordsecure.server.proof_results#filter) compares the two on the controller.
  - Both modes only read; C(changed) is always V(false).
author:
  - passwordsecure.server contributors (@passwordsecure)
extends_documentation_fragment:
  - passwordsecure.server.store
  - passwordsecure.server.attributes
  - passwordsecure.server.attributes.ACTION_GROUP
attributes:
  check_mode:
    support: full
    details: Reads only; runs the same in check mode.
  diff_mode:
    support: none
    details: Changes nothing, so there is nothing to show.
  idempotent:
    support: full
    details: Reads only; C(changed) is always V(false). Each challenge holds a fresh random nonce, so the challenges
      differ from run to run.
options:
  mode:
    description:
      - V(challenge) makes challenges from the certificates of the store at O(store_path).
      - V(answer) answers O(challenges) with the private keys of the store at O(store_path).
      - O(store_password) is needed for V(answer) when the store encrypts its keys; V(challenge) does not use it.
    type: str
    choices: [challenge, answer]
    required: true
  database:
    description:
      - With O(mode=challenge), challenge what a move of these databases needs, selected as
        M(passwordsecure.server.certificate_export) selects them - each named database's own certificate plus every
        master key, discovery service, Password Reset and server encryption certificate.
      - Mutually exclusive with O(kind) and O(identity). With none of the three, every certificate is challenged.
    type: list
    elements: str
  kind:
    description:
      - With O(mode=challenge), challenge only the certificates of this kind.
    type: str
    choices: [database, master_key, discovery_service, password_reset, server_encryption, ssl]
  identity:
    description:
      - With O(mode=challenge) and O(kind), challenge only the certificate with this identity.
    type: str
  challenges:
    description:
      - With O(mode=answer), the challenges to answer - RV(challenges) of a run with O(mode=challenge), passed as it
        is.
      - Each item has C(kind), C(identity) (V(null) or absent for the server encryption certificate), C(thumbprint)
        (the source's) and C(challenge). A C(expected) key is allowed and ignored; it is never returned.
    type: list
    elements: dict
notes:
  - A certificate the host does not hold, or holds with another thumbprint, is reported in RV(answers[].error); the
    task does not fail for it. Malformed challenges and a wrong O(store_password) fail the task.
  - A thumbprint that differs is reported without decrypting anything.
  - "The answer is the hex SHA-256 of C(passwordsecure.server proof v1), a NUL byte, and the nonce: any tool can
    check it. C(openssl pkeyutl -decrypt -pkeyopt rsa_padding_mode:oaep -pkeyopt rsa_oaep_md:sha256
    -pkeyopt rsa_mgf1_md:sha256) recovers the nonce with the key."
  - With thousands of challenges the answer decrypts on a thread per core.
seealso:
  - module: passwordsecure.server.certificate_export
  - module: passwordsecure.server.certificate_import
  - plugin: passwordsecure.server.proof_results
    plugin_type: filter
"""

EXAMPLES = r"""
- name: Challenge what the sales database needs, on the source
  passwordsecure.server.certificate_proof:
    mode: challenge
    database: sales
  delegate_to: psr-old.example.com
  register: psr_challenge

- name: Answer on the target
  passwordsecure.server.certificate_proof:
    mode: answer
    challenges: "{{ psr_challenge.challenges }}"
    store_password: "{{ vault_store_password }}"
  delegate_to: psr-new.example.com
  register: psr_answer

- name: Every key is on the target
  ansible.builtin.assert:
    that: psr_proof | rejectattr('passed') | list == []
    fail_msg: "{{ psr_proof | rejectattr('passed') | list }}"
  vars:
    psr_proof: "{{ psr_challenge.challenges | passwordsecure.server.proof_results(psr_answer.answers) }}"
"""

RETURN = r"""
challenges:
  description: With O(mode=challenge), one challenge per selected certificate, in the store's order.
  returned: when O(mode=challenge)
  type: list
  elements: dict
  contains:
    kind:
      description: The certificate kind.
      type: str
      returned: always
      sample: database
    identity:
      description: The identity; V(null) for the server encryption certificate.
      type: str
      returned: always
      sample: sales
    thumbprint:
      description: The SHA-1 of the certificate's DER in upper-case hex.
      type: str
      returned: always
      sample: 3F2A9C0B6D4E8F1A2B3C4D5E6F708192A3B4C5D6
    challenge:
      description: A fresh random nonce encrypted with the certificate's public key (RSA-OAEP, SHA-256), base64.
      type: str
      returned: always
    expected:
      description:
        - The answer only the certificate's private key gives - the hex SHA-256 of the proof label and the nonce.
        - Keep it on the controller; the answering host needs no more than the other keys.
      type: str
      returned: always
      sample: 9f2c7e4d0b8a61f35e27c9d4a0b1f6e38c5d2a7b9e0f4c1d8a6b3e5f7c9d1a2b
answers:
  description: With O(mode=answer), one answer per challenge, in the order of O(challenges).
  returned: when O(mode=answer)
  type: list
  elements: dict
  contains:
    kind:
      description: The challenge's kind, as given.
      type: str
      returned: always
      sample: database
    identity:
      description: The challenge's identity, as given.
      type: str
      returned: always
      sample: sales
    thumbprint:
      description: The thumbprint of this host's certificate of that kind and identity; V(null) when it holds none.
      type: str
      returned: always
      sample: 3F2A9C0B6D4E8F1A2B3C4D5E6F708192A3B4C5D6
    answer:
      description: The hex SHA-256 of the proof label and the decrypted nonce; V(null) when there is no answer.
      type: str
      returned: always
      sample: 9f2c7e4d0b8a61f35e27c9d4a0b1f6e38c5d2a7b9e0f4c1d8a6b3e5f7c9d1a2b
    error:
      description:
        - V(null) when answered; otherwise why not.
        - V(absent) - this host holds no certificate of that kind and identity.
        - "C(thumbprint differs: source X, this host Y) - it holds another certificate for them."
        - V(does not decrypt) - its private key is not the one the challenge was made for.
      type: str
      returned: always
      sample: null
store_path:
  description: The store's directory.
  returned: always
  type: str
  sample: /var/lib/passwordsecure/certificates
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.passwordsecure.server.plugins.module_utils.common import STORE_ARGS, argument_spec
from ansible_collections.passwordsecure.server.plugins.module_utils.errors import PasswordSecureError
from ansible_collections.passwordsecure.server.plugins.module_utils.kinds import KIND_NAMES
from ansible_collections.passwordsecure.server.plugins.module_utils.proof import IGNORED_KEYS, answer, challenge

ARGUMENT_SPEC = argument_spec(
    STORE_ARGS,
    mode={"type": "str", "choices": ["challenge", "answer"], "required": True},
    database={"type": "list", "elements": "str"},
    kind={"type": "str", "choices": list(KIND_NAMES)},
    identity={"type": "str"},
    challenges={"type": "list", "elements": "dict"},
)


def main() -> None:
    module = AnsibleModule(
        argument_spec=ARGUMENT_SPEC,
        mutually_exclusive=[("database", "kind"), ("database", "identity"), ("challenges", "database"),
                            ("challenges", "kind"), ("challenges", "identity")],
        required_if=[("mode", "answer", ("challenges",))],
        required_by={"identity": "kind"},
        supports_check_mode=True,
    )
    p = module.params
    # Ansible echoes a module's arguments as `invocation`; the challenges' `expected` must not go out again.
    shown = dict(p, challenges=None if p["challenges"] is None else [
        {key: value for key, value in item.items() if key not in IGNORED_KEYS} if isinstance(item, dict) else item
        for item in p["challenges"]])
    invocation = {"module_args": shown}
    try:
        if p["mode"] == "challenge":
            if p["challenges"] is not None:
                module.fail_json(msg="challenges goes with mode=answer; with mode=challenge select the certificates "
                                     "with database, or kind and identity", invocation=invocation)
            result = challenge(p["store_path"], databases=p["database"], kind=p["kind"], identity=p["identity"])
        else:
            result = answer(p["store_path"], p["challenges"], store_password=p["store_password"])
    except PasswordSecureError as exc:
        module.fail_json(msg=str(exc), invocation=invocation)
    module.exit_json(invocation=invocation, **result)


if __name__ == "__main__":
    main()
