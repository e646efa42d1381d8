# Copyright (c) passwordsecure.server contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin of passwordsecure.server.relocation_report: renders and writes the report on the controller,
in the ansible-playbook process (no module process, no connection)."""

from __future__ import annotations

from ansible.plugins.action import ActionBase

from ansible_collections.passwordsecure.server.plugins.module_utils import report
from ansible_collections.passwordsecure.server.plugins.module_utils.errors import PasswordSecureError

ARGUMENT_SPEC = {
    "result": {"type": "dict", "required": True},
    "markdown": {"type": "path"},
    "html": {"type": "path"},
}


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = False
    _supports_check_mode = True

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        _validation, args = self.validate_argument_spec(
            argument_spec=ARGUMENT_SPEC, required_one_of=[["markdown", "html"]]
        )
        paths = {name: args[name] for name in report.FORMATS if args.get(name)}
        try:
            result.update(report.write(args["result"], paths, check_mode=self._task.check_mode))
        except PasswordSecureError as exc:
            result.update(failed=True, msg="passwordsecure.server.relocation_report: %s" % exc)
        return result
