# Copyright (c) passwordsecure.server contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:
    # Goes with STORE_ARGS in plugins/module_utils/common.py.
    DOCUMENTATION = r"""
options:
  store_path:
    description:
      - The directory of the server's certificate store on the managed host.
      - It is created (mode C(0700)) when a certificate is first written. An existing directory must be a store
        or empty.
      - The format is described in the collection's C(docs/store-format.md).
    type: path
    default: /var/lib/passwordsecure/certificates
  store_password:
    description:
      - The password that encrypts the private keys at rest in the store.
      - A store takes the password it is first written with and keeps it; every later task that writes a key
        to it must give the same password. A store first written without one keeps its keys unencrypted, and
        giving a password for it is an error.
      - Stretched once per task with PBKDF2-HMAC-SHA256 (600,000 iterations); each key is then PKCS#8
        encrypted (AES-256-CBC).
      - Keep it in Ansible Vault. It never appears in results or logs.
    type: str
requirements:
  - "cryptography >= 3.4 on the managed host (Debian/Ubuntu and RHEL package python3-cryptography: Debian 12,
    Ubuntu 22.04, RHEL 9 and newer ship a version that fits)"
"""
