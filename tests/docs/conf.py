# Copyright (c) passwordsecure.server contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Sphinx configuration of the collection's docs site, built by tests/docs/run.sh.

The pages come from antsibull-docs (one per module, filter and role, and the collection's index). The guides
are Markdown (docs/*.md, the one source); each page that docs/docsite/rst/ holds for a guide is replaced, while
Sphinx reads it, by the guide itself through MyST. The build is offline: references to the Ansible docs that
antsibull-docs makes (return values, configuration, ansible.builtin plugins) become links to docs.ansible.com
from the list below, instead of intersphinx inventories; any other unresolved reference is an error.
"""

from __future__ import annotations

import os
import re

from docutils import nodes
from sphinx.errors import ExtensionError

project = "passwordsecure.server"
copyright = "passwordsecure.server contributors"
title = "passwordsecure.server"
html_short_title = "passwordsecure.server"
extensions = ["sphinx_antsibull_ext", "myst_parser"]
pygments_style = "ansible"
highlight_language = "none"  # the guides' unmarked code blocks are shell commands; examples are marked
html_theme = "sphinx_ansible_theme"
# The theme's "documentation home" is the Ansible docs (its default, "/", is no page of this site); no ads.
html_theme_options = {"documentation_home_url": "https://docs.ansible.com/", "show_extranav": False,
                      "show_rtd_ethical_ads": False}
html_show_sphinx = False
display_version = False
html_use_smartypants = True
html_use_modindex = False
html_use_index = False
html_copy_source = False
default_role = "any"
nitpicky = True
source_suffix = {".rst": "restructuredtext"}  # Markdown comes in through the guides' includes only
myst_heading_anchors = 3  # links to a guide's own headings, like (#the-ssl-connection-certificate)

# The guides: the installed collection's docs/ (PSR_GUIDES_DIR), else this checkout's.
GUIDES = os.environ.get("PSR_GUIDES_DIR") or os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../docs")
_GUIDE_PAGE = re.compile(r"collections/passwordsecure/server/docsite/([a-z0-9-]+)$")

_ANSIBLE_DOCS = "https://docs.ansible.com/projects/ansible/latest/"
_EXTERNAL = {
    "common_return_values": "reference_appendices/common_return_values.html",
    "ansible_configuration_settings": "reference_appendices/config.html",
    "action_plugins": "plugins/action.html",
}
_BUILTIN = re.compile(r"ansible_collections\.ansible\.builtin\.(\w+)_(module|filter|lookup|test)$")


def _guide(app, docname: str, source: list) -> None:
    """A guide's page: the guide's Markdown, under the page's label."""
    match = _GUIDE_PAGE.match(docname)
    if not match:
        return
    name = match.group(1)
    guide = os.path.abspath(os.path.join(GUIDES, name + ".md"))
    if not os.path.isfile(guide):
        raise ExtensionError("docs/docsite/rst/%s.rst stands for the guide docs/%s.md, which %s lacks"
                             % (name, name, GUIDES))
    page_dir = os.path.dirname(app.env.doc2path(docname))
    source[0] = (".. _ansible_collections.passwordsecure.server.docsite.%s:\n\n.. include:: %s\n"
                 "   :parser: myst_parser.sphinx_\n" % (name, os.path.relpath(guide, page_dir)))


def _external(app, env, node, contnode):
    """A reference to the Ansible docs from the list above becomes a link to docs.ansible.com."""
    if node.get("refdomain") != "std" or node.get("reftype") != "ref":
        return None
    target = node.get("reftarget", "")
    path = _EXTERNAL.get(target)
    builtin = _BUILTIN.match(target)
    if builtin:
        path = "collections/ansible/builtin/%s_%s.html" % builtin.groups()
    if path is None:
        return None
    reference = nodes.reference("", "", internal=False, refuri=_ANSIBLE_DOCS + path)
    reference += contnode
    return reference


def setup(app):
    app.connect("source-read", _guide)
    app.connect("missing-reference", _external)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
