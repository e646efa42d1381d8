#!/usr/bin/python
# Copyright (c) passwordsecure.server contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: certificate_import
short_description: Import a Password Secure server's certificates from PKCS#12 into its certificate store
version_added: 1.0.0
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
    or with a foreign subject is refused.
  - The one exception is the SSL connection certificate, which may be your own, issued by a CA. With O(kind=ssl) a
    certificate with any subject is imported as the SSL connection certificate, with C(origin=own) unless the server
    generated it. It comes as PKCS#12 or, with O(format=pem), as PEM, with its private key and the CA certificates
    that issued it (its chain). The key must be the certificate's; every CA certificate given must link into its
    chain (each one the issuer of the one before; its subject is the issuer's name and its key verifies the
    signature), in any order. The store keeps the chain with the certificate, and
    M(passwordsecure.server.certificate_export) writes it into the PKCS#12 file after the certificate.
  - An expired (or not yet valid) own certificate is imported with a warning, since the product checks no expiry;
    TLS clients refuse it, so the warning says to import a renewed one.
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
  - "asn1crypto >= 1.4 on the managed host (Debian/Ubuntu package python3-asn1crypto; RHEL: python3-asn1crypto
    from EPEL)"
extends_documentation_fragment:
  - passwordsecure.server.store
  - passwordsecure.server.store_owner
  - passwordsecure.server.attributes
  - passwordsecure.server.attributes.ACTION_GROUP
  - passwordsecure.server.attributes.FILES
attributes:
  check_mode:
    support: full
    details: Reads and checks the file (or every file of O(directory)), reports what would be imported; writes
      nothing.
  diff_mode:
    support: full
    details: Before and after as one line per certificate (kind, identity, thumbprint, subject, expiry); never key
      material.
  idempotent:
    support: full
    details: A certificate the store holds already (the same thumbprint) is not imported again.
  safe_file_operations:
    support: partial
    details: The store is written crash-safe by the collection's own code (temp file, fsync, rename, a journal and a
      lock, one commit for all files), not by Ansible's file functions; its folders are C(0700) and its files
      C(0600), with the owner given.
options:
  path:
    description:
      - The PKCS#12 file on the managed host (with O(format=pem), the PEM file). Files over 64 MiB are refused.
      - Exactly one of O(path), O(content) and O(directory) is required.
    type: path
  content:
    description:
      - The PKCS#12 file, base64-encoded, for example RV(passwordsecure.server.certificate_export#module:content).
      - With O(format=pem), the PEM text itself (not base64).
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
  format:
    description:
      - V(pkcs12) reads O(path), O(content) or every file of O(directory) as PKCS#12; O(content) is base64.
      - V(pem) reads O(path) or O(content) (PEM text, not base64) as PEM, holding the certificate, the CA
        certificates of its chain (in any order) and one private key, unencrypted (PKCS#8 C(PRIVATE KEY),
        PKCS#1 C(RSA PRIVATE KEY), C(EC PRIVATE KEY)) or encrypted (C(ENCRYPTED PRIVATE KEY), or OpenSSL's
        C(Proc-Type) encryption) with O(password). The key may be in its own file, O(private_key_path). Text
        outside the PEM blocks is ignored; any other block (a certificate request, parameters) is refused. Not
        with O(directory).
      - PEM is meant for your own SSL connection certificate (O(kind=ssl)), the way a CA hands it out; a
        certificate the server generated imports from PEM too.
    type: str
    choices: [pkcs12, pem]
    default: pkcs12
  private_key_path:
    description:
      - With O(format=pem), a PEM file on the managed host that holds the certificate's private key, when it is not
        in O(path) or O(content) (for example the C(privkey.pem) beside a C(fullchain.pem)).
    type: path
  password:
    description:
      - The password of the PKCS#12 file; with O(directory), of every file. Required with O(format=pkcs12).
      - With O(format=pem), the passphrase of an encrypted private key; not needed for an unencrypted one (and then
        not used).
    type: str
  kind:
    description:
      - For a file with a single certificate; the kind it must be. An error when the certificate says otherwise.
      - V(ssl) imports the SSL connection certificate, which an import without O(kind) leaves out, and accepts your
        own certificate with any subject, with its chain.
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
      - The same certificate with another chain is no conflict; the store's entry gets the new chain
        (RV(certificates[].action=chain_updated)).
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

- name: Import your own SSL connection certificate, issued by your CA, with its chain and key as PEM
  passwordsecure.server.certificate_import:
    path: /etc/pki/psr/fullchain.pem
    private_key_path: /etc/pki/psr/privkey.pem
    format: pem
    kind: ssl

