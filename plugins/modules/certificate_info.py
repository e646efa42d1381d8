#!/usr/bin/python
# Copyright (c) passwordsecure.server contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: certificate_info
short_description: Report the certificates a Password Secure server's certificate store holds
version_added: 1.0.0
description:
  - Lists the certificates in a Password Secure server's certificate store, optionally filtered by kind and identity.
  - Reads the store's index and checks every entry file against it; never parses, decrypts or returns a private key,
    so listing a thousand certificates takes a fraction of a second.
  - Expiry is reported as information only; the product never checks it.
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
    details: Reads only; C(changed) is always V(false).
options:
  kind:
    description:
      - Only certificates of this kind.
    type: str
    choices: [database, master_key, discovery_service, password_reset, server_encryption, ssl]
  identity:
    description:
      - Only the certificate with this identity; needs O(kind).
    type: str
  warn_missing_store:
    description:
      - Warn when O(store_path) holds no store, which is most often a mistyped path.
      - V(false) for a host where no store is expected yet, such as a new server.
    type: bool
    default: true
notes:
  - O(store_password) is not needed to list a store; when given, it is not checked.
  - A store_path that does not exist reads as an empty store (RV(store_exists) is V(false)), with a warning unless
    O(warn_missing_store=false).
seealso:
  - module: passwordsecure.server.certificate
"""

EXAMPLES = r"""
- name: What does this server hold?
  passwordsecure.server.certificate_info:
  register: psr_store

- name: Show the thumbprint of the sales database's certificate
  passwordsecure.server.certificate_info:
    kind: database
    identity: sales
  register: psr_sales

- name: Fail unless every database certificate is in place
  ansible.builtin.assert:
    that: psr_store.counts.database == psr_databases | length
"""

RETURN = r"""
certificates:
  description: The store's certificates that match the filters, sorted by kind and identity.
  returned: always
  type: list
  elements: dict
  contains:
    kind:
      description: The certificate kind.
      type: str
      returned: always
      sample: master_key
    identity:
      description: The identity; V(null) for the server encryption certificate and the SSL connection certificate.
      type: str
      returned: always
      sample: corp.example.com
    friendly_name:
      description: The name the product's certificate manager shows.
      type: str
      returned: always
      sample: "Active Directory: Domain: corp.example.com"
    subject:
      description: The certificate's subject as an RFC 4514 string.
      type: str
      returned: always
      sample: O=Password Secure,OU=corp.example.com,CN=Active Directory Master Key
    thumbprint:
      description: The SHA-1 of the certificate's DER in upper-case hex, as Windows shows it.
      type: str
      returned: always
      sample: E4B6A65817B9DBE693769725ED243C8F576B8219
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
      description: The end of validity, ISO 8601 in UTC.
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
      description:
        - V(generated) for a certificate made by the server (self-signed by its own key), V(own) for your own
          SSL connection certificate (issued by a CA, or otherwise not made by the server).
        - Only the SSL connection certificate can be V(own).
      type: str
      returned: always
      sample: generated
    names:
      description:
        - The names and IP addresses the SSL connection certificate lists in its Subject Alternative Name, in its
          order (every one a DNS name, as the product writes them).
        - V(null) for every other kind.
      type: list
      elements: str
      returned: always
      sample: [psr1.example.com, psr1, 192.0.2.10]
    issuer:
      description:
        - The issuer of your own SSL connection certificate (RV(certificates[].origin=own)), as an RFC 4514 string.
        - V(null) for a generated certificate, which is its own issuer.
      type: str
      returned: always
      sample: O=Example,CN=Example Issuing CA
    chain:
      description:
        - The CA certificates imported with your own SSL connection certificate, its issuer first, up to the root
          if it was given; the store keeps them with the certificate, and an export of O(kind=ssl) includes them.
        - V(null) for every other certificate, and for an own certificate imported without its chain.
      type: list
      elements: dict
      returned: always
      sample:
        - subject: O=Example,CN=Example Issuing CA
          thumbprint: 8401F30AB8A13A4F3C149ADED47203DB206AE02F
          not_after: "2036-11-24T06:10:15Z"
      contains:
        subject:
          description: The CA certificate's subject as an RFC 4514 string.
          type: str
          returned: always
        thumbprint:
          description: The SHA-1 of its DER in upper-case hex.
          type: str
          returned: always
        not_after:
          description: Its end of validity, ISO 8601 in UTC.
          type: str
          returned: always
    expired:
      description: Whether the end of validity has passed. Information only; the product never checks it.
      type: bool
      returned: always
      sample: false
    has_private_key:
      description: Whether the store holds the certificate's private key.
      type: bool
      returned: always
      sample: true
