# Copyright (c) passwordsecure.server contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Test helper: writes the relocation role's ``database_relocation_result`` to a JSON file on the controller.

tests/hosts/test_relocation_ssh.py runs ``ansible-playbook passwordsecure.server.relocate_database`` itself (by its
full name, unchanged) with ANSIBLE_CALLBACK_PLUGINS pointing here, ANSIBLE_CALLBACKS_ENABLED=relocation_result and
PSR_RELOCATION_RESULT naming the file. The role sets the fact once per run, for failed runs too, in the task
"Sum up the run"; this callback copies it from that task's result. Nothing secret is in it.
"""

from __future__ import annotations

DOCUMENTATION = r"""
name: relocation_result
type: aggregate
short_description: Write database_relocation_result to the file PSR_RELOCATION_RESULT names (tests only)
description:
  - Test helper of tests/hosts; copies the fact database_relocation_result from the task that sets it.
requirements:
  - the environment variable PSR_RELOCATION_RESULT
"""

import json
import os

from ansible.plugins.callback import CallbackBase


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "relocation_result"
    CALLBACK_NEEDS_ENABLED = True

    def v2_runner_on_ok(self, result) -> None:
        # ansible-core 2.19 names the task's result `result`; older cores only have `_result`.
        task_result = result.result if hasattr(result, "result") else result._result
        facts = task_result.get("ansible_facts") or {}
        path = os.environ.get("PSR_RELOCATION_RESULT")
        if path and "database_relocation_result" in facts:
            with open(path, "w", encoding="utf-8") as handle:
                json.dump(facts["database_relocation_result"], handle, indent=1, default=str)
