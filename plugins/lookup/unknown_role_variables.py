# Copyright (c) passwordsecure.server contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
name: unknown_role_variables
short_description: Warn about a role's variables that its argument spec does not know
version_added: 1.0.0
description:
  - Finds the variables of the current host whose names start with a role's prefix (the role's name and C(_)) but
    that the role's argument spec (C(meta/argument_specs.yml), every entry point) does not know, such as
    C(certificates_database) for C(certificates_databases), and warns about each, naming the closest known one.
  - The role ignores such a variable, so without the warning a misspelled one changes nothing and says nothing.
  - The argument spec is read when the lookup runs, so the known names are always the role's own.
  - The roles of this collection run it as their first task.
options:
  _terms:
    description: The path of the role (C(role_path) inside the role); its last part is the role's name.
    type: list
    elements: path
    required: true
  ignore:
    description: Names with the prefix that the role sets itself, such as the result it registers.
    type: list
    elements: str
    default: []
"""

EXAMPLES = r"""
- name: Warn about certificates_* variables the role does not know
  ansible.builtin.set_fact:
    __certificates_unknown_variables: >-
      {{ query('passwordsecure.server.unknown_role_variables', role_path, ignore=['certificates_result']) }}
"""

RETURN = r"""
_raw:
  description: The unknown variables' names, sorted; each one also gave a warning.
  type: list
  elements: str
"""

import os

from ansible.errors import AnsibleLookupError
from ansible.plugins.lookup import LookupBase
from ansible.utils.display import Display

from ansible_collections.passwordsecure.server.plugins.module_utils.errors import PasswordSecureError
from ansible_collections.passwordsecure.server.plugins.module_utils.role_variables import (
    known_names,
    unknown_variables,
    warning,
)

display = Display()


class LookupModule(LookupBase):
    def run(self, terms, variables=None, **kwargs):
        self.set_options(var_options=variables, direct=kwargs)
        names = list(variables or {})
        found = []
        for role_path in terms:
            role = os.path.basename(os.path.normpath(str(role_path)))
            spec_path = os.path.join(str(role_path), "meta", "argument_specs.yml")
            try:
                specs = self._loader.load_from_file(spec_path)
                unknown = unknown_variables(names, prefix=role + "_", known=known_names(specs, where=spec_path),
                                            ignore=[str(name) for name in self.get_option("ignore")])
            except PasswordSecureError as exc:
                raise AnsibleLookupError("passwordsecure.server.unknown_role_variables: %s" % exc) from None
            for item in unknown:
                display.warning(warning(role, item))
                found.append(item.name)
        return found
