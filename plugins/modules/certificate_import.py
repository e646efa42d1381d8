#!/usr/bin/python
# Copyright (c) passwordsecure.server contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: certificate_import
short_description: Import a Password Secure server's certificates from PKCS#12 into its certificate store
version_added: 0.1.0
description:
  - Imports the certificates of a PKCS#12 (.pfx) file, with their private keys, into a Password Secure server's
    certificate store; the file and its password, as the product's certificate manager takes them.
  - Reads files with one certificate or many, written by this collection, by C(openssl pkcs12 -export) (also
    C(-legacy)), by Java C(keytool), or in the Windows styles (AES, 3DES, RC2-40).
  - Recognises each certificate's kind and identity from the certificate itself. Only certificates a Password Secure
    server generated are accepted; these cannot be replaced by your own certificate, so a certificate issued by a CA
    or with a foreign subject is refused.
  - Checks everything before it writes; the password opens the file, each certificate has its key and the key
    matches, each is a Password Secure certificate. A file lands whole or not at all.
  - Idempotent by thumbprint; a certificate the store already holds changes nothing. Expired certificates are
    accepted, since the product never checks expiry.
author:
  - passwordsecure.server contributors (@passwordsecure)
requirements:
  - asn1crypto >= 1.5 on the managed host (Debian/Ubuntu package python3-asn1crypto)
extends_documentation_fragment:
  - passwordsecure.server.store
  - passwordsecure.server.store_owner
attributes:
  check_mode:
    support: full
    description: Reads and checks the file, reports what would be imported; writes nothing.
  diff_mode:
    support: full
    description: Before and after as one line per certificate (kind, identity, thumbprint, subject, expiry); never key
      material.
options:
  path:
    description:
      - The PKCS#12 file on the managed host. Files over 64 MiB are refused.
      - Exactly one of O(path) and O(content) is required.
    type: path
  content:
    description:
      - The PKCS#12 file, base64-encoded, for example RV(passwordsecure.server.certificate_export#module:content).
    type: str
  password:
    description:
      - The password of the PKCS#12 file.
    type: str
    required: true
  kind:
    description:
      - For a file with a single certificate; the kind it must be. An error when the certificate says otherwise.
    type: str
    choices: [database, master_key, discovery_service, password_reset, server_encryption]
  identity:
    description:
      - For a file with a single certificate; the identity it must have.
    type: str
  on_conflict:
    description:
      - What to do when the store holds a B(different) certificate for the same kind and identity.
      - V(fail) stops before anything is written and names both thumbprints of every conflict.
      - V(replace) imports the file's certificate and keeps the store's old one, with its key, as a superseded entry
        inside the store.
      - V(skip) keeps the store's certificate and imports the rest.
    type: str
    choices: [fail, replace, skip]
    default: fail
notes:
  - Each key is checked against its certificate pairwise (public key equal, RSA parameters consistent) instead of
    the full RSA validation of C(cryptography), which would cost 35 to 120 ms per key; see the collection's
    C(docs/certificate-kinds.md).
seealso:
  - module: passwordsecure.server.certificate_export
  - module: passwordsecure.server.certificate_info
"""

EXAMPLES = r"""
- name: Import the certificates a moved database needs
  passwordsecure.server.certificate_import:
    path: /srv/import/sales.pfx
    password: "{{ vault_pfx_password }}"

- name: Import what an export on another host returned through the controller
  passwordsecure.server.certificate_import:
    content: "{{ hostvars['psr-old'].psr_export.content }}"
    password: "{{ vault_pfx_password }}"
    on_conflict: replace
  no_log: true
