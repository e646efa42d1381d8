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
  - With O(directory), imports every PKCS#12 file of a directory in one task and one store commit, for example
    the files M(passwordsecure.server.certificate_export) writes with
    O(passwordsecure.server.certificate_export#module:directory), one per certificate.
  - Reads files with one certificate or many, written by this collection, by C(openssl pkcs12 -export) (also
    C(-legacy)), by Java C(keytool), or in the Windows styles (AES, 3DES, RC2-40).
  - Recognises each certificate's kind and identity from the certificate itself. Only certificates a Password Secure
    server generated are accepted; these cannot be replaced by your own certificate, so a certificate issued by a CA
    or with a foreign subject is refused. The one exception is the SSL connection certificate, which may be your
    own; with O(kind=ssl) one with its subject (C(CN=PSR8Server, O=Password Secure)) is imported whoever issued it,
    as C(origin=own) when a CA did.
  - The SSL connection certificate (C(PSR8Server)) never moves with a database, since each server has its own for
    its own names; it is left out of an import and listed in RV(not_imported) unless O(kind=ssl) is given. A file
    that holds nothing else fails without O(kind=ssl).
  - Checks everything before it writes; the password opens the file, each certificate has its key and the key
    matches, each is a Password Secure certificate. A file lands whole or not at all; with O(directory), all files
    land or none does, and an error names the file it is about.
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
    description: Reads and checks the file (or every file of O(directory)), reports what would be imported; writes
      nothing.
  diff_mode:
    support: full
    description: Before and after as one line per certificate (kind, identity, thumbprint, subject, expiry); never key
      material.
options:
  path:
    description:
      - The PKCS#12 file on the managed host. Files over 64 MiB are refused.
      - Exactly one of O(path), O(content) and O(directory) is required.
    type: path
  content:
    description:
      - The PKCS#12 file, base64-encoded, for example RV(passwordsecure.server.certificate_export#module:content).
    type: str
  directory:
    description:
      - A directory on the managed host; every regular file in it whose name ends in C(.pfx) or C(.p12) (in any
        case) is imported, in the order of their names, all with O(password). Symlinks to files count as files.
        Subdirectories and other files are ignored; the search is not recursive.
      - Every file is opened and checked before anything is written, and all their certificates land in one store
        commit. One bad file (a wrong password, a refused certificate, a conflict with O(on_conflict=fail)) fails the
        task, naming the file, and nothing is imported.
      - The same certificate (same thumbprint) in two files counts once. Two different certificates for the same
        kind and identity in two files are refused.
      - A directory without such a file is an error. Each file may have up to 64 MiB, and a directory up to 100,000
        such files; split a larger set into several directories.
      - Mutually exclusive with O(kind) and O(identity).
    type: path
  password:
    description:
      - The password of the PKCS#12 file; with O(directory), of every file.
    type: str
    required: true
  kind:
    description:
      - For a file with a single certificate; the kind it must be. An error when the certificate says otherwise.
      - V(ssl) imports the SSL connection certificate, which an import without O(kind) leaves out.
      - Not with O(directory).
    type: str
    choices: [database, master_key, discovery_service, password_reset, server_encryption, ssl]
  identity:
    description:
      - For a file with a single certificate; the identity it must have.
      - Not with O(directory).
    type: str
  on_conflict:
    description:
      - What to do when the store holds a B(different) certificate for the same kind and identity.
      - V(fail) stops before anything is written and names both thumbprints of every conflict, and the file it
        came from.
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

# certificate_export writes one file per certificate into a directory; one import task takes them all back.
- name: Export every certificate of the old store, one file each
  passwordsecure.server.certificate_export:
    store_path: /var/lib/passwordsecure/certificates
    directory: /srv/transfer/all
    password: "{{ vault_pfx_password }}"

- name: Import all of those files into the new store in one task, all or nothing
  passwordsecure.server.certificate_import:
    store_path: /srv/psr-new/certificates
    directory: /srv/transfer/all
    password: "{{ vault_pfx_password }}"
  register: psr_import

- name: Name the files that held certificates without their key (listed in not_imported, never imported)
  ansible.builtin.debug:
    msg: "{{ psr_import.files | selectattr('not_imported') | map(attribute='path') | list }}"
"""

RETURN = r"""
certificates:
  description:
    - The certificates of the file that have their key, in file order.
    - With O(directory), those of every file, in the order of the files; a certificate found in several files is
      listed once, with the first file.
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
    path:
      description: The file the certificate came from.
      type: str
      returned: when O(path) or O(directory) is given
      sample: /srv/transfer/all/database_sales.pfx
not_imported:
  description:
    - What the file holds that cannot become a store entry; certificates without their private key (with their
      thumbprint) and private keys without a certificate (thumbprint V(null)). Reported, never imported.
    - Also the SSL connection certificate when O(kind) is not V(ssl), with its thumbprint and the reason that it is
      never moved (each server has its own, for its own names).
  returned: always
  type: list
  elements: dict
  sample: []
  contains:
    thumbprint:
      description: The certificate's thumbprint; V(null) for private keys without a certificate.
      type: str
      returned: always
    reason:
      description:
        - Why it cannot be imported, for example V(no private key in the file), or for the SSL connection
          certificate that it is never moved and O(kind=ssl) imports it all the same.
      type: str
      returned: always
      sample: no private key in the file
    path:
      description: The file that holds it.
      type: str
      returned: when O(path) or O(directory) is given
files:
  description: The files O(directory) held that were imported, in the order of their names.
  returned: when O(directory) is given
  type: list
  elements: dict
  contains:
    path:
      description: The file.
      type: str
      returned: always
      sample: /srv/transfer/all/database_sales.pfx
    certificates:
      description: How many certificates with their private key it holds (each counted once per file).
      type: int
      returned: always
      sample: 1
    not_imported:
      description: How many items of RV(not_imported) it holds.
      type: int
      returned: always
      sample: 0
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
    StoreError,
)
from ansible_collections.passwordsecure.server.plugins.module_utils.files import read_if_exists
from ansible_collections.passwordsecure.server.plugins.module_utils.kinds import KIND_NAMES
from ansible_collections.passwordsecure.server.plugins.module_utils.pkcs12 import (
    MAX_PFX_SIZE,
    Pkcs12FormatError,
    require_pkcs12,
)
from ansible_collections.passwordsecure.server.plugins.module_utils.transfer import ON_CONFLICT, import_

