#!/usr/bin/python
# Copyright (c) passwordsecure.server contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: certificate
short_description: Ensure a Password Secure server's certificates exist in its certificate store
version_added: 1.0.0
description:
  - Ensures that the certificates a Password Secure server makes for itself exist in the server's certificate store,
    or that they do not.
  - One task handles a whole server; give every certificate in O(certificates) and the module generates the missing
    ones in one pass, on every core of the managed host.
  - These certificates are made by the server, so no option takes key or certificate material. Their expiry is never
    checked; an existing certificate is never regenerated, however old.
  - The SSL connection certificate (kind V(ssl), C(PSR8Server)) lists the host's names and IP addresses in its
    Subject Alternative Name, all as DNS names, as the product does. They come from O(names) or, when not given,
    from the host itself. A generated one is made anew when the host's names are no longer the ones it lists,
    unless O(ssl_regenerate=never); your own SSL certificate is never replaced by a generated one.
  - The subject, friendly name, key and validity of each kind are described in the collection's
    C(docs/certificate-kinds.md).
author:
  - passwordsecure.server contributors (@passwordsecure)
requirements:
  - idna on the managed host for non-ASCII names of the SSL connection certificate only (Debian/Ubuntu and RHEL
    package python3-idna); ASCII names need no library
extends_documentation_fragment:
  - passwordsecure.server.store
  - passwordsecure.server.store_owner
  - passwordsecure.server.attributes
  - passwordsecure.server.attributes.ACTION_GROUP
  - passwordsecure.server.attributes.FILES
attributes:
  check_mode:
    support: full
    details: Reports exactly what a real run would change and writes nothing.
  diff_mode:
    support: full
    details:
      - Before and after list the store as one line per certificate (kind, identity, thumbprint, subject, expiry);
        never key material.
      - A path of the store whose mode or owner the task puts right adds a line with its mode, owner and group
        before and after.
  idempotent:
    support: full
    details: An existing certificate is never regenerated. A generated SSL connection certificate is made anew only
      when the host's names have changed since (see O(ssl_regenerate)).
  safe_file_operations:
    support: partial
    details: The store is written crash-safe by the collection's own code (temp file, fsync, rename, a journal and a
      lock), not by Ansible's file functions; its folders are C(0700) and its files C(0600), with the owner given.
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
      - Mutually exclusive with O(kind), O(identity) and O(names).
    type: list
    elements: dict
    suboptions:
      kind:
        description:
          - The certificate kind.
        type: str
        required: true
        choices: [database, master_key, discovery_service, password_reset, server_encryption, ssl]
      identity:
        description:
          - What the certificate belongs to. V(database) takes the database's name, V(master_key) the Active Directory
            domain (compared without case), V(discovery_service) and V(password_reset) their names.
          - V(server_encryption) and V(ssl) take none; a server has exactly one of each.
          - Letters of any language are fine. Refused are empty names, names over 255 characters, path separators,
            C(..), control characters and surrounding white space.
        type: str
      names:
        description:
          - For V(ssl) only, the names and IP addresses the certificate lists; see O(names).
        type: list
        elements: str
  kind:
    description:
      - The kind of a single certificate; the short form of one O(certificates) item.
    type: str
    choices: [database, master_key, discovery_service, password_reset, server_encryption, ssl]
  identity:
    description:
      - The identity of a single certificate given by O(kind).
    type: str
  names:
    description:
      - The host names and IP addresses of the SSL connection certificate (O(kind=ssl)), for its Subject Alternative
        Name, where clients find the name they connect by. Every one is written as a DNS name, IP addresses too, as
        the product does.
      - Names are compared without case and in any order; non-ASCII names are written as IDNA 2008 A-labels with
        UTS 46 mapping, as browsers and curl look them up (C(straße.example) is C(xn--strae-oqa.example)), IPv6
        addresses in their short form. Non-ASCII names need the Python library C(idna) on the managed host.
      - When not given, the module takes the host's name, its fully qualified name and every global-scope address
        that C(ip -o addr show) lists (loopback and link-local addresses are left out). RV(names_source) says
        which.
      - With O(certificates), give them in the V(ssl) item instead.
    type: list
    elements: str
  ssl_regenerate:
    description:
      - What to do with a generated SSL connection certificate that lists other names than the host has now.
      - V(names_differ) makes it anew for the host's names; the old one stays in the store as superseded, with
        its key.
      - V(never) keeps it and warns.
      - Your own certificate is never replaced; a warning says when it lacks a name of the host.
    type: str
    choices: [names_differ, never]
    default: names_differ
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
    choices: [database, master_key, discovery_service, password_reset, server_encryption, ssl]
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

- name: The SSL connection certificate, for the names and addresses the host has
  passwordsecure.server.certificate:
    kind: ssl