superseded:
  description:
    - Certificates an import with O(passwordsecure.server.certificate_import#module:on_conflict=replace) put aside,
      and generated SSL connection certificates that M(passwordsecure.server.certificate) made anew for other
      names, kept with their keys as a backup inside the store; filtered like RV(certificates).
    - Each item has the fields of RV(certificates) (without RV(certificates[].expired) and
      RV(certificates[].has_private_key)) plus C(superseded_at) (ISO 8601 UTC) and C(superseded_by) (the thumbprint
      that took its place).
  returned: always
  type: list
  elements: dict
  sample: []
counts:
  description: How many certificates of each kind the whole store holds (the filters do not apply).
  returned: always
  type: dict
  sample: {database: 2, master_key: 1, discovery_service: 1, password_reset: 1, server_encryption: 1, ssl: 1}
store_exists:
  description: Whether the store directory holds a store.
  returned: always
  type: bool
  sample: true
keys_encrypted:
  description: Whether the store encrypts its private keys with a store password.
  returned: always
  type: bool
  sample: false
store_path:
  description: The store's directory.
  returned: always
  type: str
  sample: /var/lib/passwordsecure/certificates
free_bytes:
  description:
    - The bytes free for the user the module runs as on the file system of O(store_path), or of its nearest
      existing parent when the store does not exist yet - C(statvfs) C(f_bavail * f_frsize), what C(df) shows as
      available (the blocks a file system reserves for root are not counted).
    - For a check that a store has room before certificates are written to it.
  returned: always
  type: int
  sample: 52613349376
"""

import os

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.passwordsecure.server.plugins.module_utils.common import STORE_ARGS, argument_spec
from ansible_collections.passwordsecure.server.plugins.module_utils.errors import PasswordSecureError, StoreError
from ansible_collections.passwordsecure.server.plugins.module_utils.kinds import KIND_NAMES
from ansible_collections.passwordsecure.server.plugins.module_utils.manage import info
from ansible_collections.passwordsecure.server.plugins.module_utils.store import INDEX_NAME

ARGUMENT_SPEC = argument_spec(
    STORE_ARGS,
    kind={"type": "str", "choices": list(KIND_NAMES)},
    identity={"type": "str"},
    warn_missing_store={"type": "bool", "default": True},
)


def free_bytes(path: str) -> int:
    """Bytes free to unprivileged users (``f_bavail``) on the file system of ``path`` or its nearest existing parent."""
    probe = os.path.abspath(path)
    while True:
        try:
            found = os.statvfs(probe)
        except (FileNotFoundError, NotADirectoryError):
            parent = os.path.dirname(probe)
            if parent == probe:
                raise
            probe = parent
        except OSError as exc:
            raise StoreError("cannot measure the free space at %s: %s; run as a user that may read the path "
                             "(become: true)" % (probe, exc.strerror or exc)) from exc
        else:
            return found.f_bavail * found.f_frsize


def missing_store_warning(store_path: str) -> str:
    """What to say about a store_path that holds no store (``store_exists`` false)."""
    found = " (the directory holds no %s)" % INDEX_NAME if os.path.isdir(store_path) else ""
    return ("the certificate store at %s does not exist%s; check store_path (it lists no certificates; a new "
            "server's store is made by the first certificate written to it)" % (store_path, found))


def main() -> None:
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, required_by={"identity": "kind"}, supports_check_mode=True)
    p = module.params
    try:
        result = info(p["store_path"], kind=p["kind"], identity=p["identity"])
        result["free_bytes"] = free_bytes(p["store_path"])
    except PasswordSecureError as exc:
        module.fail_json(msg=str(exc))
    if not result["store_exists"] and p["warn_missing_store"]:
        module.warn(missing_store_warning(p["store_path"]))
    module.exit_json(**result)


if __name__ == "__main__":
    main()