# The files one task imports from a directory: each is read and checked, and its keys held, before the commit.
MAX_DIRECTORY_FILES = 100_000
PKCS12_SUFFIXES = (".pfx", ".p12")

ARGUMENT_SPEC = argument_spec(
    STORE_ARGS,
    STORE_OWNER_ARGS,
    path={"type": "path"},
    content={"type": "str", "no_log": True},
    directory={"type": "path"},
    password={"type": "str", "required": True, "no_log": True},
    kind={"type": "str", "choices": list(KIND_NAMES)},
    identity={"type": "str"},
    on_conflict={"type": "str", "choices": list(ON_CONFLICT), "default": "fail"},
)


def read_file(path: str) -> bytes:
    """A PKCS#12 file's bytes; refused before reading when it is over MAX_PFX_SIZE."""
    # read_if_exists returns b"" for a file over its limit, which read_pfx would call empty.
    size = os.path.getsize(path) if os.path.isfile(path) else 0
    if size > MAX_PFX_SIZE:
        raise Pkcs12FormatError(
            "%s: is %d bytes, larger than the %d bytes (%d MiB) a PKCS#12 file may have here; give the right "
            "file, or split the export into several files" % (path, size, MAX_PFX_SIZE, MAX_PFX_SIZE >> 20)
        )
    data = read_if_exists(path, MAX_PFX_SIZE)
    if data is None:
        raise InvalidRequestError("%s does not exist; give the path of a PKCS#12 file on the managed host" % path)
    return data


def list_directory(directory: str) -> list[str]:
    """The PKCS#12 files directly in ``directory`` (regular files, or symlinks to them), sorted by name."""
    try:
        with os.scandir(directory) as listing:
            entries = [entry for entry in listing if entry.name.lower().endswith(PKCS12_SUFFIXES)]
    except FileNotFoundError:
        raise InvalidRequestError(
            "directory %s does not exist; give the directory on the managed host that holds the PKCS#12 files "
            "(certificate_export writes one with its directory option)" % directory
        ) from None
    except NotADirectoryError:
        raise InvalidRequestError(
            "directory %s is not a directory; give a directory, or give a single PKCS#12 file as path" % directory
        ) from None
    except OSError as exc:
        raise StoreError("cannot list directory %s: %s; run as a user that may read it (become: true)"
                         % (directory, exc.strerror or exc)) from exc
    names = []
    for entry in entries:
        if entry.is_dir():  # follows symlinks: a folder (or a link to one) is ignored
            continue
        if not entry.is_file():
            raise InvalidRequestError(
                "%s is not a regular file (a broken symlink, a FIFO, a socket or a device); remove it from the "
                "directory, or put the PKCS#12 file it is named after in its place" % entry.path
            )
        names.append(entry.name)
    if not names:
        raise InvalidRequestError(
            "directory %s holds no file named *.pfx or *.p12 (subdirectories are not searched); give the directory "
            "that holds the PKCS#12 files, for example the one certificate_export wrote with directory" % directory
        )
    if len(names) > MAX_DIRECTORY_FILES:
        raise InvalidRequestError(
            "directory %s holds %d files named *.pfx or *.p12, more than the %d one task imports; split them into "
            "several directories and import each in its own task" % (directory, len(names), MAX_DIRECTORY_FILES)
        )
    return [os.path.join(directory, name) for name in sorted(names)]


def read_sources(path: str | None, content: str | None, directory: str | None):
    """(sources for transfer.import_, whether they are files). A directory's files are read one by one."""
    if directory is not None:
        return ((file, read_file(file)) for file in list_directory(directory)), True
    if path is not None:
        return [(path, read_file(path))], True
    try:
        data = base64.b64decode("".join(content.split()), validate=True)  # line breaks are fine
    except (binascii.Error, ValueError):
        raise InvalidRequestError("content is not base64; give the PKCS#12 file base64-encoded") from None
    return [("content", data)], False


def main() -> None:
    module = AnsibleModule(
        argument_spec=ARGUMENT_SPEC,
        mutually_exclusive=[("path", "content", "directory"), ("directory", "kind"), ("directory", "identity")],
        required_one_of=[("path", "content", "directory")],
        required_by={"identity": "kind"},
        supports_check_mode=True,
    )
    p = module.params
    try:
        require_pkcs12()
        sources, from_files = read_sources(p["path"], p["content"], p["directory"])
        result = import_(
            p["store_path"], sources, password=p["password"], kind=p["kind"], identity=p["identity"],
            on_conflict=p["on_conflict"], store_password=p["store_password"],
            owner=resolve_owner(p["owner"], p["group"]), check_mode=module.check_mode, from_files=from_files,
        )
    except PasswordSecureError as exc:
        module.fail_json(msg=str(exc))
    if p["directory"] is None:
        result.pop("files", None)
    if not module._diff:
        result.pop("diff")
    module.exit_json(**result)


if __name__ == "__main__":
    main()
