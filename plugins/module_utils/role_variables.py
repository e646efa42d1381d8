# Copyright (c) passwordsecure.server contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Variables a role does not know: the misspelled ones (``certificates_database`` for ``certificates_databases``).

A role ignores a variable it does not read, so a misspelled one changes nothing and says nothing. These pure
functions find the variables with the role's prefix that its argument spec (``meta/argument_specs.yml``, every
entry point) does not know, and the closest known name for each. The lookup plugin
``passwordsecure.server.unknown_role_variables`` reads the argument spec at run time and warns.
"""

from __future__ import annotations

import difflib
from typing import Any, Iterable, NamedTuple

from ansible_collections.passwordsecure.server.plugins.module_utils.errors import InvalidRequestError

COLLECTION = "passwordsecure.server"
# How alike a name must be to a known one to be offered as "did you mean" (difflib's ratio).
CUTOFF = 0.6


class Unknown(NamedTuple):
    name: str
    suggestion: str | None  # the closest known name, or None when none is close


def known_names(argument_specs: Any, where: str = "meta/argument_specs.yml") -> set[str]:
    """Every option of every entry point of a role's argument spec (the parsed ``meta/argument_specs.yml``)."""
    specs = argument_specs.get("argument_specs") if isinstance(argument_specs, dict) else None
    if not isinstance(specs, dict) or not specs:
        raise InvalidRequestError("%s holds no argument_specs with an entry point; give the role's own "
                                  "meta/argument_specs.yml" % where)
    known: set[str] = set()
    for entry_point, spec in specs.items():
        options = spec.get("options", {}) if isinstance(spec, dict) else None
        if not isinstance(options, dict):
            raise InvalidRequestError("the entry point %s of %s has no dictionary of options" % (entry_point, where))
        known.update(str(name) for name in options)
    return known


def unknown_variables(names: Iterable[Any], *, prefix: str, known: Iterable[str],
                      ignore: Iterable[str] = ()) -> list[Unknown]:
    """The names that start with ``prefix`` and are neither ``known`` nor in ``ignore`` (say, a result the role
    registers), sorted, each with the closest known name. Internal names (``__<role>_*``) never start with the
    prefix; names that are not text are skipped."""
    known = sorted(set(known))
    skip = set(known) | set(ignore)
    found = sorted({name for name in names if isinstance(name, str) and name.startswith(prefix) and name not in skip})
    return [Unknown(name, closest(name, prefix=prefix, known=known)) for name in found]


def closest(name: str, *, prefix: str, known: Iterable[str]) -> str | None:
    """The known name most like ``name``, if any is alike enough. Names with the prefix are compared without it
    (the prefix they share would make every name look alike); another known name (``passwordsecure_store_path``)
    whole, and without its own first word, so that ``certificates_store_path`` finds it."""
    best, score = None, CUTOFF
    rest = name[len(prefix):]
    for candidate in known:
        if candidate.startswith(prefix):
            ratio = difflib.SequenceMatcher(None, rest, candidate[len(prefix):]).ratio()
        else:
            ratio = max(difflib.SequenceMatcher(None, name, candidate).ratio(),
                        difflib.SequenceMatcher(None, rest, candidate.split("_", 1)[-1]).ratio())
        if ratio >= score and (best is None or ratio > score):
            best, score = candidate, ratio
    return best


def warning(role: str, unknown: Unknown) -> str:
    """The warning for one unknown variable of the role ``role`` (its short name)."""
    hint = " (did you mean %s?)" % unknown.suggestion if unknown.suggestion else ""
    return ("the role %s.%s ignores the variable %s, which it does not know%s; check the name against the role's "
            "variables: ansible-doc -t role %s.%s" % (COLLECTION, role, unknown.name, hint, COLLECTION, role))