- name: The SSL connection certificate for names given, kept even when they change
  passwordsecure.server.certificate:
    certificates:
      - {kind: ssl, names: "{{ [ansible_facts.fqdn, ansible_facts.hostname] + ansible_facts.all_ipv4_addresses }}"}
      - {kind: server_encryption}
    ssl_regenerate: never

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
      description: V(generated) for a certificate made by the server, V(own) for your own SSL certificate.
      type: str
      returned: always
      sample: generated
    names:
      description: The names and addresses the SSL connection certificate lists; V(null) for the other kinds.
      type: list
      elements: str
      returned: always
      sample: [psr1.example.com, psr1, 192.0.2.10]
    replaced:
      description: The thumbprint of the SSL connection certificate this task made anew for other names.
      type: str
      returned: when a generated SSL connection certificate was made anew
      sample: 3F2A9C0B6D4E8F1A2B3C4D5E6F708192A3B4C5D6
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
names_source:
  description:
    - Where the SSL connection certificate's names came from, V(given) (O(names)) or V(host) (found on the host).
  returned: when an SSL connection certificate was asked for with O(state=present)
  type: str
  sample: host
"""

import socket

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.passwordsecure.server.plugins.module_utils.common import (
    STORE_ARGS,
    STORE_OWNER_ARGS,
    argument_spec,
    resolve_owner,
)
from ansible_collections.passwordsecure.server.plugins.module_utils.crypto import require_cryptography
from ansible_collections.passwordsecure.server.plugins.module_utils.errors import PasswordSecureError
from ansible_collections.passwordsecure.server.plugins.module_utils.files import attribute_snapshot, store_fix_lines
from ansible_collections.passwordsecure.server.plugins.module_utils.hostnames import addresses_from_ip, host_names
from ansible_collections.passwordsecure.server.plugins.module_utils.kinds import (
    DEFAULT_KEY_SIZE,
    KEY_SIZES,
    KIND_NAMES,
    NAMED_KINDS,
)
from ansible_collections.passwordsecure.server.plugins.module_utils.manage import (
    SSL_REGENERATE,
    ensure,
    requested_names,
    requested_refs,
)

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
            "names": {"type": "list", "elements": "str"},
        },
    },
    names={"type": "list", "elements": "str"},
    ssl_regenerate={"type": "str", "choices": list(SSL_REGENERATE), "default": "names_differ"},
    kind={"type": "str", "choices": list(KIND_NAMES)},
    identity={"type": "str"},
    exclusive={"type": "bool", "default": False},
    exclusive_kinds={"type": "list", "elements": "str", "choices": list(KIND_NAMES)},
    key_size={"type": "int", "choices": list(KEY_SIZES), "default": DEFAULT_KEY_SIZE},
)


def main() -> None:
    module = AnsibleModule(
        argument_spec=ARGUMENT_SPEC,
        mutually_exclusive=[("certificates", "kind"), ("certificates", "identity"), ("certificates", "names")],
        required_by={"identity": "kind"},
        supports_check_mode=True,
    )
    p = module.params
    snapshot = attribute_snapshot(p["store_path"]) if module._diff else {}  # for a permission fix in the diff
    try:
        require_cryptography()
        owner = resolve_owner(p["owner"], p["group"])
        refs = requested_refs(certificates=p["certificates"], kind=p["kind"], identity=p["identity"])
        names = requested_names(certificates=p["certificates"], names=p["names"])
        source = "given"
        if names is None and p["state"] == "present" and any(ref.kind in NAMED_KINDS for ref in refs):
            names, source = the_hosts_names(module), "host"
        result = ensure(
            p["store_path"],
            refs=refs,
            names=names,
            ssl_regenerate=p["ssl_regenerate"],
            state=p["state"],
            exclusive=p["exclusive"],
            exclusive_kinds=p["exclusive_kinds"],
            key_size=p["key_size"],
            store_password=p["store_password"],
            owner=owner,
            check_mode=module.check_mode,
            want_diff=module._diff,
        )
    except PasswordSecureError as exc:
        module.fail_json(msg=str(exc))
    if "diff" in result:
        before, after = store_fix_lines(result["attributes_fixed"], snapshot, owner)
        result["diff"]["before"] += before
        result["diff"]["after"] += after
    if names is not None:
        result["names_source"] = source
    for warning in result.pop("warnings", []):  # the result's warnings, as ansible-core 2.19 wants them
        module.warn(warning)
    module.exit_json(**result)


def the_hosts_names(module: AnsibleModule) -> list:
    """The host's name, fully qualified name and global-scope addresses (``ip -o addr show``)."""
    addresses = []
    ip = module.get_bin_path("ip")
    if ip is None:
        module.warn("the command ip was not found, so the SSL connection certificate lists the host's names only, "
                    "no IP address; give names to list its addresses too")
    else:
        rc, out, err = module.run_command([ip, "-o", "addr", "show"])
        if rc != 0:
            module.warn("ip -o addr show failed (%s), so the SSL connection certificate lists the host's names "
                        "only; give names to list its addresses too" % (err.strip() or "exit %d" % rc))
        else:
            addresses = addresses_from_ip(out)
    return host_names(socket.gethostname(), socket.getfqdn(), addresses)


if __name__ == "__main__":
    main()