"""

RETURN = r"""
certificates:
  description: The certificates of the file that have their key, in file order.
  returned: always
  type: list
  elements: dict
  contains:
    kind:
      description: The kind, as the certificate says.
      type: str
      returned: always
      sample: database
    identity:
      description: The identity, as the certificate says (normalised).
      type: str
      returned: always
      sample: sales
    thumbprint:
      description: The SHA-1 of the certificate's DER in upper-case hex.
      type: str
      returned: always
      sample: 3F2A9C0B6D4E8F1A2B3C4D5E6F708192A3B4C5D6
    subject:
      description: The certificate's subject as an RFC 4514 string.
      type: str
      returned: always
      sample: O=Password Secure,OU=sales,CN=psrDatabaseKey
    friendly_name:
      description: The name the product shows.
      type: str
      returned: always
      sample: psrDatabaseKey (sales)
    not_after:
      description: The end of validity, ISO 8601 in UTC.
      type: str
      returned: always
      sample: "9999-12-31T23:59:59Z"
    expired:
      description: Whether it has expired; information only.
      type: bool
      returned: always
      sample: false
    action:
      description: V(added), V(unchanged), V(replaced) or V(skipped).
      type: str
      returned: always
      sample: added
    changed:
      description: Whether it was (or in check mode would be) written to the store.
      type: bool
      returned: always
      sample: true
not_imported:
  description:
    - What the file holds that cannot become a store entry; certificates without their private key (with their
      thumbprint) and private keys without a certificate (thumbprint V(null)). Reported, never imported.
  returned: always
  type: list
  elements: dict
  sample: []
store_path:
  description: The store's directory.
  returned: always
  type: str
  sample: /var/lib/passwordsecure/certificates
"""

import base64
import binascii
import os

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.passwordsecure.server.plugins.module_utils.common import (
    STORE_ARGS,
    STORE_OWNER_ARGS,
    argument_spec,
    resolve_owner,
)
from ansible_collections.passwordsecure.server.plugins.module_utils.errors import (
    InvalidRequestError,
    PasswordSecureError,
)
from ansible_collections.passwordsecure.server.plugins.module_utils.files import read_if_exists
from ansible_collections.passwordsecure.server.plugins.module_utils.kinds import KIND_NAMES
from ansible_collections.passwordsecure.server.plugins.module_utils.pkcs12 import (
    MAX_PFX_SIZE,
    Pkcs12FormatError,
    require_pkcs12,
)
from ansible_collections.passwordsecure.server.plugins.module_utils.transfer import ON_CONFLICT, import_

ARGUMENT_SPEC = argument_spec(
    STORE_ARGS,
    STORE_OWNER_ARGS,
    path={"type": "path"},
    content={"type": "str", "no_log": True},
    password={"type": "str", "required": True, "no_log": True},
    kind={"type": "str", "choices": list(KIND_NAMES)},
    identity={"type": "str"},
    on_conflict={"type": "str", "choices": list(ON_CONFLICT), "default": "fail"},
)


def read_source(path: str | None, content: str | None) -> tuple[bytes, str]:
    if path is not None:
        # Refused before reading: read_if_exists returns b"" for a file over its limit, which read_pfx calls empty.
        size = os.path.getsize(path) if os.path.isfile(path) else 0
        if size > MAX_PFX_SIZE:
            raise Pkcs12FormatError(
                "%s: is %d bytes, larger than the %d bytes (%d MiB) a PKCS#12 file may have here; give the right "
                "file, or split the export into several files" % (path, size, MAX_PFX_SIZE, MAX_PFX_SIZE >> 20)
            )
        data = read_if_exists(path, MAX_PFX_SIZE)
        if data is None:
            raise InvalidRequestError("%s does not exist; give the path of a PKCS#12 file on the managed host" % path)
        return data, path
    try:
        return base64.b64decode("".join(content.split()), validate=True), "content"  # line breaks are fine
    except (binascii.Error, ValueError):
        raise InvalidRequestError("content is not base64; give the PKCS#12 file base64-encoded") from None


def main() -> None:
    module = AnsibleModule(
        argument_spec=ARGUMENT_SPEC,
        mutually_exclusive=[("path", "content")],
        required_one_of=[("path", "content")],
        required_by={"identity": "kind"},
        supports_check_mode=True,
    )
    p = module.params
    try:
        require_pkcs12()
        data, source = read_source(p["path"], p["content"])
        result = import_(
            p["store_path"], data, password=p["password"], source=source, kind=p["kind"], identity=p["identity"],
            on_conflict=p["on_conflict"], store_password=p["store_password"],
            owner=resolve_owner(p["owner"], p["group"]), check_mode=module.check_mode,
        )
    except PasswordSecureError as exc:
        module.fail_json(msg=str(exc))
    if not module._diff:
        result.pop("diff")
    module.exit_json(**result)


if __name__ == "__main__":
    main()
