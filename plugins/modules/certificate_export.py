#!/usr/bin/python
# Copyright (c) passwordsecure.server contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: certificate_export
short_description: Export a Password Secure server's certificates as password-protected PKCS#12
version_added: 1.0.0
description:
  - Exports certificates with their private keys from a Password Secure server's certificate store as PKCS#12 (.pfx),
    as the product's certificate manager does, either all into one file or each into its own file.
  - Selects everything, one kind, one certificate, or what one or more databases need on another server (O(database)).
  - With O(path), all certificates go into one real PKCS#12 holding every key and certificate, which
    C(openssl pkcs12 -info) and C(keytool -list) list in full.
  - Idempotent. When a destination already holds exactly the selected certificates, each with its key (read with
    O(password) and compared by thumbprint and key), it is left as it is. PKCS#12 bytes differ on every write (random
    salts), so the file's bytes are never compared.
  - Never loads a private key into C(cryptography); keys travel as PKCS#8 from the store to the file.
author:
  - passwordsecure.server contributors (@passwordsecure)
requirements:
  - "asn1crypto >= 1.4 on the managed host (Debian/Ubuntu package python3-asn1crypto; RHEL: python3-asn1crypto
    from EPEL)"
extends_documentation_fragment:
  - passwordsecure.server.store
  - ansible.builtin.files
  - passwordsecure.server.attributes
  - passwordsecure.server.attributes.ACTION_GROUP
  - passwordsecure.server.attributes.FILES
