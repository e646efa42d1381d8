#!/usr/bin/python
# Copyright (c) passwordsecure.server contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: relocation_report
short_description: Write the report of a database relocation as Markdown and HTML on the controller
version_added: 1.0.0
description:
  - Writes the report of a relocation made by the role P(passwordsecure.server.database_relocation#role) from its
    result C(database_relocation_result). The report holds a summary (status, hosts, stores, databases, counts,
    backup, duration), the failure, the conflicts, one row per certificate with its thumbprint, the target's
    state before the run and the proof, and the time of each phase.
  - Runs on the controller, in the C(ansible-playbook) process (an action plugin). A report of a thousand
    certificates takes milliseconds, where a template took about 2 s.
  - Every value from an inventory, a store or a message is escaped, so a name such as C(<b>|x) neither becomes
    markup nor breaks a Markdown table.
  - Each file is written to a temp file in its directory, synced and renamed into place; a missing directory is
    made (mode C(0750)) and the files get mode C(0640). A file that holds the same report already is left alone.
  - The role writes each run's report to a new pair of files named after the run's start; use this module to
    write a report again, for example from a result saved as JSON.
author:
  - passwordsecure.server contributors (@passwordsecure)
extends_documentation_fragment:
  - passwordsecure.server.attributes
  - passwordsecure.server.attributes.FILES
attributes:
  action:
    support: full
    description: Indicates this has a corresponding action plugin so some parts of the options can be executed on
      the controller.
    details: Runs on the controller, in the C(ansible-playbook) process; the task's host and connection are not used.
  action_group:
    support: none
    description: Action is part of action_group(s), for convenient setting of module_defaults.
    membership: []
    details: Not in C(group/passwordsecure.server.certificates); it has none of the store's options.
  async:
    support: none
    description: Supports being used with the C(async) keyword.
    details: Takes milliseconds; there is nothing to wait for.
  check_mode:
    support: full
    details: Writes nothing (no file, no directory) and reports in RV(written) what it would write.
  diff_mode:
    support: none
    details: A report has hundreds of lines; RV(written) names the files that would change.
  idempotent:
    support: full
    details: A file that holds the same report already is left alone.
  platform:
    details: The controller, where C(ansible-playbook) runs.
  safe_file_operations:
    support: partial
    details: Each file is written to a temp file in its folder, synced and renamed into place by the collection's own
      code, not by Ansible's file functions; a missing folder is made C(0750), the files are C(0640).
options:
  result:
    description:
      - The relocation's result, as the role sets C(database_relocation_result).
      - It must hold C(status), C(source), C(target), C(databases), C(certificates) (the rows from
        P(passwordsecure.server.relocation_report_rows#filter)) and C(proofs); C(failed_phase), C(failure),
        C(started), C(source_store), C(target_store), C(conflicts), C(imported), C(rolled_back),
        C(removed_from_source), C(backup), C(ssl) (the target's own SSL connection certificate, which never
        moves), C(timings) and C(seconds) are shown when present.
      - What stayed on the source is listed from C(certificates), C(removed_from_source), C(remove_from_source)
        (whether the clean-up was on) and C(source_ssl) (the source's SSL connection certificate, which never
        moves), with the reason for each.
    type: dict
    required: true
  markdown:
    description:
      - The path of the Markdown file on the controller. At least one of O(markdown) and O(html) is needed.
    type: path
  html:
    description:
      - The path of the HTML file on the controller.
    type: path
seealso:
  - plugin: passwordsecure.server.relocation_report_rows
    plugin_type: filter
  - module: passwordsecure.server.certificate_proof
"""

EXAMPLES = r"""
- name: Write a relocation's report again, from a result saved as JSON
  passwordsecure.server.relocation_report:
    result: "{{ lookup('ansible.builtin.file', 'relocation-result.json') | from_json }}"
    markdown: reports/relocation.md
    html: reports/relocation.html

- name: Only the Markdown report of the relocation that just ran
  passwordsecure.server.relocation_report:
    result: "{{ database_relocation_result }}"
    markdown: "{{ database_relocation_result.report_markdown }}"
"""

RETURN = r"""
markdown:
  description: The absolute path of the Markdown file, when O(markdown) was given.
  returned: when O(markdown) was given
  type: str
  sample: /home/admin/relocation-reports/20261127T031532Z-psr1-to-psr2.md
html:
  description: The absolute path of the HTML file, when O(html) was given.
  returned: when O(html) was given
  type: str
  sample: /home/admin/relocation-reports/20261127T031532Z-psr1-to-psr2.html
written:
  description: The files written (in check mode, those that would be); a file that held the same report is not.
  returned: always
  type: list
  elements: str
"""
