#!/usr/bin/python
# Copyright (c) passwordsecure.server contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: certificate
short_description: Ensure a Password Secure server's certificates exist in its certificate store
version_added: 0.1.0
description:
  - Ensures that the certificates a Password Secure server makes for itself exist in the server's certificate store,
    or that they do not.
  - One task handles a whole server; give every certificate in O(certificates) and the module generates the missing
    ones in one pass, on every core of the managed host.
  - These certificates are made by the server and cannot be replaced by your own certificate, so no option takes key
    or certificate material. Their expiry is never checked; an existing certificate is never regenerated, however old.
  - The subject, friendly name, key and validity of each kind are described in the collection's
    C(docs/certificate-kinds.md).
author:
  - passwordsecure.server contributors (@passwordsecure)
extends_documentation_fragment:
  - passwordsecure.server.store
  - passwordsecure.server.store_owner
attributes:
  check_mode:
    support: full
    description: Reports exactly what a real run would change and writes nothing.
  diff_mode:
    support: full
    description: Before and after list the store as one line per certificate (kind, identity, thumbprint, subject,
      expiry); never key material.
options:
  state:
    description:
      - V(present) ensures the certificates exist, generating those that are missing.
      - V(absent) removes them from the store, with their private keys.
    type: str
    choices: [present, absent]
    default: present
  certificates:
    description:
      - The certificates, each a dictionary with O(certificates[].kind) and O(certificates[].identity).
      - Each certificate may be listed once.
      - Mutually exclusive with O(kind) and O(identity).
    type: list
    elements: dict
    suboptions:
      kind:
        description:
          - The certificate kind.
        type: str
        required: true
        choices: [database, master_key, discovery_service, password_reset, server_encryption]
      identity:
        description:
          - What the certificate belongs to. V(database) takes the database's name, V(master_key) the Active Directory
            domain (compared without case), V(discovery_service) and V(password_reset) their names.
          - V(server_encryption) takes none; a server has exactly one.
          - Letters of any language are fine. Refused are empty names, names over 255 characters, path separators,
            C(..), control characters and surrounding white space.
        type: str
  kind:
    description:
      - The kind of a single certificate; the short form of one O(certificates) item.
    type: str
    choices: [database, master_key, discovery_service, password_reset, server_encryption]
  identity:
    description:
      - The identity of a single certificate given by O(kind).
    type: str
  exclusive:
    description:
      - With O(state=present), also remove the certificates of the kinds in O(exclusive_kinds) that are not listed.
      - These are the certificates "no longer required" that the product's certificate manager shows under B(All).
    type: bool
    default: false
  exclusive_kinds:
    description:
      - The kinds O(exclusive) applies to.
      - Defaults to the kinds that appear in O(certificates). Name a kind here to remove all of its certificates
        when none is listed.
    type: list
    elements: str
    choices: [database, master_key, discovery_service, password_reset, server_encryption]
  key_size:
    description:
      - The size in bits of the RSA key of a certificate that is generated. The product uses RSA.
      - The default, 3072, is the size NIST SP 800-57 gives for keys used beyond 2030; these keys are never renewed.
      - Existing certificates are kept whatever their key size.
    type: int
    choices: [2048, 3072, 4096]
    default: 3072
notes:
  - Writes are crash-safe (temp file, fsync, rename) and serialised by a lock in the store, so parallel runs on one
    store lose nothing.
seealso:
  - module: passwordsecure.server.certificate_info
"""

EXAMPLES = r"""
- name: Ensure a whole server's certificate set in one task
  passwordsecure.server.certificate:
    certificates:
      - {kind: database, identity: sales}
      - {kind: database, identity: personal}
      - {kind: master_key, identity: corp.example.com}
      - {kind: discovery_service, identity: network-scan}
      - {kind: password_reset, identity: self-service}
      - {kind: server_encryption}

- name: Keep only the databases listed; remove certificates no longer required
  passwordsecure.server.certificate:
    certificates:
      - {kind: database, identity: sales}
      - {kind: database, identity: personal}
    exclusive: true
    exclusive_kinds: [database]

- name: One certificate, with the store's keys encrypted at rest
  passwordsecure.server.certificate:
    store_path: /srv/psr/certificates
    store_password: "{{ vault_store_password }}"
    owner: psr
    group: psr
    kind: database
    identity: finance

- name: Remove the certificate of a database that was dropped
  passwordsecure.server.certificate:
    kind: database
    identity: test-2019
    state: absent