attributes:
  check_mode:
    support: full
    details: Reports which files would be written; writes nothing.
  diff_mode:
    support: full
    details:
      - Lists, per file written, the certificates it will hold (kind, identity, thumbprint, subject, expiry); never
        key material.
      - A file that holds the right certificates but whose mode, owner or group the task puts right adds a line
        with them before and after.
  idempotent:
    support: full
    details: A destination that holds exactly the selected certificates, each with its key, is left as it is
      (compared by thumbprint and key, since PKCS#12 bytes differ on every write). O(return_content) returns
      new bytes each run but changes nothing.
  safe_file_operations:
    support: full
    details: Each file is written to a temp file in its destination's folder (mode C(0600)), synced and moved into
      place with Ansible's atomic move; then mode, owner, group and SELinux context are set as the options say.
options:
  database:
    description:
      - Export what these databases need on another server; each database's own certificate plus every certificate that
        must travel with a database (all master key, discovery service, Password Reset and server encryption
        certificates).
      - Each name must be a database certificate the store holds.
      - Mutually exclusive with O(kind) and O(identity). With none of the three, every certificate that travels
        with a database is exported; the SSL connection certificate never does, and is left out (RV(left_out)).
    type: list
    elements: str
  kind:
    description:
      - Export only the certificates of this kind.
      - V(ssl) exports the SSL connection certificate, which every other selection leaves out.
    type: str
    choices: [database, master_key, discovery_service, password_reset, server_encryption, ssl]
  identity:
    description:
      - With O(kind), export only the certificate with this identity.
    type: str
  path:
    description:
      - Write one PKCS#12 file holding every selected certificate and key.
      - Exactly one of O(path), O(directory) and O(return_content=true) is required.
    type: path
  directory:
    description:
      - Write one PKCS#12 file per certificate into this directory, named C(<kind>_<identity>.pfx)
        (C(server_encryption.pfx) for the server encryption certificate). Created (mode C(0700)) when missing.
    type: path
  server_encryption_path:
    description:
      - Write the server encryption certificate to this file of its own instead of with the others; the product's
        documentation recommends keeping it separately, off the server.
      - Goes with O(path) or O(directory).
    type: path
  return_content:
    description:
      - Return the PKCS#12 file, base64-encoded, as RV(content) instead of writing a file, to move it through the
        controller's memory.
      - The content is protected by O(password) only; use C(no_log) on the task.
    type: bool
  password:
    description:
      - The password of the PKCS#12 file(s), at least 12 characters. It is the only protection of the keys in the file.
      - Required with O(format=pkcs12); refused with V(pem) and V(der), which hold no key.
    type: str
  format:
    description:
      - V(pkcs12) writes the certificates with their private keys, protected by O(password).
      - V(pem) and V(der) write the certificates alone, without their keys and without a password, for clients to
        trust; above all the SSL connection certificate (O(kind=ssl)). A PEM file may hold several certificates, a
        DER file holds one (with O(directory), one file each, named C(<kind>_<identity>.crt) or C(.cer)).
      - With V(pem) and V(der) the files get mode C(0644) unless O(mode) says otherwise, and no key is read, so
        O(store_password) is not needed (and refused). RV(content) is the PEM text, or the DER base64-encoded.
    type: str
    choices: [pkcs12, pem, der]
    default: pkcs12
  trust_anchor:
    description:
      - With O(format=pem) or O(format=der), export for each selected certificate the certificate a client must
        trust to verify it, its trust anchor; itself when it is self-signed (every certificate the server
        generates), or the self-signed root CA certificate that ends the chain of your own SSL connection
        certificate. OpenSSL clients take no other certificate as a trust anchor.
      - An own certificate whose chain in the store stops below the root is an error; import it again with its chain
        up to the root, or give the clients the root CA's certificate yourself.
      - The role passwordsecure.server.client_trust exports this way.
    type: bool
    default: false
  encryption:
    description:
      - V(modern) uses AES-256-CBC with PBKDF2-HMAC-SHA256 for keys and certificates and an HMAC-SHA256 MAC.
      - V(compatibility) uses 3DES (pbeWithSHAAnd3-KeyTripleDES-CBC) and an HMAC-SHA1 MAC, what Windows Server 2016
        and older import. Choose it only for them.
    type: str
    choices: [modern, compatibility]
    default: modern
  backup:
    description:
      - Keep a timestamped copy of a file that is replaced.
    type: bool
    default: false
notes:
  - The files are written to a temp file in their own folder, fsynced and renamed; mode C(0600) unless O(mode) says
    otherwise.
seealso:
  - module: passwordsecure.server.certificate_import
  - module: passwordsecure.server.certificate_info
"""

EXAMPLES = r"""
- name: Export what the sales database needs, all into one file; the server encryption certificate apart
  passwordsecure.server.certificate_export:
    database: sales
    path: /srv/export/sales.pfx
    server_encryption_path: /srv/export/server-encryption.pfx
    password: "{{ vault_pfx_password }}"

- name: Export every certificate, one file each, for Windows Server 2016
  passwordsecure.server.certificate_export:
    directory: /srv/export/all
    password: "{{ vault_pfx_password }}"
    encryption: compatibility

- name: The SSL connection certificate alone, for clients to trust (no key, no password)
  passwordsecure.server.certificate_export:
    kind: ssl
    format: pem
    path: /srv/export/psr1-ssl.crt

- name: The same into the controller's memory, as PEM text
  passwordsecure.server.certificate_export:
    kind: ssl
    format: pem
    return_content: true
  register: psr_ssl

- name: Carry the master key certificates through the controller's memory
  passwordsecure.server.certificate_export:
    kind: master_key
    return_content: true
    password: "{{ vault_pfx_password }}"
  register: psr_export
  no_log: true
"""

RETURN = r"""
certificates:
  description: The certificates exported, in the store's order.
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
      description: The identity; V(null) for the server encryption certificate.
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
      description: The name the product shows; written as the PKCS#12 friendlyName.
      type: str
      returned: always
      sample: psrDatabaseKey (sales)
    not_after:
      description: The end of validity, ISO 8601 in UTC.
      type: str
      returned: always
      sample: "9999-12-31T23:59:59Z"
    changed:
      description: Whether a file holding this certificate was written.
      type: bool
      returned: always
      sample: true
    trust_anchor:
      description:
        - The certificate exported in its place, C(subject) and C(thumbprint); the certificate itself when it is
          self-signed, the root CA of its chain when it is your own.
      type: dict
      returned: with O(trust_anchor=true)
      sample: {subject: "O=Password Secure,CN=PSR8Server", thumbprint: 3F2A9C0B6D4E8F1A2B3C4D5E6F708192A3B4C5D6}
files:
  description: The files of the export, written or already as wanted; empty with O(return_content).
  returned: always
  type: list
  elements: dict
  contains:
    path:
      description: The file.
      type: str
      returned: always
      sample: /srv/export/sales.pfx
    changed:
      description: Whether it was (or in check mode would be) written.
      type: bool
      returned: always
      sample: true
    thumbprints:
      description: The thumbprints of the certificates it holds.
      type: list
      elements: str
      returned: always
      sample: [3F2A9C0B6D4E8F1A2B3C4D5E6F708192A3B4C5D6]
left_out:
  description:
    - The certificates the store holds that a selection without O(kind) leaves out, and why, each with C(kind),
      C(identity), C(thumbprint) and C(reason). That is the SSL connection certificate, which never moves.
  returned: always
  type: list
  elements: dict
  sample: [{kind: ssl, identity: null, thumbprint: 3F2A9C0B6D4E8F1A2B3C4D5E6F708192A3B4C5D6,
            reason: "never moved: each server has its own SSL connection certificate, for its own names"}]
encryption:
  description: The encryption profile used.
  returned: always
  type: str
  sample: modern
content:
  description:
    - With O(format=pkcs12), the PKCS#12 file, base64-encoded. B(Secret) - it holds the private keys, protected by
      O(password) only.
    - With O(format=pem), the certificates as PEM text; with O(format=der), the certificate's DER, base64-encoded.
      Public, no key.
  returned: when O(return_content=true)
  type: str
format:
  description: The format written, O(format).
  returned: with O(format=pem) or O(format=der)
  type: str
  sample: pem
backup_files:
  description: The backups made of replaced files.
  returned: always
  type: list
  elements: str
  sample: []
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.passwordsecure.server.plugins.module_utils.common import STORE_ARGS, argument_spec
from ansible_collections.passwordsecure.server.plugins.module_utils.errors import (
    InvalidRequestError,
    PasswordSecureError,
)
from ansible_collections.passwordsecure.server.plugins.module_utils.files import (
    apply_attributes,
    ensure_directory,
    read_if_exists,
    write_file,
)
from ansible_collections.passwordsecure.server.plugins.module_utils.kinds import KIND_NAMES
from ansible_collections.passwordsecure.server.plugins.module_utils.pkcs12 import MAX_PFX_SIZE, PROFILES, require_pkcs12
from ansible_collections.passwordsecure.server.plugins.module_utils.transfer import (
    PUBLIC_FORMATS,
    export,
    export_public,
)

ARGUMENT_SPEC = argument_spec(
    STORE_ARGS,
    database={"type": "list", "elements": "str"},
    kind={"type": "str", "choices": list(KIND_NAMES)},
    identity={"type": "str"},
    path={"type": "path"},
    directory={"type": "path"},
    server_encryption_path={"type": "path"},
    return_content={"type": "bool"},
    password={"type": "str", "no_log": True},
    format={"type": "str", "choices": ["pkcs12"] + list(PUBLIC_FORMATS), "default": "pkcs12"},
    trust_anchor={"type": "bool", "default": False},
    encryption={"type": "str", "choices": list(PROFILES), "default": "modern"},
    backup={"type": "bool", "default": False},
)


def main() -> None:
    module = AnsibleModule(
        argument_spec=ARGUMENT_SPEC,
        mutually_exclusive=[("path", "directory", "return_content"), ("database", "kind"), ("database", "identity")],
        required_one_of=[("path", "directory", "return_content")],
        required_if=[("format", "pkcs12", ("password",))],
        required_by={"identity": "kind"},
        add_file_common_args=True,
        supports_check_mode=True,
    )
    p = module.params
    try:
        if p["format"] != "pkcs12":
            result, writes = public(module)
        else:
            result, writes = private(module)
        result["backup_files"] = [] if module.check_mode else [
            b for b in (write_file(module, path, data, backup=p["backup"]) for path, data in writes) if b]
        for item in result["files"]:
            if not (module.check_mode and item["changed"]):
                # A permission fix of a file whose content stays shows in the diff; a file written anew shows as such.
                result["changed"] = apply_attributes(module, item["path"], result["changed"],
                                                     None if item["changed"] else result["diff"])
    except PasswordSecureError as exc:
        module.fail_json(msg=str(exc))
    if not module._diff:
        result.pop("diff")
    module.exit_json(**result)


def public(module: AnsibleModule):
    """The certificates alone, PEM or DER: no key, no password; files 0644 unless mode says otherwise."""
    p = module.params
    given = [name for name in ("password", "server_encryption_path", "store_password") if p[name]]
    if given:
        raise InvalidRequestError(
            "%s go%s with format pkcs12 only: format %s writes the certificates alone, without their keys, so "
            "nothing needs a password; remove %s"
            % (", ".join(given), "" if len(given) > 1 else "es", p["format"], " and ".join(given))
        )
    if p["mode"] is None:
        p["mode"] = "0644"
    if p["directory"]:
        ensure_directory(module, p["directory"])
    return export_public(
        p["store_path"], fmt=p["format"], databases=p["database"], kind=p["kind"], identity=p["identity"],
        path=p["path"], directory=p["directory"], return_content=bool(p["return_content"]),
        read_existing=lambda path: read_if_exists(path, MAX_PFX_SIZE), trust_anchor=p["trust_anchor"],
    )


def private(module: AnsibleModule):
    """The certificates with their keys, as PKCS#12 protected by the password."""
    p = module.params
    if p["trust_anchor"]:
        raise InvalidRequestError("trust_anchor goes with format pem or der, which write certificates for clients to "
                                  "trust; remove trust_anchor, or set format")
    require_pkcs12()
    if p["directory"]:
        ensure_directory(module, p["directory"])
    return export(
        p["store_path"], password=p["password"], profile=p["encryption"], databases=p["database"],
        kind=p["kind"], identity=p["identity"], path=p["path"], directory=p["directory"],
        server_encryption_path=p["server_encryption_path"], return_content=bool(p["return_content"]),
        store_password=p["store_password"], read_existing=lambda path: read_if_exists(path, MAX_PFX_SIZE),
    )


if __name__ == "__main__":
    main()
