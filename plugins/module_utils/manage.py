# Copyright (c) passwordsecure.server contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the ``certificate`` and ``certificate_info`` modules do, without Ansible.

``ensure()`` plans against a read of the store, returns at once when there is
nothing to do (a rerun parses no key and takes no write lock, unless a killed
run left a journal: then it only removes that run's leftovers), and otherwise
plans again under the store's exclusive lock and applies the plan. Check mode
runs the same planning and stops before the first write, so it reports
exactly what a real run would change.
"""

from __future__ import annotations

import datetime
from typing import Any, NamedTuple

from ansible_collections.passwordsecure.server.plugins.module_utils import crypto, store
from ansible_collections.passwordsecure.server.plugins.module_utils.errors import InvalidRequestError
from ansible_collections.passwordsecure.server.plugins.module_utils.generate import (
    friendly_name_for,
    generate_many,
    subject_text,
)
from ansible_collections.passwordsecure.server.plugins.module_utils.kinds import (
    DEFAULT_KEY_SIZE,
    KEY_SIZES,
    KIND_NAMES,
    KINDS,
    NAMED_KINDS,
    NO_EXPIRY,
    CertRef,
    check_identity,
    check_name,
    check_names,
    check_refs,
    profile_of,
)

SSL_REGENERATE = ("names_differ", "never")

PUBLIC_FIELDS = store.PUBLIC_FIELDS


def public_facts(record: dict) -> dict:
    """An index record without its file bookkeeping: what results may show."""
    return {field: record.get(field) for field in PUBLIC_FIELDS}


def planned_facts(ref: CertRef, key_size: int, names: list[str] | None = None) -> dict:
    """What check mode can tell of a certificate that a real run would generate."""
    facts = dict.fromkeys(PUBLIC_FIELDS)
    if ref.kind in NAMED_KINDS:
        facts["names"] = names
    facts.update(
        kind=ref.kind,
        identity=ref.identity,
        friendly_name=friendly_name_for(ref),
        subject=subject_text(ref),
        not_after=crypto.iso(datetime.datetime(*NO_EXPIRY, tzinfo=crypto.UTC)),
        key_type="RSA",
        key_size=key_size,
        origin="generated",
    )
    return facts


def diff_line(facts: dict) -> str:
    return "%s %s thumbprint=%s subject=%s not_after=%s" % (
        facts["kind"],
        facts["identity"] if facts["identity"] is not None else "-",
        facts["thumbprint"] or "(generated when applied)",
        facts["subject"],
        facts["not_after"],
    )


def _listing(records: dict[CertRef, dict]) -> str:
    return "".join(diff_line(records[ref]) + "\n" for ref in sorted(records, key=CertRef.sort_key))


def requested_refs(
    *, certificates: list | None, kind: str | None, identity: str | None
) -> list[CertRef]:
    if certificates is not None and (kind is not None or identity is not None):
        raise InvalidRequestError(
            "certificates and kind/identity were both given; give either the list certificates or "
            "one certificate as kind and identity"
        )
    if certificates is None:
        if kind is None:
            if identity is not None:
                raise InvalidRequestError("identity %r was given without kind; give kind too" % identity)
            return []
        return [CertRef(kind, check_identity(kind, identity))]  # messages name the options kind and identity
    return check_refs(certificates)


def requested_names(*, certificates: list | None, names: Any) -> list[str] | None:
    """The SSL connection certificate's names: from its item of ``certificates`` or the option ``names``
    (for the short form ``kind: ssl``), checked and normalised; None when none were given."""
    given = [(position, item.get("names")) for position, item in enumerate(certificates or [])
             if isinstance(item, dict) and item.get("names") is not None]
    if names is not None and given:
        raise InvalidRequestError(
            "names was given both as an option and in certificates[%d]; give the SSL connection certificate's "
            "names once, in its item of certificates" % given[0][0]
        )
    if given:
        return check_names(given[0][1], where="certificates[%d].names" % given[0][0])
    if names is not None:
        return check_names(names, where="names")
    return None


def _exclusive_kinds(refs: list[CertRef], exclusive_kinds: list | None) -> set[str]:
    if exclusive_kinds is None:
        return {ref.kind for ref in refs}
    for position, kind in enumerate(exclusive_kinds):
        profile_of(kind, where="exclusive_kinds[%d]" % position)
    return set(exclusive_kinds)


class Plan(NamedTuple):
    create: list  # CertRefs to generate
    remove: list  # CertRefs to drop
    drift: list  # store paths whose mode or owner is off
    replace: list  # CertRefs to generate anew: an SSL connection certificate for names it does not list
    warnings: list  # what the task should say without changing it

    @property
    def changes(self) -> bool:
        return bool(self.create or self.remove or self.drift or self.replace)


def _held_name(name: str) -> str:
    """A name as a certificate lists it, compared as ``names`` are: one imported or your own may say PSR1."""
    try:
        return check_name(name)
    except InvalidRequestError:
        return name


def _names_differ(record: dict, names: list[str] | None) -> bool:
    return names is not None and {_held_name(name) for name in record.get("names") or ()} != set(names)


def _plan(index: store.Index, refs: list[CertRef], state: str, exclusive_kinds: set, owner,
          names: list[str] | None = None, regenerate: str = "names_differ") -> Plan:
    replace, warnings = [], []
    if state == "present":
        create = [ref for ref in refs if ref not in index.records]
        wanted = set(refs)
        remove = [ref for ref in index.sorted_refs() if ref.kind in exclusive_kinds and ref not in wanted]
        for ref in refs:
            record = index.records.get(ref)
            if ref.kind not in NAMED_KINDS or record is None or not _names_differ(record, names):
                continue
            held = ", ".join(record.get("names") or []) or "none"
            if record.get("origin") != "generated":
                warnings.append(
                    "the %s is your own certificate, and it is kept: it lists the names %s, not %s; clients "
                    "that connect by a name it does not list will not trust it, so have it issued again for them"
                    % (KINDS[ref.kind].label, held, ", ".join(names or []))
                )
            elif regenerate == "never":
                warnings.append(
                    "the %s lists the names %s, not %s; it is kept because ssl_regenerate is never, and clients "
                    "that connect by a name it does not list will not trust it"
                    % (KINDS[ref.kind].label, held, ", ".join(names or []))
                )
            else:
                replace.append(ref)
    else:
        create = []
        remove = [ref for ref in refs if ref in index.records]
    return Plan(create, remove, store.attribute_drift(index, owner), replace, warnings)


def _check_options(refs, state, exclusive, exclusive_kinds, key_size, names=None, regenerate="names_differ") -> set:
    """Refuse contradictory options; return the kinds ``exclusive`` applies to."""
    if state not in ("present", "absent"):
        raise InvalidRequestError("state %r is not present or absent" % state)
    if regenerate not in SSL_REGENERATE:
        raise InvalidRequestError("ssl_regenerate %r is not one of %s" % (regenerate, ", ".join(SSL_REGENERATE)))
    named = [ref for ref in refs if ref.kind in NAMED_KINDS]
    if names is not None and not named:
        raise InvalidRequestError("names were given, but no SSL connection certificate was asked for; names go "
                                  "with kind ssl only")
    if named and state == "present" and names is None:
        raise InvalidRequestError(
            "the SSL connection certificate needs the host's names and IP addresses for its Subject Alternative "
            "Name; give names (the certificate module finds them on the host when it runs as a module)"
        )
    if key_size not in KEY_SIZES:
        raise InvalidRequestError(
            "key_size %r is not supported; use one of %s" % (key_size, ", ".join(map(str, KEY_SIZES)))
        )
    if exclusive and state != "present":
        raise InvalidRequestError("exclusive applies to state=present only; remove exclusive or use state=present")
    if exclusive_kinds is not None and not exclusive:
        raise InvalidRequestError("exclusive_kinds was given without exclusive=true; set exclusive: true")
    return _exclusive_kinds(refs, exclusive_kinds) if exclusive else set()


def ensure(
    store_path: str,
    *,
    refs: list[CertRef],
    state: str = "present",
    exclusive: bool = False,
    exclusive_kinds: list | None = None,
    key_size: int = DEFAULT_KEY_SIZE,
    store_password: str | None = None,
    owner: tuple[int, int] = (-1, -1),
    check_mode: bool = False,
    want_diff: bool = False,
    names: list[str] | None = None,
    ssl_regenerate: str = "names_differ",
) -> dict[str, Any]:
    """Ensure ``refs`` are present (or absent) in the store at ``store_path``.

    ``names``: the SSL connection certificate's names (``requested_names``), needed when it is asked for
    with state present. A generated one that lists other names is made anew for these (the old one stays
    in the store as superseded) unless ``ssl_regenerate`` is ``never``; your own is never replaced.
    """
    if names is not None:  # normalised here too: names compared as given would differ by case or spelling
        names = check_names(names)
    kinds = _check_options(refs, state, exclusive, exclusive_kinds, key_size, names, ssl_regenerate)
    index = store.load(store_path)
    plan = _plan(index, refs, state, kinds, owner, names, ssl_regenerate)
    passphrase, protection = store.key_passphrase(index, store_password,
                                                  writes_keys=bool(plan.create or plan.replace))
    before = dict(index.records)

    # A killed run's leftovers (say, the key files of removed entries) are removed by the next
    # writer, even when nothing else is to be done.
    if check_mode or not (plan.changes or store.has_leftovers(store_path)):
        after = {ref: record for ref, record in before.items() if ref not in set(plan.remove)}
        after.update({ref: planned_facts(ref, key_size, names) for ref in plan.create + plan.replace})
        return _result(store_path, refs, state, plan, before, after, {}, key_size, want_diff)

    # Key generation, the expensive part, runs before the lock is taken, so that readers and other
    # writers wait only for the files to be written, not for the primes to be found.
    made = {m.ref: m for m in generate_many(plan.create + plan.replace, key_size=key_size, key_passphrase=passphrase,
                                            names=names)}
    with store.transaction(store_path, owner) as writer:
        index = writer.index  # planned again under the lock: another run may have written meanwhile
        plan = _plan(index, refs, state, kinds, owner, names, ssl_regenerate)
        before = dict(index.records)
        fresh, protection = store.key_passphrase_under_lock(
            index, store_password, passphrase, protection, writes_keys=bool(plan.create or plan.replace))
        if fresh != passphrase:  # keys made before the lock were encrypted for another protection
            passphrase, made = fresh, {}
        created: dict[CertRef, dict] = {}
        if plan.create or plan.remove or plan.replace:
            if (plan.create or plan.replace) and index.key_protection is None and protection is not None:
                writer.set_key_protection(protection)
            late = [ref for ref in plan.create + plan.replace if ref not in made]
            made.update((m.ref, m) for m in generate_many(late, key_size=key_size, key_passphrase=passphrase,
                                                          names=names))
            for ref in plan.create:
                created[ref] = writer.add(ref, made[ref].facts, made[ref].certificate_pem, made[ref].private_key_pem)
            when = crypto.iso(datetime.datetime.now(crypto.UTC))
            for ref in plan.replace:
                created[ref] = writer.replace(ref, made[ref].facts, made[ref].certificate_pem,
                                              made[ref].private_key_pem, when=when)
            for ref in plan.remove:
                writer.remove(ref)
            writer.commit()
        writer.fix_attributes()
    return _result(store_path, refs, state, plan, before, dict(index.records), created, key_size, want_diff)


def _result(store_path, refs, state, plan: Plan, before: dict, after: dict, created: dict, key_size: int,
            want_diff: bool) -> dict[str, Any]:
    results = []
    for ref in refs:
        if state == "present":
            record = created.get(ref) or after.get(ref) or planned_facts(ref, key_size)
            facts = dict(public_facts(record), state="present", changed=ref in plan.create or ref in plan.replace)
            if ref in plan.replace:
                facts["replaced"] = before[ref]["thumbprint"]
        elif ref in before:
            facts = dict(public_facts(before[ref]), state="absent", changed=ref in plan.remove)
        else:
            facts = dict(planned_facts(ref, key_size), state="absent", changed=False)
            facts.update(key_size=None, not_after=None, key_type=None, origin=None)
        results.append(facts)
    asked = set(refs)
    result: dict[str, Any] = {
        "changed": plan.changes,
        "certificates": results,
        "removed": [dict(public_facts(before[ref]), state="absent", changed=True)
                    for ref in plan.remove if ref not in asked],
        "store_path": store_path,
        "attributes_fixed": plan.drift,
        "warnings": plan.warnings,
    }
    if want_diff:
        result["diff"] = {
            "before": _listing(before),
            "after": _listing(after),
            "before_header": "%s (before)" % store_path,
            "after_header": "%s (after)" % store_path,
        }
    return result


def info(store_path: str, *, kind: str | None = None, identity: str | None = None,
         now: datetime.datetime | None = None) -> dict[str, Any]:
    """List the store's entries, filtered by kind and identity. Parses no key."""
    if kind is not None:
        profile_of(kind)
        if identity is not None:
            identity = check_identity(kind, identity)
    elif identity is not None:
        raise InvalidRequestError("identity %r was given without kind; give kind too" % identity)
    index = store.load(store_path)
    moment = crypto.iso(now or datetime.datetime.now(crypto.UTC))
    listed = []
    for ref in index.sorted_refs():
        if kind is not None and ref.kind != kind:
            continue
        if identity is not None and ref.identity != identity:
            continue
        record = index.records[ref]
        facts = public_facts(record)
        facts["expired"] = record["not_after"] < moment  # ISO 8601 in UTC sorts as time does
        facts["has_private_key"] = bool(record["has_private_key"])
        listed.append(facts)
    counts = dict.fromkeys(KIND_NAMES, 0)
    for ref in index.records:
        counts[ref.kind] += 1
    superseded = [
        dict(public_facts(record), superseded_at=record.get("superseded_at"), superseded_by=record.get("superseded_by"))
        for record in index.superseded
        if (kind is None or record["kind"] == kind) and (identity is None or record["identity"] == identity)
    ]
    return {
        "changed": False,
        "store_path": store_path,
        "store_exists": index.exists,
        "keys_encrypted": index.key_protection is not None,
        "counts": counts,
        "certificates": listed,
        "superseded": superseded,
    }