"""

RETURN = r"""
certificates:
  description:
    - One item per certificate asked for, in the order asked.
    - In check mode a certificate still to be generated has no thumbprint, sha256, serial_number or not_before yet
      (V(null)).
  returned: always
  type: list
  elements: dict
  contains:
    kind:
      description: The certificate kind.
      type: str
      returned: always
      sample: database
    identity:
      description:
        - The identity, normalised to Unicode NFC; Active Directory domains lower-cased.
        - V(null) for the server encryption certificate.
      type: str
      returned: always
      sample: sales
    friendly_name:
      description: The name the product's certificate manager shows.
      type: str
      returned: always
      sample: psrDatabaseKey (sales)
    subject:
      description: The certificate's subject as an RFC 4514 string.
      type: str
      returned: always
      sample: O=Password Secure,OU=sales,CN=psrDatabaseKey
    thumbprint:
      description: The SHA-1 of the certificate's DER in upper-case hex, as Windows shows it.
      type: str
      returned: always
      sample: 3F2A9C0B6D4E8F1A2B3C4D5E6F708192A3B4C5D6
    sha256:
      description: The SHA-256 fingerprint of the certificate's DER in upper-case hex.
      type: str
      returned: always
      sample: 0725420FA6FFB7449EB090C167421A51E9042C8247AECD560D32E73E436A98B8
    serial_number:
      description: The serial number in upper-case hex.
      type: str
      returned: always
      sample: 5C5C6E97EED88E0DE49F0BC44A93864CC8467F19
    not_before:
      description: The start of validity, ISO 8601 in UTC.
      type: str
      returned: always
      sample: "2026-11-26T20:30:00Z"
    not_after:
      description: The end of validity, ISO 8601 in UTC; V(9999-12-31T23:59:59Z) means it never expires (RFC 5280).
      type: str
      returned: always
      sample: "9999-12-31T23:59:59Z"
    key_type:
      description: The key algorithm.
      type: str
      returned: always
      sample: RSA
    key_size:
      description: The key size in bits.
      type: int
      returned: always
      sample: 3072
    origin:
      description: V(generated) for a certificate made by the server.
      type: str
      returned: always
      sample: generated
    state:
      description: V(present) or V(absent), after the task.
      type: str
      returned: always
      sample: present
    changed:
      description: Whether this certificate was generated or removed.
      type: bool
      returned: always
      sample: true
removed:
  description: The certificates removed by O(exclusive) that were not asked for; items as in RV(certificates).
  returned: always
  type: list
  elements: dict
  sample: []
attributes_fixed:
  description: The store's paths whose mode or owner was put right.
  returned: always
  type: list
  elements: str
  sample: []
store_path:
  description: The store's directory.
  returned: always
  type: str
  sample: /var/lib/passwordsecure/certificates
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.passwordsecure.server.plugins.module_utils.common import (
    STORE_ARGS,
    STORE_OWNER_ARGS,
    argument_spec,
    resolve_owner,
)
from ansible_collections.passwordsecure.server.plugins.module_utils.crypto import require_cryptography
from ansible_collections.passwordsecure.server.plugins.module_utils.errors import PasswordSecureError
from ansible_collections.passwordsecure.server.plugins.module_utils.kinds import DEFAULT_KEY_SIZE, KEY_SIZES, KIND_NAMES
from ansible_collections.passwordsecure.server.plugins.module_utils.manage import ensure, requested_refs

ARGUMENT_SPEC = argument_spec(
    STORE_ARGS,
    STORE_OWNER_ARGS,
    state={"type": "str", "choices": ["present", "absent"], "default": "present"},
    certificates={
        "type": "list",
        "elements": "dict",
        "options": {
            "kind": {"type": "str", "required": True, "choices": list(KIND_NAMES)},
            "identity": {"type": "str"},
        },
    },
    kind={"type": "str", "choices": list(KIND_NAMES)},
    identity={"type": "str"},
    exclusive={"type": "bool", "default": False},
    exclusive_kinds={"type": "list", "elements": "str", "choices": list(KIND_NAMES)},
    key_size={"type": "int", "choices": list(KEY_SIZES), "default": DEFAULT_KEY_SIZE},
)


def main() -> None:
    module = AnsibleModule(
        argument_spec=ARGUMENT_SPEC,
        mutually_exclusive=[("certificates", "kind"), ("certificates", "identity")],
        required_by={"identity": "kind"},
        supports_check_mode=True,
    )
    p = module.params
    try:
        require_cryptography()
        result = ensure(
            p["store_path"],
            refs=requested_refs(certificates=p["certificates"], kind=p["kind"], identity=p["identity"]),
            state=p["state"],
            exclusive=p["exclusive"],
            exclusive_kinds=p["exclusive_kinds"],
            key_size=p["key_size"],
            store_password=p["store_password"],
            owner=resolve_owner(p["owner"], p["group"]),
            check_mode=module.check_mode,
            want_diff=module._diff,
        )
    except PasswordSecureError as exc:
        module.fail_json(msg=str(exc))
    module.exit_json(**result)


if __name__ == "__main__":
    main()
