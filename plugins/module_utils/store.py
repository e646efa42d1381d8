# Copyright (c) passwordsecure.server contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A Password Secure server's certificate store on disk.

Layout (``docs/store-format.md`` is the full description)::

    <store>/            0700
      index.json        0600  what the store holds; read without touching a key
      .lock             0600  flock(2): writers exclusive, readers shared
      journal.json      0600  only while a change is being written
      entries/          0700
        <sha256>.pem    0600  one certificate and its private key, named by the
                              SHA-256 of the file's own content

Crash safety: every file is written to a temp file in its folder, fsynced and
renamed over its name, and the folder is fsynced (a change's entry files are
fsynced together, then renamed, then their folder fsynced once). A change writes its new entry
files first, then the index, and removes the entry files it dropped last, so a
process killed at any instant leaves an index whose every entry is complete.
Files a killed writer left behind (temp files, and the entry files its
journal lists that no index names) are invisible to readers and removed by the
next writer; nothing else is ever deleted.
"""

from __future__ import annotations

import base64
import errno
import fcntl
import hashlib
import hmac
import json
import os
import re
import stat
import tempfile
from contextlib import contextmanager, suppress
from typing import Iterator, NamedTuple

from ansible_collections.passwordsecure.server.plugins.module_utils import crypto
from ansible_collections.passwordsecure.server.plugins.module_utils.errors import (
    InvalidRequestError,
    StoreDamagedError,
    StoreError,
    StorePasswordError,
)
from ansible_collections.passwordsecure.server.plugins.module_utils.kinds import (
    KINDS,
    CertRef,
    check_identity,
)

FORMAT = "passwordsecure.server/store"
VERSION = 1
INDEX_NAME = "index.json"
JOURNAL_NAME = "journal.json"
LOCK_NAME = ".lock"
ENTRIES_DIR = "entries"
TEMP_PREFIX = ".tmp-"
DIR_MODE = 0o700
FILE_MODE = 0o600
_ENTRY_FILE = re.compile(r"^entries/[0-9a-f]{64}\.pem$")
_ENTRY_NAME = re.compile(r"^[0-9a-f]{64}\.pem$")
# What an entry record says of its certificate: all that results may show.
PUBLIC_FIELDS = (
    "kind",
    "identity",
    "friendly_name",
    "subject",
    "thumbprint",
    "sha256",
    "serial_number",
    "not_before",
    "not_after",
    "key_type",
    "key_size",
    "origin",
    "names",
    "issuer",
    "chain",
)
# Fields a record may lack (read as None): the SSL connection certificate's names came with that kind, and
# only your own SSL connection certificate has an issuer apart from itself and a chain of CA certificates.
OPTIONAL_FIELDS = ("names", "issuer", "chain")
# What a record says of each CA certificate of its chain (the entry file holds the certificates).
CHAIN_FIELDS = ("subject", "thumbprint", "not_after")
# ...and the store's bookkeeping of its file.
RECORD_FIELDS = tuple(f for f in PUBLIC_FIELDS if f not in OPTIONAL_FIELDS) + (
    "file", "file_sha256", "has_private_key")

# Store-password stretching: run once per task, then each key's PKCS#8 PBES2
# encryption uses the stretched value as its passphrase (docs/store-format.md).
KDF_ITERATIONS = 600_000
_VERIFIER_LABEL = b"passwordsecure.server store password verifier"


class Index:
    """What a store holds, as its index says (after verification against the files)."""

    def __init__(self, path: str, exists: bool, records: dict[CertRef, dict], key_protection: dict | None,
                 superseded: list[dict] | None = None):
        self.path = path
        self.exists = exists
        self.records = records
        self.key_protection = key_protection
        # Entries an import replaced, kept with their keys as a backup inside the store.
        self.superseded = superseded or []

    def all_records(self) -> list[dict]:
        return list(self.records.values()) + self.superseded

    def sorted_refs(self) -> list[CertRef]:
        return sorted(self.records, key=CertRef.sort_key)

    def to_json(self) -> bytes:
        """The index document: one entry per line (json's indented output is its slow pure-Python encoder)."""

        def dump(value: object) -> str:
            return json.dumps(value, sort_keys=True, ensure_ascii=False)

        def lines(records: list[dict]) -> str:
            return "[\n%s\n ]" % ",\n".join("  " + dump(record) for record in records) if records else "[]"

        fields = {
            "entries": lines([self.records[ref] for ref in self.sorted_refs()]),
            "format": dump(FORMAT),
            "key_protection": dump(self.key_protection),
            "superseded": lines(self.superseded),
            "version": dump(VERSION),
        }
        body = ",\n".join(" %s: %s" % (dump(name), fields[name]) for name in sorted(fields))
        return ("{\n%s\n}\n" % body).encode("utf-8")


# --------------------------------------------------------------------------- reading


def _where(path: str) -> str:
    return "the certificate store at %s" % path


def inspect_path(path: str) -> bool:
    """Check that ``path`` can be a store; return whether it exists as one (has an index)."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return False
    except OSError as exc:
        raise StoreError("cannot look at store_path %s: %s; check the path and its parents' permissions"
                         % (path, exc.strerror or exc)) from exc
    if not stat.S_ISDIR(st.st_mode):
        raise InvalidRequestError(
            "store_path %s is not a directory; give the path of a directory for the store "
            "(it is created when missing)" % path
        )
    if os.path.exists(os.path.join(path, INDEX_NAME)):
        return True
    try:
        names = set(os.listdir(path))
    except OSError as exc:
        raise StoreError("cannot list store_path %s: %s; run as a user that may read it (become: true)"
                         % (path, exc.strerror or exc)) from exc
    if INDEX_NAME in names:
        return True  # a first writer committed between the two looks; it is a store, not a foreign folder
    foreign = sorted(n for n in names - {LOCK_NAME, ENTRIES_DIR, JOURNAL_NAME} if not n.startswith(TEMP_PREFIX))
    if foreign:
        raise InvalidRequestError(
            "store_path %s is a directory that holds other files (%s) but no store index; "
            "give an empty or new directory for the store" % (path, ", ".join(foreign[:5]))
        )
    if ENTRIES_DIR in names and JOURNAL_NAME not in names:
        try:
            stray = [n for n in os.listdir(os.path.join(path, ENTRIES_DIR)) if not n.startswith(TEMP_PREFIX)]
        except OSError:
            stray = []
        # Unlocked, this can race a first writer (journal, files, index, journal gone): look again.
        if stray and not os.path.exists(os.path.join(path, JOURNAL_NAME)):
            if os.path.exists(os.path.join(path, INDEX_NAME)):
                return True
            raise _damaged(path, "%s is missing while entries/ holds %d file(s) (for example %s)"
                           % (INDEX_NAME, len(stray), stray[0]))
    return False


def has_leftovers(path: str) -> bool:
    """Whether a killed writer left a journal: files the next writer removes (maybe keys of removed entries)."""
    return os.path.exists(os.path.join(path, JOURNAL_NAME))


def _damaged(path: str, what: str) -> StoreDamagedError:
    return StoreDamagedError(
        "%s is damaged: %s. Nothing was changed. Restore the store (or the file named) from a backup; "
        "this collection never repairs a store by dropping entries" % (_where(path), what)
    )


def _read_index_document(path: str) -> dict:
    index_path = os.path.join(path, INDEX_NAME)
    try:
        with open(index_path, "rb") as handle:
            raw = handle.read()
    except OSError as exc:
        raise StoreError("cannot read %s: %s; run as a user that may read the store (become: true)"
                         % (index_path, exc.strerror or exc)) from exc
    try:
        document = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise _damaged(path, "%s is not valid JSON (%s)" % (INDEX_NAME, exc)) from exc
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise _damaged(path, "%s is not an index of this collection's store format" % INDEX_NAME)
    if document.get("version") != VERSION:
        raise StoreError(
            "%s has format version %r, and this collection reads version %d; use the collection "
            "version that wrote it, or a newer one" % (_where(path), document.get("version"), VERSION)
        )
    if not isinstance(document.get("entries"), list):
        raise _damaged(path, "%s has no list of entries" % INDEX_NAME)
    protection = document.get("key_protection")
    if protection is not None and not (
        isinstance(protection, dict) and {"iterations", "salt", "verifier"} <= set(protection)
    ):
        raise _damaged(path, "the key_protection record of %s is incomplete" % INDEX_NAME)
    return document


def _check_record(path: str, position: int, record: object, section: str = "entries") -> CertRef:
    where = ("entry %d of %s" if section == "entries" else "superseded entry %d of %s") % (position, INDEX_NAME)
    if not isinstance(record, dict) or not set(RECORD_FIELDS) <= set(record):
        missing = sorted(set(RECORD_FIELDS) - set(record)) if isinstance(record, dict) else ["all"]
        raise _damaged(path, "%s lacks the field(s) %s" % (where, ", ".join(missing)))
    kind = record["kind"]
    if kind not in KINDS:
        raise _damaged(path, "%s has the unknown kind %r" % (where, kind))
    try:
        identity = check_identity(kind, record["identity"])
    except InvalidRequestError as exc:
        raise _damaged(path, "%s has an invalid identity (%s)" % (where, exc)) from exc
    if identity != record["identity"]:
        raise _damaged(path, "%s has an identity not in normal form" % where)
    names = record.get("names")
    if names is not None and not (isinstance(names, list) and all(isinstance(n, str) for n in names)):
        raise _damaged(path, "%s has names that are not a list of text" % where)
    if record.get("issuer") is not None and not isinstance(record["issuer"], str):
        raise _damaged(path, "%s has an issuer that is not text" % where)
    chain = record.get("chain")
    if chain is not None and not (isinstance(chain, list) and all(
            isinstance(link, dict) and all(isinstance(link.get(f), str) for f in CHAIN_FIELDS) for link in chain)):
        raise _damaged(path, "%s has a chain that is not a list of %s" % (where, ", ".join(CHAIN_FIELDS)))
    if not isinstance(record["file"], str) or not _ENTRY_FILE.match(record["file"]):
        raise _damaged(path, "%s names the file %r, outside the store's entries" % (where, record["file"]))
    return CertRef(kind, identity)


def load(path: str, *, verify_files: bool = True, _locked: bool = False) -> Index:
    """Read and verify a store's index. A missing store reads as an empty one.

    With ``verify_files`` every entry file must exist and hash to the SHA-256
    the index records for it: a reader never trusts an index that disagrees
    with the files. No private key is parsed or decrypted.
    """
    if not inspect_path(path):
        return Index(path, False, {}, None)
    with _no_lock() if _locked else _lock(path, exclusive=False):
        document = _read_index_document(path)
        records: dict[CertRef, dict] = {}
        files: dict[str, CertRef] = {}
        for position, record in enumerate(document["entries"]):
            ref = _check_record(path, position, record)
            if ref in records:
                raise _damaged(path, "%s lists %s twice" % (INDEX_NAME, ref.describe()))
            if record["file"] in files:
                raise _damaged(path, "%s names the file %s for two entries" % (INDEX_NAME, record["file"]))
            records[ref] = record
            files[record["file"]] = ref
        superseded = document.get("superseded", [])
        if not isinstance(superseded, list):
            raise _damaged(path, "the superseded list of %s is not a list" % INDEX_NAME)
        old_refs = []
        for position, record in enumerate(superseded):
            ref = _check_record(path, position, record, section="superseded")
            if record["file"] in files:
                raise _damaged(path, "%s names the file %s for two entries" % (INDEX_NAME, record["file"]))
            files[record["file"]] = ref
            old_refs.append(ref)
        if verify_files:
            for ref, record in records.items():
                _verify_entry_file(path, ref, record)
            for ref, record in zip(old_refs, superseded):
                _verify_entry_file(path, ref, record)
    return Index(path, True, records, document.get("key_protection"), superseded)


def _verify_entry_file(path: str, ref: CertRef, record: dict) -> bytes:
    file_path = os.path.join(path, record["file"])
    try:
        with open(file_path, "rb") as handle:
            content = handle.read()
    except FileNotFoundError:
        raise _damaged(path, "the file %s of %s is missing" % (record["file"], ref.describe())) from None
    except OSError as exc:
        raise StoreError("cannot read %s (%s): %s; run as a user that may read the store (become: true)"
                         % (file_path, ref.describe(), exc.strerror or exc)) from exc
    if hashlib.sha256(content).hexdigest() != record["file_sha256"]:
        raise _damaged(path, "the file %s of %s does not hold what the index records for it"
                       % (record["file"], ref.describe()))
    return content


def pem(der: bytes, label: str) -> bytes:
    """PEM text of DER bytes (RFC 7468): what entry files hold."""
    body = base64.b64encode(der).decode("ascii")
    lines = [body[i:i + 64] for i in range(0, len(body), 64)]
    return ("-----BEGIN %s-----\n%s\n-----END %s-----\n" % (label, "\n".join(lines), label)).encode("ascii")


_PEM_BLOCK = re.compile(rb"-----BEGIN ([A-Z ]+)-----\r?\n(.*?)-----END \1-----", re.DOTALL)


class EntryParts(NamedTuple):
    certificate_der: bytes
    private_key_der: bytes  # PKCS#8 DER, encrypted when ``encrypted``
    encrypted: bool
    chain: list  # DER of the CA certificates after the certificate, issuer first (your own SSL certificate)


def split_entry(content: bytes, where: str) -> EntryParts:
    """The parts of an entry file's content: the certificate, then its chain (if any), then the key."""
    certificates = []
    key = None
    encrypted = False
    try:
        for label, body in _PEM_BLOCK.findall(content):
            der = base64.b64decode(b"".join(body.split()), validate=True)
            if label == b"CERTIFICATE":
                certificates.append(der)
            elif label in (b"PRIVATE KEY", b"ENCRYPTED PRIVATE KEY") and key is None:
                key, encrypted = der, label == b"ENCRYPTED PRIVATE KEY"
    except ValueError as exc:
        raise StoreDamagedError("the entry file of %s holds PEM that does not decode" % where) from exc
    if not certificates or key is None:
        raise StoreDamagedError("the entry file of %s lacks its %s block" % (where, "private key" if certificates
                                                                             else "certificate"))
    return EntryParts(certificates[0], key, encrypted, certificates[1:])


def read_entry(index: Index, ref: CertRef) -> bytes:
    """The verified PEM content (certificate, then private key) of one entry."""
    return _verify_entry_file(index.path, ref, index.records[ref])


# --------------------------------------------------------------------------- locking


@contextmanager
def _no_lock() -> Iterator[None]:
    yield


@contextmanager
def _lock(path: str, *, exclusive: bool) -> Iterator[None]:
    lock_path = os.path.join(path, LOCK_NAME)
    try:
        if exclusive:
            fd = os.open(lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, FILE_MODE)
        else:
            fd = os.open(lock_path, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        if exclusive:
            raise
        yield  # a store written by nothing yet has no lock file: nobody to wait for
        return
    except PermissionError:
        if exclusive:
            raise StoreError("cannot lock %s: permission denied; run as a user that may write the store "
                             "(become: true)" % _where(path)) from None
        yield  # a reader who may not open the lock file still reads renamed-in, complete files
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
        yield
    finally:
        os.close(fd)  # closing releases the lock


# --------------------------------------------------------------------------- key protection


def _stretch(password: str, salt: bytes, iterations: int) -> bytes:
    kdf = crypto.PBKDF2HMAC(algorithm=crypto.hashes.SHA256(), length=32, salt=salt, iterations=iterations)
    return kdf.derive(password.encode("utf-8"))


def _verifier(stretched: bytes) -> str:
    return base64.b64encode(hmac.new(stretched, _VERIFIER_LABEL, hashlib.sha256).digest()).decode("ascii")


def key_passphrase(index: Index, password: str | None, *, writes_keys: bool) -> tuple[bytes | None, dict | None]:
    """Check ``password`` against the store; return (PKCS#8 passphrase, key_protection record).

    Raises StorePasswordError when the password is wrong, missing where keys
    are to be written to an encrypted store, or given for a store that keeps
    its keys unencrypted. A new (or still empty) store takes the password.
    """
    protection = index.key_protection
    if protection is None:
        if password is None:
            return None, None
        if index.records:
            raise StorePasswordError(
                "store_password was given, but %s keeps its private keys unencrypted (it was created "
                "without one); omit store_password, or move the certificates to a new store with it"
                % _where(index.path)
            )
        salt = os.urandom(16)
        stretched = _stretch(password, salt, KDF_ITERATIONS)
        protection = {
            "scheme": "pbkdf2-hmac-sha256+pkcs8",
            "iterations": KDF_ITERATIONS,
            "salt": base64.b64encode(salt).decode("ascii"),
            "verifier": _verifier(stretched),
        }
        return stretched.hex().encode("ascii"), protection
    if password is None:
        if writes_keys:
            raise StorePasswordError(
                "%s encrypts its private keys, and new keys are to be written; give store_password"
                % _where(index.path)
            )
        return None, protection
    try:
        salt = base64.b64decode(protection["salt"], validate=True)
        iterations = int(protection["iterations"])
    except (ValueError, TypeError) as exc:
        raise _damaged(index.path, "the key_protection record of %s is unreadable" % INDEX_NAME) from exc
    stretched = _stretch(password, salt, iterations)
    if not hmac.compare_digest(_verifier(stretched), str(protection["verifier"])):
        raise StorePasswordError(
            "store_password is not the password of %s; give the password the store was created with"
            % _where(index.path)
        )
    return stretched.hex().encode("ascii"), protection


def key_passphrase_under_lock(
    index: Index, password: str | None, passphrase: bytes | None, protection: dict | None, *, writes_keys: bool
) -> tuple[bytes | None, dict | None]:
    """Re-check, under the write lock, a passphrase obtained from an unlocked read.

    Another writer may have given the store its key protection (or written unencrypted keys) in
    between; then the passphrase is derived again from the locked index. A store that is still new
    keeps the protection planned for it.
    """
    still_new = index.key_protection is None and not index.records
    if (index.key_protection != protection and not still_new) or (
        writes_keys and passphrase is None and index.key_protection is not None
    ):
        return key_passphrase(index, password, writes_keys=writes_keys)
    return passphrase, protection


# --------------------------------------------------------------------------- writing


def _fsync_dir(path: str) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _atomic_write(directory: str, name: str, data: bytes, owner: tuple[int, int]) -> None:
    fd, temp = tempfile.mkstemp(prefix=TEMP_PREFIX, dir=directory)  # created 0600
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            if owner != (-1, -1):
                os.fchown(handle.fileno(), *owner)
            os.fsync(handle.fileno())
        os.replace(temp, os.path.join(directory, name))
    except BaseException:
        with suppress(OSError):
            os.unlink(temp)
        raise


_SYNC_THREADS = 8  # fsync waits on the disk, not the CPU: more threads than cores let ext4 commit them together


def _write_synced(path: str, data: bytes, owner: tuple[int, int]) -> None:
    """Write a new file (0600) and fsync it; a leftover of the same name (only ours: we hold the lock) is
    replaced, a symbolic link refused."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0),
                 FILE_MODE)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        if owner != (-1, -1):
            os.fchown(fd, *owner)
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_entries(directory: str, pending: dict[str, bytes], owner: tuple[int, int]) -> None:
    """Every pending entry file, as ``_atomic_write`` would write each, but the fsyncs overlap.

    Each goes to its temp file and is fsynced, on threads: one after the other, each fsync
    waits for its own flush (about 0.25 ms per file here), while overlapping ones are
    committed together. Then each is renamed into place and the folder fsynced once. A
    killed writer leaves temp files, which the next writer removes.
    """
    names = sorted(pending)
    temps = [os.path.join(directory, TEMP_PREFIX + name) for name in names]
    try:
        crypto.parallel_map(lambda pair: _write_synced(pair[0], pending[pair[1]], owner), list(zip(temps, names)),
                            workers=_SYNC_THREADS)
        for temp, name in zip(temps, names):
            os.replace(temp, os.path.join(directory, name))
    except BaseException:
        for temp in temps:
            with suppress(OSError):
                os.unlink(temp)
        raise
    _fsync_dir(directory)


def _ensure_dir(path: str, owner: tuple[int, int]) -> None:
    try:
        os.mkdir(path, DIR_MODE)
    except FileExistsError:
        pass
    else:
        if owner != (-1, -1):
            os.chown(path, *owner)


def attribute_drift(index: Index, owner: tuple[int, int]) -> list[str]:
    """The store's paths whose mode or owner is not what it must be (0700 folders, 0600 files)."""
    if not index.exists:
        return []
    wanted = [(index.path, DIR_MODE), (os.path.join(index.path, ENTRIES_DIR), DIR_MODE),
              (os.path.join(index.path, INDEX_NAME), FILE_MODE), (os.path.join(index.path, LOCK_NAME), FILE_MODE)]
    wanted += [(os.path.join(index.path, record["file"]), FILE_MODE) for record in index.all_records()]
    drift = []
    for path, mode in wanted:
        try:
            st = os.lstat(path)
        except FileNotFoundError:
            continue
        if stat.S_IMODE(st.st_mode) != mode or (owner[0] != -1 and st.st_uid != owner[0]) or (
            owner[1] != -1 and st.st_gid != owner[1]
        ):
            drift.append(path)
    return drift


class Writer:
    """A change to a store, made under its exclusive lock. Use ``transaction()``.

    ``add`` and ``remove`` only plan; ``commit`` writes. Before the first entry
    file it writes ``journal.json``, naming every file the change will write or
    drop, so that the next writer removes exactly the leftovers of a killed
    change and nothing else: a file no index names and no journal lists (say,
    after an old index was restored by hand) is never deleted.
    """

    def __init__(self, path: str, owner: tuple[int, int]):
        self.path = path
        self.owner = owner
        self.index = load(path, _locked=True)
        self._pending: dict[str, bytes] = {}  # entry file name -> content
        self._dropped: list[str] = []
        self._protection_changed = False

    def add(self, ref: CertRef, facts: dict, certificate_pem: bytes, private_key_pem: bytes) -> dict:
        if ref in self.index.records:
            raise StoreError("%s already holds %s" % (_where(self.path), ref.describe()))
        content = certificate_pem + private_key_pem
        digest = hashlib.sha256(content).hexdigest()
        name = "%s.pem" % digest
        record = dict(facts, file="%s/%s" % (ENTRIES_DIR, name), file_sha256=digest, has_private_key=True)
        self.index.records[ref] = record
        self._pending[name] = content
        return record

    def replace(self, ref: CertRef, facts: dict, certificate_pem: bytes, private_key_pem: bytes,
                when: str) -> dict:
        """Put a new certificate in place of ``ref``'s; the old entry stays, with its key, as superseded."""
        old = self.index.records.pop(ref)
        self.index.superseded.append(dict(old, superseded_at=when, superseded_by=facts["thumbprint"]))
        return self.add(ref, facts, certificate_pem, private_key_pem)

    def remove(self, ref: CertRef) -> dict:
        record = self.index.records.pop(ref)
        self._dropped.append(os.path.basename(record["file"]))
        return record

    def set_key_protection(self, protection: dict | None) -> None:
        self._protection_changed = protection != self.index.key_protection
        self.index.key_protection = protection

    @property
    def dirty(self) -> bool:
        return bool(self._pending or self._dropped or self._protection_changed or not self.index.exists)

    def commit(self) -> None:
        """Make the change: journal, entry files, index (the moment it happens), drops, journal gone."""
        entries = os.path.join(self.path, ENTRIES_DIR)
        journal = {"format": FORMAT, "written": sorted(self._pending), "dropped": sorted(self._dropped)}
        if self._pending or self._dropped:
            _atomic_write(self.path, JOURNAL_NAME, json.dumps(journal).encode("utf-8"), self.owner)
            _fsync_dir(self.path)
        if self._pending:
            _write_entries(entries, self._pending, self.owner)
        _atomic_write(self.path, INDEX_NAME, self.index.to_json(), self.owner)
        _fsync_dir(self.path)
        for name in self._dropped:
            with suppress(FileNotFoundError):
                os.unlink(os.path.join(entries, name))
        if self._dropped:
            _fsync_dir(entries)
        with suppress(FileNotFoundError):
            os.unlink(os.path.join(self.path, JOURNAL_NAME))
        self.index.exists = True
        self._pending, self._dropped, self._protection_changed = {}, [], False

    def fix_attributes(self) -> None:
        for path in attribute_drift(self.index, self.owner):
            os.chmod(path, DIR_MODE if os.path.isdir(path) else FILE_MODE)
            if self.owner != (-1, -1):
                os.chown(path, *self.owner)

    def collect_garbage(self) -> None:
        """Remove what a killed writer left: temp files, and the entry files its journal lists that no index names."""
        journal_path = os.path.join(self.path, JOURNAL_NAME)
        named = {os.path.basename(record["file"]) for record in self.index.all_records()}
        try:
            with open(journal_path, "rb") as handle:
                journal = json.loads(handle.read().decode("utf-8"))
            listed = [name for key in ("written", "dropped") for name in journal.get(key, [])]
        except FileNotFoundError:
            listed = []
        except (OSError, ValueError, AttributeError, TypeError) as exc:
            raise _damaged(self.path, "%s is unreadable (%s)" % (JOURNAL_NAME, exc)) from exc
        entries = os.path.join(self.path, ENTRIES_DIR)
        for name in listed:
            if isinstance(name, str) and _ENTRY_NAME.match(name) and name not in named:
                with suppress(FileNotFoundError):
                    os.unlink(os.path.join(entries, name))
        for folder in (self.path, entries):
            for name in os.listdir(folder):
                if name.startswith(TEMP_PREFIX):
                    os.unlink(os.path.join(folder, name))
        if listed:
            _fsync_dir(entries)
        with suppress(FileNotFoundError):
            os.unlink(journal_path)


@contextmanager
def transaction(path: str, owner: tuple[int, int] = (-1, -1)) -> Iterator[Writer]:
    """Create the store if needed, lock it exclusively and yield a Writer on a fresh index.

    Nothing is visible to readers until ``Writer.commit()`` renames the new
    index into place; leaving the block without committing leaves the store as
    it was.
    """
    inspect_path(path)
    try:
        parent = os.path.dirname(os.path.abspath(path))
        os.makedirs(parent, exist_ok=True)
        _ensure_dir(path, owner)
        _ensure_dir(os.path.join(path, ENTRIES_DIR), owner)
        with _lock(path, exclusive=True):
            writer = Writer(path, owner)
            writer.collect_garbage()
            yield writer
    except OSError as exc:
        if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
            raise StoreError(
                "cannot write %s: %s; run as a user that may write there (become: true) or choose "
                "another store_path" % (_where(path), exc.strerror or exc)
            ) from exc
        if exc.errno == errno.ENOSPC:
            raise StoreError("cannot write %s: the file system is full; free space and run again"
                             % _where(path)) from exc
        raise StoreError("cannot write %s: %s" % (_where(path), exc)) from exc
