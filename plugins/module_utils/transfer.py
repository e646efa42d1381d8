# Copyright (c) passwordsecure.server contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Export and import: certificates leave one store as PKCS#12 and arrive in another.

Neither direction loads a private key into ``cryptography``: keys travel as
PKCS#8 DER, decrypted from the store and encrypted into PKCS#12 (or back) by
``pkcs12``, and an import checks each key against its certificate with
``recognise.check_key_matches``, a pairwise check without RSA's primality
tests (its docstring has the reasons and the figures).

Both directions plan first and write last. An export compares what a
destination already holds (opened with the given password; by thumbprint, and
each key against its certificate) before it writes anything; an import checks
every certificate of every file it is given before the store's single index
commit, so an import (one file or a directory of them) lands whole or not at
all.
"""

from __future__ import annotations

import base64
import datetime
import itertools
import os
from typing import Any, Iterable, NamedTuple

from ansible_collections.passwordsecure.server.plugins.module_utils import chain as chain_
from ansible_collections.passwordsecure.server.plugins.module_utils import crypto, pkcs12, store
from ansible_collections.passwordsecure.server.plugins.module_utils.errors import (
    CertificateRefusedError,
    InvalidRequestError,
    PasswordSecureError,
    StoreDamagedError,
)
from ansible_collections.passwordsecure.server.plugins.module_utils.kinds import (
    KINDS,
    CertRef,
    check_identity,
    profile_of,
)
from ansible_collections.passwordsecure.server.plugins.module_utils.recognise import (
    KEY_FIX,
    OWN_KEY_FIX,
    Recognised,
    check_key_matches,
    recognise,
)

MIN_PASSWORD_LENGTH = 12
ON_CONFLICT = ("fail", "replace", "skip")
RESULT_FIELDS = ("kind", "identity", "thumbprint", "subject", "friendly_name", "not_after")


def check_password(password: Any) -> str:
    if not isinstance(password, str) or len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidRequestError(
            "password is shorter than %d characters; it is the only protection of the private keys in the "
            "PKCS#12 file, so give a longer one (from Ansible Vault)" % MIN_PASSWORD_LENGTH
        )
    return password


def _summary(facts: dict, **extra: Any) -> dict:
    summary = {field: facts.get(field) for field in RESULT_FIELDS}
    summary.update(extra)
    return summary


def _diff_lines(facts_list: list[dict]) -> str:
    return "".join(
        "%s %s thumbprint=%s subject=%s not_after=%s%s\n"
        % (f["kind"], f["identity"] if f["identity"] is not None else "-", f["thumbprint"], f["subject"],
           f["not_after"], " chain=%s" % ",".join(chain_thumbprints(f)) if f.get("chain") else "")
        for f in facts_list
    )


# --------------------------------------------------------------------------- export


def select(
    index: store.Index, *, databases: list[str] | None = None, kind: str | None = None, identity: str | None = None
) -> list[CertRef]:
    """The store's certificates a selection names, in the store's order.

    ``databases`` selects each named database's own certificate plus every
    server-wide certificate that must travel with a database (all master key,
    discovery service, Password Reset and server encryption certificates).
    Without a selection, every certificate that travels: the SSL connection
    certificate is left out unless ``kind`` asks for it (see ``left_out``).
    """
    if databases:
        if kind is not None or identity is not None:
            raise InvalidRequestError("database and kind/identity were both given; select by one of them")
        wanted = [CertRef("database", check_identity("database", name, where="database")) for name in databases]
        missing = [ref.identity for ref in wanted if ref not in index.records]
        if missing:
            held = sorted(ref.identity for ref in index.records if ref.kind == "database")
            raise InvalidRequestError(
                "the store at %s holds no certificate for the database(s) %s; it holds %s. Check the names "
                "(they are compared exactly, after Unicode NFC)"
                % (index.path, ", ".join(repr(m) for m in missing), ", ".join(repr(h) for h in held) or "none")
            )
        chosen = set(wanted) | {
            ref for ref in index.records if ref.kind != "database" and KINDS[ref.kind].travels_with_database
        }
    elif kind is not None:
        profile_of(kind)
        if identity is not None:
            identity = check_identity(kind, identity)
        chosen = {ref for ref in index.records if ref.kind == kind and (identity is None or ref.identity == identity)}
    elif identity is not None:
        raise InvalidRequestError("identity %r was given without kind; give kind too" % identity)
    else:
        chosen = {ref for ref in index.records if KINDS[ref.kind].travels_with_database}
    if not chosen:
        raise InvalidRequestError(
            "the selection matches no certificate in the store at %s; see what it holds with "
            "passwordsecure.server.certificate_info" % index.path
        )
    return [ref for ref in index.sorted_refs() if ref in chosen]


IMPORT_LEFT_OUT_REASON = ("the SSL connection certificate is never moved: each server has its own, for its own "
                          "names; give kind: ssl to import it all the same")
LEFT_OUT_REASON = ("never moved: each server has its own SSL connection certificate, for its own names; "
                   "give kind: ssl to export it all the same")


def left_out(index: store.Index, *, kind: str | None = None) -> list[dict]:
    """What a selection without ``kind`` leaves out although the store holds it: the SSL connection
    certificate, which never moves with a database. Each as kind, identity, thumbprint and reason."""
    if kind is not None:
        return []
    return [
        {"kind": ref.kind, "identity": ref.identity, "thumbprint": index.records[ref]["thumbprint"],
         "reason": LEFT_OUT_REASON}
        for ref in index.sorted_refs() if not KINDS[ref.kind].travels_with_database
    ]


def file_name(ref: CertRef) -> str:
    """The file of one certificate in ``directory`` mode: identities hold no path separator or '..'."""
    return "%s.pfx" % ref.kind if ref.identity is None else "%s_%s.pfx" % (ref.kind, ref.identity)


def entries_for(index: store.Index, ref: CertRef, passphrase: bytes | None) -> list[pkcs12.PfxEntry]:
    """One store entry as PKCS#12 entries: the certificate with its unencrypted PKCS#8 DER, then the CA
    certificates of its chain (your own SSL connection certificate's), without a key."""
    content = store.read_entry(index, ref)
    certificate_der, key_der, encrypted, chain = store.split_entry(content, where=ref.describe())
    if encrypted:
        if passphrase is None:
            raise InvalidRequestError(
                "the store at %s encrypts its private keys; give store_password to export them" % index.path
            )
        try:
            key_der = pkcs12.decrypt_pkcs8(key_der, passphrase)
        except pkcs12.Pkcs12Error as exc:  # the passphrase was verified: the entry itself is damaged
            raise StoreDamagedError(
                "the private key of %s in the store at %s does not decrypt (%s); restore the store from a backup"
                % (ref.describe(), index.path, exc)
            ) from None
    return [pkcs12.PfxEntry(certificate_der, key_der, index.records[ref]["friendly_name"])] + [
        pkcs12.PfxEntry(der, None, None) for der in chain]


def entry_for(index: store.Index, ref: CertRef, passphrase: bytes | None) -> pkcs12.PfxEntry:
    """One store entry's certificate with its unencrypted PKCS#8 DER."""
    return entries_for(index, ref, passphrase)[0]


def chain_thumbprints(record: dict) -> list[str]:
    """The thumbprints of a record's chain (empty for every certificate but your own SSL one)."""
    return [link["thumbprint"] for link in record.get("chain") or []]


class Destination(NamedTuple):
    path: str | None  # None: returned as content
    refs: list[CertRef]


def destinations(
    refs: list[CertRef], *, path: str | None, directory: str | None, server_encryption_path: str | None,
    name=file_name,
) -> list[Destination]:
    """Where each selected certificate goes: ``path`` (or content, when it is None), a file each in
    ``directory`` (named by ``name``), the server encryption certificate apart when asked."""
    server = [ref for ref in refs if ref.kind == "server_encryption"]
    rest = [ref for ref in refs if ref.kind != "server_encryption"] if server_encryption_path else list(refs)
    plan: list[Destination] = []
    if directory is not None:
        plan += [Destination(os.path.join(directory, name(ref)), [ref]) for ref in rest]
    elif rest:
        plan.append(Destination(path, rest))
    if server_encryption_path and server:
        plan.append(Destination(server_encryption_path, server))
    return plan


def holds_exactly(
    data: bytes, password: str, index: store.Index, refs: list[CertRef], profile: str = "modern"
) -> bool:
    """Whether PKCS#12 ``data`` is written in ``profile``, opens with ``password`` and holds exactly
    ``refs``, each with its key, and their chains' CA certificates without a key."""
    if not pkcs12.matches_profile(data, profile):
        return False
    try:
        contents = pkcs12.read_pfx(data, password)
    except PasswordSecureError:
        return False
    wanted = {index.records[ref]["thumbprint"]: ref for ref in refs}
    chains = {thumbprint for ref in refs for thumbprint in chain_thumbprints(index.records[ref])}
    found = {}
    chain_found = set()
    for entry in contents.entries:
        thumbprint, _sha256 = crypto.fingerprints(entry.certificate_der)
        if entry.private_key_der is None and thumbprint in chains and thumbprint not in chain_found:
            chain_found.add(thumbprint)
            continue
        if entry.private_key_der is None or thumbprint not in wanted or thumbprint in found:
            return False
        try:
            check_key_matches(entry.certificate_der, entry.private_key_der)
        except PasswordSecureError:
            return False
        found[thumbprint] = entry
    return set(found) == set(wanted) and chain_found == chains and contents.keys_without_certificate == 0


def export(
    store_path: str,
    *,
    password: str,
    profile: str = "modern",
    databases: list[str] | None = None,
    kind: str | None = None,
    identity: str | None = None,
    path: str | None = None,
    directory: str | None = None,
    server_encryption_path: str | None = None,
    return_content: bool = False,
    store_password: str | None = None,
    read_existing=None,
) -> tuple[dict[str, Any], list[tuple[str, bytes]]]:
    """Plan an export: (result, [(path, PKCS#12 bytes) to write]). Writes nothing itself.

    ``read_existing(path)`` returns a destination's current bytes or None; the
    module passes a reader so that this function stays free of file plumbing.
    """
    check_password(password)
    if profile not in pkcs12.PROFILES:
        raise InvalidRequestError("encryption %r is not one of %s" % (profile, ", ".join(pkcs12.PROFILES)))
    if sum(x is not None and x is not False for x in (path, directory, return_content or None)) != 1:
        raise InvalidRequestError("give exactly one of path, directory or return_content=true")
    if return_content and server_encryption_path:
        raise InvalidRequestError("server_encryption_path does not go with return_content; give path or directory")
    index = store.load(store_path)
    refs = select(index, databases=databases, kind=kind, identity=identity)
    passphrase, _protection = store.key_passphrase(index, store_password, writes_keys=False)
    plan = destinations(refs, path=path, directory=directory, server_encryption_path=server_encryption_path)
    files, to_write, diff = _plan_files(
        index, plan, read_existing,
        lambda destination, existing: holds_exactly(existing, password, index, destination.refs, profile))

    def build(destination: Destination) -> bytes:
        entries = [entry for ref in destination.refs for entry in entries_for(index, ref, passphrase)]
        return pkcs12.write_pfx(entries, password, profile=profile)

    # One file per certificate: the files are built on every core, as one file's keys are.
    built = crypto.parallel_map(build, to_write, minimum=8)
    result, writes, content = _outcome(index, refs, kind, files, to_write, built, diff)
    result["encryption"] = profile
    if content is not None:
        result["content"] = base64.b64encode(content).decode("ascii")
    return result, writes


def _plan_files(index: store.Index, plan: list[Destination], read_existing, is_current) -> tuple[list, list, dict]:
    """For each destination file, whether it holds what it should already (``is_current(destination, its
    bytes)``, asked only when it exists). Returns the files' records, the destinations to write (content, a
    destination without a path, always) and the diff."""
    files, to_write, before, after = [], [], [], []
    for destination in plan:
        if destination.path is None:
            to_write.append(destination)
            continue
        facts = [index.records[ref] for ref in destination.refs]
        existing = read_existing(destination.path) if read_existing else None
        unchanged = existing is not None and is_current(destination, existing)
        files.append({"path": destination.path, "changed": not unchanged,
                      "thumbprints": [f["thumbprint"] for f in facts]})
        if not unchanged:
            before.append("%s: %s\n" % (destination.path, "present, differs" if existing else "absent"))
            after.append("%s:\n%s" % (destination.path, _diff_lines(facts)))
            to_write.append(destination)
    return files, to_write, {"before": "".join(before), "after": "".join(after)}


def _outcome(index: store.Index, refs: list[CertRef], kind: str | None, files: list, to_write: list[Destination],
             built: list[bytes], diff: dict) -> tuple[dict[str, Any], list[tuple[str, bytes]], bytes | None]:
    """An export's result, its file writes, and its content (the bytes of the destination without a path)."""
    content = next((data for d, data in zip(to_write, built) if d.path is None), None)
    writes = [(d.path, data) for d, data in zip(to_write, built) if d.path is not None]
    changed_refs = {ref for d in to_write if d.path is not None for ref in d.refs}
    result: dict[str, Any] = {
        "changed": bool(writes),
        "certificates": [_summary(index.records[ref], changed=ref in changed_refs) for ref in refs],
        "files": files,
        "left_out": left_out(index, kind=kind),
        "diff": diff,
    }
    return result, writes, content


# --------------------------------------------------------------------------- the public certificates alone

PUBLIC_FORMATS = ("pem", "der")


def public_file_name(ref: CertRef, fmt: str) -> str:
    return "%s.%s" % (file_name(ref)[: -len(".pfx")], "crt" if fmt == "pem" else "cer")


def export_public(
    store_path: str,
    *,
    fmt: str,
    databases: list[str] | None = None,
    kind: str | None = None,
    identity: str | None = None,
    path: str | None = None,
    directory: str | None = None,
    return_content: bool = False,
    read_existing=None,
    trust_anchor: bool = False,
) -> tuple[dict[str, Any], list[tuple[str, bytes]]]:
    """Plan an export of the selected certificates without their keys, for clients to trust (the SSL
    connection certificate above all): PEM (one file may hold several) or DER (one certificate a file).
    With ``trust_anchor``, each certificate's trust anchor takes its place (``anchor_of``).
    Reads no key, so it needs no password. Returns (result, [(path, bytes) to write]); writes nothing."""
    if fmt not in PUBLIC_FORMATS:
        raise InvalidRequestError("format %r is not one of pkcs12, %s" % (fmt, ", ".join(PUBLIC_FORMATS)))
    if sum(x is not None and x is not False for x in (path, directory, return_content or None)) != 1:
        raise InvalidRequestError("give exactly one of path, directory or return_content=true")
    index = store.load(store_path)
    refs = select(index, databases=databases, kind=kind, identity=identity)
    if fmt == "der" and directory is None and len(refs) != 1:
        raise InvalidRequestError(
            "format der holds one certificate, and the selection has %d (%s); select one with kind and identity, "
            "give directory for a file each, or use format pem, which holds several"
            % (len(refs), ", ".join(ref.describe() for ref in refs))
        )
    parts = {ref: store.split_entry(store.read_entry(index, ref), where=ref.describe()) for ref in refs}
    if trust_anchor:
        crypto.require_cryptography()  # reading the chains needs it; the certificates alone do not
        ders = {ref: anchor_of(index, ref, parts[ref]) for ref in refs}
    else:
        ders = {ref: parts[ref].certificate_der for ref in refs}

    def encode(chosen: list[CertRef]) -> bytes:
        if fmt == "der":
            return ders[chosen[0]]
        return b"".join(store.pem(ders[ref], "CERTIFICATE") for ref in chosen)

    plan = destinations(refs, path=path, directory=directory, server_encryption_path=None,
                        name=lambda ref: public_file_name(ref, fmt))
    files, to_write, diff = _plan_files(index, plan, read_existing,
                                        lambda destination, existing: existing == encode(destination.refs))
    result, writes, content = _outcome(index, refs, kind, files, to_write,
                                       [encode(destination.refs) for destination in to_write], diff)
    result["format"] = fmt
    if trust_anchor:
        for summary, ref in zip(result["certificates"], refs):
            cert = crypto.x509.load_der_x509_certificate(ders[ref])
            summary["trust_anchor"] = {"subject": cert.subject.rfc4514_string(),
                                       "thumbprint": crypto.fingerprints(ders[ref])[0]}
    if content is not None:
        result["content"] = content.decode("ascii") if fmt == "pem" else base64.b64encode(content).decode("ascii")
    return result, writes


def anchor_of(index: store.Index, ref: CertRef, parts: store.EntryParts) -> bytes:
    """The certificate clients must trust to verify ``ref``'s: itself when it is self-signed (every generated
    one), else the self-signed root CA that ends its chain. OpenSSL takes no other certificate as a trust
    anchor (without -partial_chain), so an own certificate kept without its root is refused."""
    for der in [parts.certificate_der] + list(parts.chain):
        cert = crypto.x509.load_der_x509_certificate(der)
        if cert.issuer == cert.subject:
            return der
    record = index.records[ref]
    raise InvalidRequestError(
        "the store at %s holds %s as your own certificate, issued by %s, without the root CA certificate that "
        "ends its chain; clients trust it through that root, so import the certificate again with its chain up "
        "to the root (certificate_import with kind: ssl), or give the clients the root CA's certificate yourself"
        % (index.path, ref.describe(), record.get("issuer") or "a CA")
    )


# --------------------------------------------------------------------------- import


class Incoming(NamedTuple):
    recognised: Recognised
    entry: pkcs12.PfxEntry
    chain: list = []  # DER of the CA certificates that issued it, issuer first: your own SSL certificate's
    warnings: list = []  # what clients will refuse although the import accepts it


FORMATS = ("pkcs12", "pem")


def _contents(data: bytes, password: str | None, source: str, fmt: str) -> pkcs12.PfxContents:
    try:
        return chain_.read_pem(data, password) if fmt == "pem" else pkcs12.read_pfx(data, password)
    except PasswordSecureError as exc:
        raise type(exc)("%s: %s" % (source, exc)) from exc


def _own_chain(found: Recognised, entry: pkcs12.PfxEntry, contents: pkcs12.PfxContents,
               source: str) -> Incoming:
    """Your own SSL connection certificate with the CA certificates given with it as its chain, and what clients
    will refuse (warnings). A generated one has no chain."""
    if found.facts["origin"] != "own":
        return Incoming(found, entry)
    others = [e.certificate_der for e in contents.entries if e.private_key_der is None]
    chain = chain_.link(entry.certificate_der, others)
    if chain:
        found.facts["chain"] = chain_.chain_facts(chain)
    warnings = ["%s: %s" % (source, warning) for warning in chain_.warnings(entry.certificate_der, chain)]
    return Incoming(found, entry, chain, warnings)


def read_incoming(
    data: bytes, password: str | None, *, source: str, kind: str | None = None, identity: str | None = None,
    fmt: str = "pkcs12",
) -> tuple[list[Incoming], list[dict]]:
    """Open a PKCS#12 file (or PEM text) and check every certificate in it; (importable, certificates
    without a key). With kind ssl, the certificates without a key are the chain of your own certificate."""
    contents = _contents(data, password, source, fmt)
    with_key = [entry for entry in contents.entries if entry.private_key_der is not None]
    if (kind is not None or identity is not None) and len(with_key) != 1:
        raise InvalidRequestError(
            "%s: holds %d certificates with keys; kind and identity may only be given for a file with one"
            % (source, len(with_key))
        )
    if kind is not None and profile_of(kind, where="kind").own_certificate_allowed:
        entry = with_key[0]
        try:
            found = recognise(entry.certificate_der, kind=kind, identity=identity)
            check_key_matches(entry.certificate_der, entry.private_key_der, public_key=found.public_key,
                              fix=OWN_KEY_FIX if found.facts["origin"] == "own" else KEY_FIX)
            own = _own_chain(found, entry, contents, source)
        except PasswordSecureError as exc:
            raise type(exc)("%s: %s" % (source, exc)) from exc
        keyless = [] if found.facts["origin"] == "own" else [
            {"thumbprint": crypto.fingerprints(e.certificate_der)[0], "reason": "no private key in the file"}
            for e in contents.entries if e.private_key_der is None]
        return [own], keyless
    incoming: list[Incoming] = []
    without_key: list[dict] = []
    by_ref: dict[CertRef, Incoming] = {}
    for entry in contents.entries:
        try:
            if entry.private_key_der is None:
                thumbprint, _sha256 = crypto.fingerprints(entry.certificate_der)
                without_key.append({"thumbprint": thumbprint, "reason": "no private key in the file"})
                continue
            found = recognise(entry.certificate_der, kind=kind, identity=identity)
            if kind is None and not KINDS[found.ref.kind].travels_with_database:
                without_key.append({"thumbprint": found.facts["thumbprint"], "reason": IMPORT_LEFT_OUT_REASON})
                continue
            check_key_matches(entry.certificate_der, entry.private_key_der, public_key=found.public_key)
        except PasswordSecureError as exc:
            raise type(exc)("%s: %s" % (source, exc)) from exc
        earlier = by_ref.get(found.ref)
        if earlier is not None:
            if earlier.recognised.facts["thumbprint"] == found.facts["thumbprint"]:
                continue  # the same certificate twice: once is enough
            raise CertificateRefusedError(
                "%s: holds two different certificates for %s (thumbprints %s and %s); a server has one, so "
                "export the file again from the server that uses it"
                % (source, found.ref.describe(), earlier.recognised.facts["thumbprint"], found.facts["thumbprint"])
            )
        by_ref[found.ref] = Incoming(found, entry)
        incoming.append(by_ref[found.ref])
    if contents.keys_without_certificate:
        without_key.append({"thumbprint": None, "reason": "%d private key(s) in the file without a certificate"
                            % contents.keys_without_certificate})
    if not incoming:
        keyless = sum(1 for w in without_key if w["thumbprint"] and w["reason"] != IMPORT_LEFT_OUT_REASON)
        reasons = (["%d certificate(s) without a key" % keyless] if keyless else []) + [
            w["reason"] for w in without_key if not w["thumbprint"] or w["reason"] == IMPORT_LEFT_OUT_REASON]
        if not keyless and any(w["reason"] == IMPORT_LEFT_OUT_REASON for w in without_key):
            return incoming, without_key  # only an SSL connection certificate: gather() decides (one file or many)
        raise CertificateRefusedError(
            "%s: holds no certificate with its private key%s; export it again with the keys"
            % (source, " (%s)" % "; ".join(reasons) if reasons else "")
        )
    return incoming, without_key


def _entry_pems(item: Incoming, passphrase: bytes | None) -> tuple[bytes, bytes]:
    """A certificate (then its chain) and its key as a store entry holds them: the key encrypted when the
    store does."""
    certificates = b"".join(store.pem(der, "CERTIFICATE") for der in [item.entry.certificate_der] + item.chain)
    if passphrase is None:
        return certificates, store.pem(item.entry.private_key_der, "PRIVATE KEY")
    encrypted = pkcs12.encrypt_pkcs8(item.entry.private_key_der, passphrase)
    return certificates, store.pem(encrypted, "ENCRYPTED PRIVATE KEY")


def _classify(index: store.Index, incoming: list[Incoming]):
    """(to add, held already, held with another chain: updated, held as another certificate: conflicts)."""
    add, same, rechained, conflicts = [], [], [], []
    for item in incoming:
        ref = item.recognised.ref
        held = index.records.get(ref)
        if held is None:
            add.append(item)
        elif held["thumbprint"] != item.recognised.facts["thumbprint"]:
            conflicts.append(item)
        elif chain_thumbprints(held) != chain_thumbprints(item.recognised.facts):
            rechained.append(item)
        else:
            same.append(item)
    return add, same, rechained, conflicts


def _conflict_error(index: store.Index, conflicts: list[Incoming], origin: dict[CertRef, str]) -> InvalidRequestError:
    """The on_conflict: fail message: every conflict with both thumbprints, and the file each came from."""
    files = list(dict.fromkeys(origin[item.recognised.ref] for item in conflicts))
    lines = "; ".join(
        "%s: the store holds %s, %s %s"
        % (item.recognised.ref.describe(), index.records[item.recognised.ref]["thumbprint"],
           "%s holds" % origin[item.recognised.ref] if len(files) > 1 else "the file",
           item.recognised.facts["thumbprint"])
        for item in conflicts
    )
    where = "%s: %d certificate(s)" % (files[0], len(conflicts)) if len(files) == 1 else (
        "%d certificate(s) in %d files" % (len(conflicts), len(files)))
    return InvalidRequestError(
        "%s differ from those the store at %s holds for the same kind and identity (%s). "
        "Nothing was imported. Set on_conflict: replace to import them (the store keeps the old ones as "
        "superseded entries) or on_conflict: skip to keep the store's" % (where, index.path, lines)
    )


class Gathered(NamedTuple):
    """What all sources of an import hold, read and checked, before the store is looked at."""

    incoming: list[Incoming]  # one per kind and identity, in source order, then file order
    origin: dict[CertRef, str]  # the source each certificate is reported from: the first that holds it
    without_key: list[tuple[str, dict]]  # (source, what cannot become an entry)
    per_source: list[dict]  # {path, certificates, not_imported} per source, in source order


_READ_AHEAD = 64  # sources read and checked together, on a thread per core


def _read_all(sources: Iterable[tuple[str, bytes]], password: str | None, kind: str | None, identity: str | None,
              fmt: str = "pkcs12"):
    """(name, read_incoming's result) of each source in order; a batch of sources at a time is checked on a
    thread per core (PBKDF2 releases the GIL), and only a batch's bytes are held at once."""
    remaining = iter(sources)
    first = True
    while True:
        batch = list(itertools.islice(remaining, _READ_AHEAD))
        if not batch:
            return
        if (kind is not None or identity is not None) and (len(batch) > 1 or not first):
            second = batch[1 if first else 0][0]
            raise InvalidRequestError(
                "kind and identity go with a single PKCS#12 file, and %s is the second one; give path or "
                "content with kind and identity, or leave them out to import several files" % second
            )
        first = False
        checked = crypto.parallel_map(
            lambda source: read_incoming(source[1], password, source=source[0], kind=kind, identity=identity,
                                         fmt=fmt),
            batch,
        )
        yield from zip([name for name, _data in batch], checked)


def gather(
    sources: Iterable[tuple[str, bytes]], password: str | None, *, kind: str | None = None,
    identity: str | None = None, fmt: str = "pkcs12",
) -> Gathered:
    """Open and check every source (name for messages, PKCS#12 bytes), one after the other.

    ``sources`` may be a generator that reads each file when asked: only the
    checked certificates and keys are kept, never every file's bytes at once.
    The same certificate (same thumbprint) in two sources counts once; two
    different certificates for the same kind and identity are refused.
    """
    incoming: list[Incoming] = []
    origin: dict[CertRef, str] = {}
    by_ref: dict[CertRef, Incoming] = {}
    without_key: list[tuple[str, dict]] = []
    per_source: list[dict] = []
    for name, (items, missing) in _read_all(sources, password, kind, identity, fmt):
        per_source.append({"path": name, "certificates": len(items), "not_imported": len(missing)})
        without_key += [(name, item) for item in missing]
        for item in items:
            ref = item.recognised.ref
            earlier = by_ref.get(ref)
            if earlier is None:
                by_ref[ref] = item
                origin[ref] = name
                incoming.append(item)
            elif earlier.recognised.facts["thumbprint"] != item.recognised.facts["thumbprint"]:
                raise CertificateRefusedError(
                    "%s: holds a different certificate for %s than %s (thumbprint %s here, %s there); a server "
                    "has one, so import only the file from the server that uses it: move the other one away"
                    % (name, ref.describe(), origin[ref], item.recognised.facts["thumbprint"],
                       earlier.recognised.facts["thumbprint"])
                )
            # else: the same certificate in another file counts once
    if not per_source:
        raise InvalidRequestError("no PKCS#12 file was given to import; give path, content or directory")
    if not incoming:  # each source held only an SSL connection certificate, which is left out
        if len(per_source) == 1:
            raise CertificateRefusedError("%s: holds no certificate to import: %s"
                                          % (per_source[0]["path"], IMPORT_LEFT_OUT_REASON))
        raise CertificateRefusedError("none of the %d files holds a certificate to import: %s"
                                      % (len(per_source), IMPORT_LEFT_OUT_REASON))
    return Gathered(incoming, origin, without_key, per_source)


def import_(
    store_path: str,
    sources: Iterable[tuple[str, bytes]],
    *,
    password: str | None,
    fmt: str = "pkcs12",
    kind: str | None = None,
    identity: str | None = None,
    on_conflict: str = "fail",
    store_password: str | None = None,
    owner: tuple[int, int] = (-1, -1),
    check_mode: bool = False,
    from_files: bool = False,
) -> dict[str, Any]:
    """Import every certificate of one or more PKCS#12 sources into the store, all or nothing.

    ``sources`` are (name used in messages, PKCS#12 bytes): one for a file or
    content, many for a directory. Every source is opened and checked before
    the store is read; all certificates land in one store commit. With
    ``from_files`` the names are files: each certificate and not_imported item
    says its ``path``, and ``files`` lists what each file held.
    """
    if on_conflict not in ON_CONFLICT:
        raise InvalidRequestError("on_conflict %r is not one of %s" % (on_conflict, ", ".join(ON_CONFLICT)))
    if fmt not in FORMATS:
        raise InvalidRequestError("format %r is not one of %s" % (fmt, ", ".join(FORMATS)))
    gathered = gather(sources, password, kind=kind, identity=identity, fmt=fmt)
    incoming, origin = gathered.incoming, gathered.origin
    index = store.load(store_path)
    add, same, rechained, conflicts = _classify(index, incoming)
    if conflicts and on_conflict == "fail":
        raise _conflict_error(index, conflicts, origin)
    replace = conflicts if on_conflict == "replace" else []
    writes_keys = bool(add or replace or rechained)
    passphrase, protection = store.key_passphrase(index, store_password, writes_keys=writes_keys)
    replaced_before = [index.records[item.recognised.ref] for item in replace + rechained]
    if writes_keys and not check_mode:
        when = crypto.iso(datetime.datetime.now(crypto.UTC))
        with store.transaction(store_path, owner) as writer:
            index = writer.index  # classified again under the lock
            add, same, rechained, conflicts = _classify(index, incoming)
            if conflicts and on_conflict == "fail":
                raise _conflict_error(index, conflicts, origin)
            replace = conflicts if on_conflict == "replace" else []
            replaced_before = [index.records[item.recognised.ref] for item in replace + rechained]
            passphrase, protection = store.key_passphrase_under_lock(
                index, store_password, passphrase, protection, writes_keys=bool(add or replace or rechained))
            if index.key_protection is None and protection is not None:
                writer.set_key_protection(protection)
            for item in add:
                writer.add(item.recognised.ref, item.recognised.facts, *_entry_pems(item, passphrase))
            for item in replace:
                writer.replace(item.recognised.ref, item.recognised.facts, *_entry_pems(item, passphrase), when=when)
            for item in rechained:  # the same certificate and key with another chain: nothing to keep apart
                writer.remove(item.recognised.ref)
                writer.add(item.recognised.ref, item.recognised.facts, *_entry_pems(item, passphrase))
            writer.commit()
            writer.fix_attributes()
    action = {}
    for item in add:
        action[item.recognised.ref] = "added"
    for item in same:
        action[item.recognised.ref] = "unchanged"
    for item in rechained:
        action[item.recognised.ref] = "chain_updated"
    for item in conflicts:
        action[item.recognised.ref] = "replaced" if on_conflict == "replace" else "skipped"
    certificates = []
    for item in incoming:
        ref = item.recognised.ref
        summary = _summary(item.recognised.facts, action=action[ref],
                           changed=action[ref] in ("added", "replaced", "chain_updated"),
                           expired=item.recognised.expired, origin=item.recognised.facts["origin"])
        if item.chain:
            summary["chain"] = item.recognised.facts["chain"]
        if from_files:
            summary["path"] = origin[ref]
        certificates.append(summary)
    changed_facts = [item.recognised.facts for item in add + replace + rechained]
    result = {
        "warnings": [warning for item in incoming for warning in item.warnings],
        "changed": bool(add or replace or rechained),
        "certificates": certificates,
        "not_imported": [dict(item, path=name) if from_files else item for name, item in gathered.without_key],
        "store_path": store_path,
        "diff": {
            "before": _diff_lines(replaced_before),
            "after": _diff_lines(changed_facts),
        },
    }
    if from_files:
        result["files"] = gathered.per_source
    return result
