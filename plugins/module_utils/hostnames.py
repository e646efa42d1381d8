# Copyright (c) passwordsecure.server contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The names a host is reached by, for the SSL connection certificate's Subject Alternative Name.

The product lists "every IP address of the server and its host name", all as DNS names. Here: the
host name (and its first label, where it is set fully qualified), the fully qualified name when it
differs (and is not a localhost name), and every
address of ``ip -o addr show`` whose scope is global: loopback and link-local addresses are left
out, since no client reaches the server by them. Pure functions; the module runs ``ip``.
"""

from __future__ import annotations

from ansible_collections.passwordsecure.server.plugins.module_utils.kinds import check_names

_LOCAL_NAMES = ("localhost", "localhost.localdomain", "localhost6", "localhost6.localdomain6")


def addresses_from_ip(output: str) -> list[str]:
    """The global-scope addresses in the output of ``ip -o addr show``, in its order."""
    found = []
    for line in output.splitlines():
        fields = line.split()
        for family in ("inet", "inet6"):
            if family not in fields:
                continue
            position = fields.index(family)
            if position + 1 >= len(fields):
                continue
            scope = fields[fields.index("scope") + 1] if "scope" in fields[:-1] else "global"
            if scope == "global":
                found.append(fields[position + 1].split("/", 1)[0])
    return found


def host_names(hostname: str, fqdn: str | None, addresses: list[str]) -> list[str]:
    """The host's names and addresses, checked and normalised (``kinds.check_names``), duplicates dropped."""
    short = hostname.split(".", 1)[0]  # where the host name is set fully qualified, the short one too
    names = [hostname] if short == hostname else [hostname, short]
    if fqdn and fqdn != hostname and fqdn.lower() not in _LOCAL_NAMES:
        names.insert(0, fqdn)
    return check_names(names + list(addresses), where="the host's names")
