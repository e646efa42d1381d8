# Copyright (c) passwordsecure.server contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The plan of a database relocation, worked out on the controller from what both stores hold.

The input is what ``certificate_info`` reports for the source and the target;
nothing here touches a key. ``plan`` says which certificates must travel, which
the target holds already, and every reason the relocation cannot start, all of
them at once so that an administrator fixes them in one go.
"""
from __future__ import annotations

import unicodedata
from typing import Any, Iterable

from ansible_collections.passwordsecure.server.plugins.module_utils.errors import InvalidRequestError
from ansible_collections.passwordsecure.server.plugins.module_utils.kinds import KINDS, check_identity

# What one certificate takes on the target: its entry file (certificate and key PEM, about 4 KiB
# for RSA-4096), its line in index.json, and the temp copy written before the rename.
BYTES_PER_CERTIFICATE = 16 * 1024
# The index is written whole to a temp file before the rename: room for the old and the new one.
BYTES_PER_HELD_CERTIFICATE = 1024


def _key(certificate: dict) -> tuple[str, str | None]:
    return certificate["kind"], certificate.get("identity")


def _label(kind: str, identity: str | None) -> str:
    return KINDS[kind].label if identity is None else "%s %r" % (KINDS[kind].label, identity)


def _certificates(info: Any, side: str) -> list[dict]:
    certificates = info.get("certificates") if isinstance(info, dict) else None
    if not isinstance(certificates, list) or not all(isinstance(c, dict) and "kind" in c for c in certificates):
        raise InvalidRequestError(
            "the %s's store report is not a certificate_info result (no list 'certificates'); pass the registered "
            "result of passwordsecure.server.certificate_info" % side
        )
    return certificates


def _ssl_of(certificates: list[dict]) -> dict | None:
    """The store's SSL connection certificate (the kind that never travels) as the report shows it, or None."""
    held = next((c for c in certificates if c["kind"] in KINDS and not KINDS[c["kind"]].travels_with_database), None)
    if held is None:
        return None
    return {"thumbprint": held.get("thumbprint"), "origin": held.get("origin"), "names": held.get("names")}


def _database_names(databases: Any) -> list[str]:
    if isinstance(databases, str):
        databases = [databases]
    if not isinstance(databases, (list, tuple)) or not databases:
        raise InvalidRequestError("databases must be a non-empty list of database names")
    names = []
    for name in databases:
        name = check_identity("database", name, where="database name")
        if name not in names:
            names.append(name)
    return names


