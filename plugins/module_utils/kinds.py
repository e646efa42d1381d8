# Copyright (c) passwordsecure.server contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The certificate kinds of a Password Secure server, one profile each.

Everything that differs between kinds lives in ``KINDS``: how the certificate
is named, what identifies it, whether it may be your own certificate and
whether it travels with a database. Adding a kind is adding one entry.
``docs/certificate-kinds.md`` explains each choice.
"""

from __future__ import annotations

import ipaddress
import re
import sys
import unicodedata
from typing import Any, NamedTuple

from ansible_collections.passwordsecure.server.plugins.module_utils.errors import DependencyError, InvalidRequestError

try:  # IDNA 2008 with UTS #46 mapping, as browsers and curl encode names; only non-ASCII names need it
    import idna as _idna
except ImportError:
    _idna = None

# The organisation attribute every generated certificate carries in its subject:
# together with being self-signed, it marks a certificate as made by the server.
GENERATED_ORGANIZATION = "Password Secure"

# RFC 5280, 4.1.2.5: "no well-defined expiration date". These certificates are
# never renewed and their expiry is never checked, so they say so.
NO_EXPIRY = (9999, 12, 31, 23, 59, 59)

IDENTITY_MAX_LENGTH = 255
DEFAULT_KEY_SIZE = 3072
KEY_SIZES = (2048, 3072, 4096)


class KindProfile(NamedTuple):
    name: str
    label: str  # how messages name the kind
    common_name: str  # subject CN, the same for every certificate of the kind
    friendly_name: str  # the name the product's certificate manager shows; {identity} filled in
    identity_name: str | None  # what the identity is ("the database's name"); None: one per server
    own_certificate_allowed: bool  # may an administrator bring a certificate of their own?
    travels_with_database: bool  # must it move when a database moves to another server?

    @property
    def singleton(self) -> bool:
        return self.identity_name is None


KINDS: dict[str, KindProfile] = {
    profile.name: profile
    for profile in (
        KindProfile(
            name="database",
            label="database certificate",
            common_name="psrDatabaseKey",
            friendly_name="psrDatabaseKey ({identity})",
            identity_name="the database's name",
            own_certificate_allowed=False,
            travels_with_database=True,
        ),
        KindProfile(
            name="master_key",
            label="master key certificate",
            common_name="Active Directory Master Key",
            friendly_name="Active Directory: Domain: {identity}",
            identity_name="the Active Directory domain",
            own_certificate_allowed=False,
            travels_with_database=True,
        ),
        KindProfile(
            name="discovery_service",
            label="discovery service certificate",
            common_name="Discovery Service",
            friendly_name="Discovery Service: {identity}",
            identity_name="the discovery service's name",
            own_certificate_allowed=False,
            travels_with_database=True,
        ),
        KindProfile(
            name="password_reset",
            label="Password Reset certificate",
            common_name="Password Reset",
            friendly_name="Password Reset: {identity}",
            identity_name="the Password Reset's name",
            own_certificate_allowed=False,
            travels_with_database=True,
        ),
        KindProfile(
            name="server_encryption",
            label="server encryption certificate",
            common_name="Password Secure Server Encryption Certificate",
            friendly_name="Password Secure Server Encryption Certificate",
            identity_name=None,
            own_certificate_allowed=False,
            travels_with_database=True,
        ),
        # TLS between clients and the server. The only kind that may be your own (CA-issued) certificate, and
        # the only one that stays: a new server gets its own, for its own names (docs/certificate-kinds.md).
        KindProfile(
            name="ssl",
            label="SSL connection certificate",
            common_name="PSR8Server",
            friendly_name="PSR8Server",
            identity_name=None,
            own_certificate_allowed=True,
            travels_with_database=False,
        ),
    )
}

# The kinds that move with a database: every kind but the SSL connection certificate.
TRAVELLING_KINDS = tuple(name for name, profile in KINDS.items() if profile.travels_with_database)
# The kinds whose certificate lists the host's names (Subject Alternative Name).
NAMED_KINDS = ("ssl",)
NAMES_MAX = 256
_HOST_LABEL = re.compile(r"^[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?\Z")  # \Z: "$" would let "psr1\n" through

KIND_NAMES = tuple(KINDS)
KIND_ORDER = {name: position for position, name in enumerate(KIND_NAMES)}

_FORBIDDEN_CATEGORIES = {"Cc", "Cs", "Zl", "Zp"}
# Bidirectional embeddings, overrides and isolates reorder how a line is shown and can make a log
# or a listing lie ("Trojan Source"). Other format characters stay allowed: ZWNJ and ZWJ are part
# of how Persian and Indic names are written.
_BIDI_CONTROLS = set("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c")
_DOMAIN_LABEL = re.compile(r"^[^\W_](?:(?:[^\W_]|-){0,61}[^\W_])?$", re.UNICODE)


class CertRef(NamedTuple):
    """A certificate asked for: its kind and its identity (None for one-per-server kinds)."""

    kind: str
    identity: str | None

    def describe(self) -> str:
        profile = KINDS[self.kind]
        if self.identity is None:
            return "the %s" % profile.label
        return "the %s %r" % (profile.label, self.identity)

    def sort_key(self) -> tuple[int, str]:
        return KIND_ORDER.get(self.kind, len(KIND_ORDER)), self.identity or ""


def profile_of(kind: Any, where: str = "kind") -> KindProfile:
    if not isinstance(kind, str) or kind not in KINDS:
        raise InvalidRequestError(
            "%s %r is not a certificate kind; use one of: %s" % (where, kind, ", ".join(KIND_NAMES))
        )
    return KINDS[kind]


def check_identity(kind: str, identity: Any, where: str = "identity") -> str | None:
    """Validate and normalise one identity for ``kind``; return it, or None for singletons.

    Identities name things (databases, domains, services) in any language, so
    letters of every script are welcome. What is refused could confuse a file
    system, a log or a person: path separators, ``..``, control characters,
    surrounding blanks, and names too long for the product. Text is normalised
    to Unicode NFC so that one name has one spelling; Active Directory domains
    are also lower-cased, since DNS compares them without case.
    """
    profile = profile_of(kind)
    if profile.singleton:
        if identity is None:
            return None
        raise InvalidRequestError(
            "%s %r was given for the %s, which has no identity: a server has exactly one; "
            "remove the identity" % (where, identity, profile.label)
        )
    if identity is None:
        raise InvalidRequestError(
            "%s is missing for a %s; give %s" % (where, profile.label, profile.identity_name)
        )
    if not isinstance(identity, str):
        raise InvalidRequestError(
            "%s %r for a %s is not text; give %s as a string"
            % (where, identity, profile.label, profile.identity_name)
        )
    text = unicodedata.normalize("NFC", identity)
    problem = _identity_problem(text)
    if problem is None and kind == "master_key":
        text = text.lower()
        problem = _domain_problem(text)
    if problem:
        if kind == "master_key":
            fix = "give the Active Directory domain as a DNS domain name such as corp.example.com"
        elif problem.startswith("is ") and "long" in problem:
            fix = "give %s of at most %d characters" % (profile.identity_name, IDENTITY_MAX_LENGTH)
        elif problem == "is empty":
            fix = "give %s" % profile.identity_name
        else:
            fix = "give %s without it" % profile.identity_name
        raise InvalidRequestError("%s %s for a %s %s; %s" % (where, _shown(identity), profile.label, problem, fix))
    return text


def _shown(text: str) -> str:
    """Show an identity in a message without letting it forge lines or grow huge."""
    shown = repr(text)
    if len(shown) > 80:
        shown = shown[:60] + "..." + shown[-15:]
    return shown


def _identity_problem(text: str) -> str | None:
    if text == "":
        return "is empty"
    if len(text) > IDENTITY_MAX_LENGTH:
        return "is %d characters long, over the limit of %d" % (len(text), IDENTITY_MAX_LENGTH)
    if "\x00" in text:
        return "holds a NUL character"
    for char in text:
        if unicodedata.category(char) in _FORBIDDEN_CATEGORIES or char in _BIDI_CONTROLS:
            return "holds the control character U+%04X" % ord(char)
    if "/" in text or "\\" in text:
        return "holds a path separator ('/' or '\\')"
    if ".." in text:
        return "holds '..'"
    if text != text.strip():
        return "starts or ends with white space"
    return None


def _domain_problem(domain: str) -> str | None:
    labels = domain.split(".")
    if len(domain) > 253:
        return "is longer than the 253 characters of a DNS name"
    for label in labels:
        if not _DOMAIN_LABEL.match(label):
            return "has the label %r, which is not a DNS label (letters, digits, inner hyphens)" % label
    return None


def check_name(name: Any, where: str = "names") -> str:
    """One name of a host for a certificate's Subject Alternative Name, normalised: an IP address in its
    canonical form (IPv6 compressed), or a DNS name in lower case with non-ASCII labels as IDNA 2008 A-labels
    (UTS #46 mapping, non-transitional: ``straße`` is ``xn--strae-oqa``, as browsers and curl look it up)."""
    fix = "give the host's names and IP addresses, for example [psr1.example.com, psr1, 192.0.2.10]"
    if not isinstance(name, str) or name == "":
        raise InvalidRequestError(
            "%s holds %s, which is not a host name or an IP address; %s" % (where, _shown(name), fix))
    try:
        if "%" not in name:  # an IPv6 scope (fe80::1%eth0) means nothing to a client, and may hold anything
            return str(ipaddress.ip_address(name))
    except ValueError:
        pass
    problem = None
    if name.isascii():  # no library needed: UTS #46 maps ASCII to its lower case and nothing else
        ascii_text = name.lower()
        ascii_text = ascii_text[:-1] if ascii_text.endswith(".") and len(ascii_text) > 1 else ascii_text
    else:
        ascii_text, problem = _idna_2008(name, where)
    if problem is None and len(ascii_text) > 253:
        problem = "is longer than the 253 characters of a DNS name"
    elif problem is None:
        bad = [label for label in ascii_text.split(".") if not _HOST_LABEL.match(label)]
        if "" in bad:
            problem = "has an empty label (a leading dot, or two dots in a row)"
        elif bad:
            problem = "has the label %s, which is not a DNS label (letters, digits, inner hyphens)" % _shown(bad[0])
    if problem:
        raise InvalidRequestError("%s holds %s, which %s; %s" % (where, _shown(name), problem, fix))
    return ascii_text


def _idna_2008(name: str, where: str) -> tuple[str, str | None]:
    """A non-ASCII name as IDNA 2008 A-labels, the root's dot dropped: (the name, None), or ("", the problem).

    The whole name is mapped first (UTS #46: case, width, NFC; the ideographic full stop is a dot), then each
    non-ASCII label becomes an A-label, checked by IDNA 2008's rules; ASCII labels are left to ``check_name``'s
    DNS label check, so ``psr_1``, which Windows host names may have, passes as it does in an ASCII name.
    """
    if _idna is None:
        raise DependencyError(
            "%s holds %s, which is not ASCII: writing it as IDNA 2008 (what browsers and curl look up) needs the "
            "Python library 'idna', not installed for the Python that runs this module (%s); install it on the "
            "managed host (Debian/Ubuntu: apt-get install python3-idna; RHEL and Fedora: dnf install python3-idna; "
            "elsewhere: pip install idna), or give the name as its A-label (xn--...)"
            % (where, _shown(name), sys.executable or "python"))
    try:
        mapped = _idna.uts46_remap(name, std3_rules=False, transitional=False)
        if mapped.endswith(".") and len(mapped) > 1:
            mapped = mapped[:-1]  # the root's dot: psr1.example.com. is psr1.example.com
        labels = [label if label.isascii() else _idna.alabel(label).decode("ascii") for label in mapped.split(".")]
    except (UnicodeError, ValueError) as exc:  # idna.IDNAError is a UnicodeError
        return "", "is not a valid internationalised domain name (IDNA 2008: %s)" % _shown(str(exc))
    return ".".join(labels), None


def check_names(names: Any, where: str = "names") -> list[str]:
    """A list of host names and IP addresses, each normalised (``check_name``), duplicates dropped, in order."""
    if isinstance(names, str) or not isinstance(names, (list, tuple)) or not names:
        raise InvalidRequestError(
            "%s must be a non-empty list of the host's names and IP addresses, not %s" % (where, _shown(names))
        )
    if len(names) > NAMES_MAX:
        raise InvalidRequestError(
            "%s lists %d names, over the limit of %d; give at most %d, the names and addresses clients connect by"
            % (where, len(names), NAMES_MAX, NAMES_MAX))
    checked = [check_name(name, where="%s[%d]" % (where, position)) for position, name in enumerate(names)]
    return list(dict.fromkeys(checked))


def check_refs(items: list[dict[str, Any]], where: str = "certificates") -> list[CertRef]:
    """Validate a list of ``{kind, identity}``; refuse duplicates (after normalisation). An SSL connection
    certificate's item may also hold ``names`` (see ``ref_names``)."""
    refs: list[CertRef] = []
    seen: dict[CertRef, int] = {}
    for position, item in enumerate(items):
        place = "%s[%d]" % (where, position)
        if not isinstance(item, dict):
            raise InvalidRequestError(
                "%s is %r, not a dictionary; write each certificate as {kind: ..., identity: ...}"
                % (place, item)
            )
        unknown = sorted(set(item) - {"kind", "identity", "names"})
        if unknown:
            raise InvalidRequestError(
                "%s has the unknown key(s) %s; a certificate is given by kind and identity only "
                "(these certificates are generated by the server, never brought from outside)"
                % (place, ", ".join(unknown))
            )
        kind = item.get("kind")
        profile_of(kind, where=place + ".kind")
        if item.get("names") is not None and kind not in NAMED_KINDS:
            raise InvalidRequestError(
                "%s gives names for a %s, which lists no host names; names go with kind ssl only"
                % (place, KINDS[kind].label)
            )
        ref = CertRef(kind, check_identity(kind, item.get("identity"), where=place + ".identity"))
        if ref in seen:
            raise InvalidRequestError(
                "%s asks again for %s, already asked for in %s[%d]; list each certificate once"
                % (place, ref.describe(), where, seen[ref])
            )
        seen[ref] = position
        refs.append(ref)
    return refs
