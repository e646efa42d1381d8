# Copyright (c) passwordsecure.server contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:
    # Goes with STORE_OWNER_ARGS in plugins/module_utils/common.py.
    DOCUMENTATION = r"""
options:
  owner:
    description:
      - The user (name or uid) that owns the store directory and every file in it, for example the account the
        Password Secure server runs as.
      - When omitted, files belong to the user the task runs as.
      - The modes are not an option; folders are always C(0700) and files C(0600), and a task that finds them
        otherwise puts them right and reports C(changed).
    type: str
  group:
    description:
      - The group (name or gid) of the store directory and every file in it.
    type: str
"""