- name: Or the same from a PKCS#12 file with its chain, the key's passphrase from the vault
  passwordsecure.server.certificate_import:
    path: /srv/import/psr-ssl.pfx
    password: "{{ vault_ssl_pfx_password }}"
    kind: ssl

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
      description:
        - V(added), V(unchanged), V(replaced) or V(skipped).
        - V(chain_updated) when the store held the same certificate with another chain, which the given one replaces.
      type: str
      returned: always
      sample: added
    origin:
      description: V(generated) for a certificate the server made, V(own) for your own SSL connection certificate.
      type: str
      returned: always
      sample: generated
    chain:
      description:
        - The CA certificates imported with your own SSL connection certificate, its issuer first; each with
          C(subject), C(thumbprint) and C(not_after).
      type: list
      elements: dict
      returned: when the certificate came with a chain
      sample:
        - subject: O=Example,CN=Example Issuing CA
          thumbprint: 8401F30AB8A13A4F3C149ADED47203DB206AE02F
          not_after: "2036-11-24T06:10:15Z"
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
    - With O(kind=ssl) and your own certificate, the other certificates of the file are its chain, never listed here.
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
from ansible_collections.passwordsecure.server.plugins.module_utils.transfer import FORMATS, ON_CONFLICT, import_

# The files one task imports from a directory: each is read and checked, and its keys held, before the commit.
MAX_DIRECTORY_FILES = 100_000
PKCS12_SUFFIXES = (".pfx", ".p12")

ARGUMENT_SPEC = argument_spec(
    STORE_ARGS,
    STORE_OWNER_ARGS,
    path={"type": "path"},
    content={"type": "str", "no_log": True},
    directory={"type": "path"},
    format={"type": "str", "choices": list(FORMATS), "default": "pkcs12"},
    private_key_path={"type": "path"},
    password={"type": "str", "no_log": True},
    kind={"type": "str", "choices": list(KIND_NAMES)},
    identity={"type": "str"},
    on_conflict={"type": "str", "choices": list(ON_CONFLICT), "default": "fail"},
)


def read_file(path: str, what: str = "a PKCS#12 file") -> bytes:
    """A file's bytes; refused before reading when it is over MAX_PFX_SIZE."""
    # read_if_exists returns b"" for a file over its limit, which read_pfx would call empty.
    size = os.path.getsize(path) if os.path.isfile(path) else 0
    if size > MAX_PFX_SIZE:
        raise Pkcs12FormatError(
            "%s: is %d bytes, larger than the %d bytes (%d MiB) a PKCS#12 file may have here; give the right "
            "file, or split the export into several files" % (path, size, MAX_PFX_SIZE, MAX_PFX_SIZE >> 20)
        )
    data = read_if_exists(path, MAX_PFX_SIZE)
    if data is None:
        raise InvalidRequestError("%s does not exist; give the path of %s on the managed host" % (path, what))
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


def read_sources(path: str | None, content: str | None, directory: str | None, fmt: str = "pkcs12",
                 private_key_path: str | None = None):
    """(sources for transfer.import_, whether they are files). A directory's files are read one by one.
    PEM comes as text in ``content``; a key in its own file is appended to the certificate's PEM."""
    if directory is not None:
        return ((file, read_file(file)) for file in list_directory(directory)), True
    key = b""
    if private_key_path is not None:
        key = b"\n" + read_file(private_key_path, "the PEM file that holds the certificate's private key")
    if path is not None:
        return [(path, read_file(path, "a PEM file" if fmt == "pem" else "a PKCS#12 file") + key)], True
    if fmt == "pem":
        return [("content", content.encode("utf-8") + key)], False
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
        required_if=[("format", "pkcs12", ("password",))],
        supports_check_mode=True,
    )
    p = module.params
    try:
        if p["format"] == "pem" and p["directory"] is not None:
            raise InvalidRequestError("format pem goes with path or content, one certificate with its key and "
                                      "chain; give path, or import a directory of PKCS#12 files")
        if p["private_key_path"] is not None and p["format"] != "pem":
            raise InvalidRequestError("private_key_path goes with format: pem; a PKCS#12 file holds its keys")
        require_pkcs12()
        sources, from_files = read_sources(p["path"], p["content"], p["directory"], p["format"],
                                           p["private_key_path"])
        result = import_(
            p["store_path"], sources, password=p["password"], fmt=p["format"], kind=p["kind"], identity=p["identity"],
            on_conflict=p["on_conflict"], store_password=p["store_password"],
            owner=resolve_owner(p["owner"], p["group"]), check_mode=module.check_mode, from_files=from_files,
        )
    except PasswordSecureError as exc:
        module.fail_json(msg=str(exc))
    for warning in result.pop("warnings"):
        module.warn(warning)
    if p["directory"] is None:
        result.pop("files", None)
    if not module._diff:
        result.pop("diff")
    module.exit_json(**result)


if __name__ == "__main__":
    main()
