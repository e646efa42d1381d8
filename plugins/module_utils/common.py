# Copyright (c) passwordsecure.server contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Option pieces shared by the modules, each declared once.

Every piece here has a doc fragment of the same name in
``plugins/doc_fragments/``: ``STORE_ARGS`` goes with ``store``,
``STORE_OWNER_ARGS`` with ``store_owner``.
"""

from __future__ import annotations

import grp
import pwd

from ansible_collections.passwordsecure.server.plugins.module_utils.errors import InvalidRequestError

DEFAULT_STORE_PATH = "/var/lib/passwordsecure/certificates"

STORE_ARGS = {
    "store_path": {"type": "path", "default": DEFAULT_STORE_PATH},
    "store_password": {"type": "str", "no_log": True},
}

STORE_OWNER_ARGS = {
    "owner": {"type": "str"},
    "group": {"type": "str"},
}


def argument_spec(*pieces: dict, **own: dict) -> dict:
    spec: dict = {}
    for piece in pieces:
        spec.update(piece)
    spec.update(own)
    return spec


def resolve_owner(owner: str | None, group: str | None) -> tuple[int, int]:
    """(uid, gid) for the owner and group options; -1 where not given."""
    uid = gid = -1
    if owner is not None:
        try:
            uid = int(owner) if owner.isdigit() else pwd.getpwnam(owner).pw_uid
        except KeyError:
            raise InvalidRequestError("owner %r is not a user on this host; give an existing user name or uid"
                                      % owner) from None
    if group is not None:
        try:
            gid = int(group) if group.isdigit() else grp.getgrnam(group).gr_gid
        except KeyError:
            raise InvalidRequestError("group %r is not a group on this host; give an existing group name or gid"
                                      % group) from None
    return uid, gid