def plan(source_info: Any, target_info: Any, databases: Iterable[str], *, target_free_bytes: Any = None) -> dict:
    """The relocation of ``databases`` from the store ``source_info`` describes to ``target_info``'s.

    Returns a dictionary:

    - ``certificates``: every certificate that must be on the target afterwards (the databases in
      the order given, then the server-wide certificates in the source's order), each with
      ``kind``, ``identity``, ``friendly_name``, ``thumbprint`` (the source's, or the target's for
      a database moved earlier) and ``on_target``: ``absent`` (to import), ``same`` (already
      there), ``different`` (a conflict) or ``moved`` (a database the source no longer holds and
      the target does: relocated by an earlier run that removed it from the source).
    - ``to_import``: the ``absent`` ones; ``present``: the ``same`` and ``moved`` ones.
    - ``conflicts``: ``{kind, identity, label, source_thumbprint, target_thumbprint}`` for each
      certificate the target holds differently.
    - ``missing``: what the source lacks (a database neither store holds, or the server encryption
      certificate).
    - ``needed_bytes`` and ``free_bytes`` on the target; ``problems``: one sentence per reason the
      relocation cannot start (empty when it can).
    - ``ssl``: the SSL connection certificate of each side (``source``, ``target``), as
      ``{thumbprint, origin, names}`` or None. It never moves: the target keeps (or gets) its own.
    """
    names = _database_names(databases)
    source = _certificates(source_info, "source")
    target = _certificates(target_info, "target")
    on_target = {_key(c): c for c in target}
    on_source = {_key(c): c for c in source}

    wanted: list[dict] = []
    missing: list[dict] = []
    for name in names:
        key = ("database", unicodedata.normalize("NFC", name))
        if key in on_source:
            wanted.append(on_source[key])
        elif key in on_target:
            wanted.append(dict(on_target[key], _moved=True))
        else:
            missing.append({"kind": "database", "identity": name, "label": _label(*key)})
    wanted += [c for c in source if c["kind"] != "database" and KINDS[c["kind"]].travels_with_database]
    if ("server_encryption", None) not in on_source:
        missing.append({"kind": "server_encryption", "identity": None, "label": _label("server_encryption", None)})

    certificates, conflicts = [], []
    for certificate in wanted:
        key = _key(certificate)
        held = on_target.get(key)
        if certificate.get("_moved"):
            state = "moved"
        elif held is None:
            state = "absent"
        elif held.get("thumbprint") == certificate.get("thumbprint"):
            state = "same"
        else:
            state = "different"
            conflicts.append({
                "kind": key[0], "identity": key[1], "label": _label(*key),
                "source_thumbprint": certificate.get("thumbprint"), "target_thumbprint": held.get("thumbprint"),
            })
        certificates.append({
            "kind": key[0], "identity": key[1], "label": _label(*key),
            "friendly_name": certificate.get("friendly_name"), "thumbprint": certificate.get("thumbprint"),
            "on_target": state,
        })

    to_import = [c for c in certificates if c["on_target"] == "absent"]
    needed = len(to_import) * BYTES_PER_CERTIFICATE + (len(target) + len(to_import)) * BYTES_PER_HELD_CERTIFICATE
    problems = []
    if missing:
        problems.append(
            "the source holds no %s; check the database names against what the source's store holds "
            "(certificate_info), or ensure the certificates there first" % ", no ".join(m["label"] for m in missing)
        )
    for conflict in conflicts:
        problems.append(
            "the target already holds a different %s (target %s, source %s); a certificate cannot be replaced "
            "without losing the data it protects: find out which one the database uses, and remove or back up "
            "the other before you run again"
            % (conflict["label"], conflict["target_thumbprint"], conflict["source_thumbprint"])
        )
    free = target_free_bytes if isinstance(target_free_bytes, int) and not isinstance(target_free_bytes, bool) else None
    if free is not None and to_import and free < needed:
        problems.append(
            "the target's store has %d bytes free and the import needs about %d; free some space there first"
            % (free, needed)
        )
    return {
        "databases": names,
        "ssl": {"source": _ssl_of(source), "target": _ssl_of(target)},
        "certificates": certificates,
        "to_import": to_import,
        "present": [c for c in certificates if c["on_target"] in ("same", "moved")],
        "moved": [c["identity"] for c in certificates if c["on_target"] == "moved"],
        "conflicts": conflicts,
        "missing": missing,
        "needed_bytes": needed,
        "free_bytes": free,
        "problems": problems,
    }


_BEFORE = {"same": "held it already", "different": "CONFLICT", "moved": "moved by an earlier run"}


def report_rows(
    certificates: Any, proofs: Any = (), imported: Iterable[str] = (), rolled_back: Iterable[str] = ()
) -> list[dict]:
    """The plan's ``certificates``, each with what the report says of it: ``before`` (the target's
    state before the run, and what this run did), ``proof`` (``passed``, ``FAILED: <reason>`` or
    ``not run``) and ``passed``. In Python, because a report of a thousand rows built in Jinja costs
    seconds."""
    if not isinstance(certificates, list) or not all(isinstance(c, dict) and "on_target" in c for c in certificates):
        raise InvalidRequestError("certificates must be the 'certificates' list of a relocation plan")
    by_ref = {}
    for proof in proofs or ():
        if not isinstance(proof, dict) or "kind" not in proof:
            raise InvalidRequestError("proofs must be the list the filter proof_results returns")
        by_ref[(proof["kind"], proof.get("identity"))] = proof
    imported, rolled_back = set(imported or ()), set(rolled_back or ())
    rows = []
    for certificate in certificates:
        thumbprint = certificate.get("thumbprint")
        if certificate["on_target"] != "absent":
            before = _BEFORE.get(certificate["on_target"], certificate["on_target"])
        elif thumbprint in rolled_back:
            before = "absent, imported, removed again"
        elif thumbprint in imported:
            before = "absent, imported"
        else:
            before = "absent"
        proof = by_ref.get((certificate["kind"], certificate.get("identity")))
        passed = bool(proof and proof.get("passed"))
        text = "not run" if proof is None else "passed" if passed else "FAILED: %s" % proof.get("reason")
        rows.append(dict(certificate, before=before, proof=text, passed=passed))
    return rows
