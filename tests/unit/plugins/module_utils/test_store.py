"""The certificate store on disk: layout, verification, damage, garbage and the store password."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
import stat

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from ansible_collections.passwordsecure.server.plugins.module_utils import store
from ansible_collections.passwordsecure.server.plugins.module_utils.errors import (
    InvalidRequestError,
    StoreDamagedError,
    StoreError,
    StorePasswordError,
)
from ansible_collections.passwordsecure.server.plugins.module_utils.generate import generate
from ansible_collections.passwordsecure.server.plugins.module_utils.kinds import CertRef

SALES = CertRef("database", "sales")
MUELLER = CertRef("database", "Müller")
CORP = CertRef("master_key", "corp.example.com")
SERVER = CertRef("server_encryption", None)
PASSWORD = "Store-Pässword 1"


# Made once, when the file is imported: ansible-test runs every test in a fork of the process that
# collected them, so a fixture of wider scope would be made again for each test.
POOL = {ref: generate(ref, key_size=2048) for ref in (SALES, MUELLER, CORP, SERVER)}
NEW_PASSPHRASE, NEW_PROTECTION = store.key_passphrase(store.Index("", False, {}, None), PASSWORD, writes_keys=True)
ENCRYPTED_SALES = generate(SALES, key_size=2048, key_passphrase=NEW_PASSPHRASE)


@pytest.fixture
def pool():
    return POOL


def write(path, items, protection=None) -> dict:
    with store.transaction(str(path)) as writer:
        if protection is not None:
            writer.set_key_protection(protection)
        for item in items:
            writer.add(item.ref, item.facts, item.certificate_pem, item.private_key_pem)
        writer.commit()
        return dict(writer.index.records)


@pytest.fixture
def copy(tmp_path):
    """A store holding database 'sales' and 'Müller' and master_key 'corp.example.com'."""
    path = tmp_path / "store"
    write(path, [POOL[SALES], POOL[MUELLER], POOL[CORP]])
    return path


def index_document(path) -> dict:
    return json.loads((path / "index.json").read_text("utf-8"))


def put_index(path, document) -> None:
    (path / "index.json").write_text(json.dumps(document), "utf-8")


def entry_path(path, ref: CertRef):
    record = next(r for r in index_document(path)["entries"] if (r["kind"], r["identity"]) == tuple(ref))
    return path / record["file"]


# --------------------------------------------------------------------------- reading and writing


def test_a_missing_store_reads_as_empty_and_reading_creates_nothing(tmp_path):
    path = tmp_path / "nowhere" / "store"
    index = store.load(str(path))
    assert index.exists is False
    assert index.records == {}
    assert index.key_protection is None
    assert not (tmp_path / "nowhere").exists()


def test_an_empty_directory_reads_as_an_empty_store(tmp_path):
    index = store.load(str(tmp_path))
    assert (index.exists, index.records) == (False, {})
    assert os.listdir(tmp_path) == []


def test_what_a_transaction_commits_is_what_load_reads(tmp_path, pool):
    path = tmp_path / "store"
    written = write(path, [pool[SALES], pool[SERVER]])
    index = store.load(str(path))
    assert index.exists is True
    assert index.records == written
    assert index.sorted_refs() == [SALES, SERVER]
    for ref in (SALES, SERVER):
        record = index.records[ref]
        item = pool[ref]
        for field, value in item.facts.items():
            assert record[field] == value
        content = (path / record["file"]).read_bytes()
        assert content == item.certificate_pem + item.private_key_pem
        assert record["file"] == "entries/%s.pem" % hashlib.sha256(content).hexdigest()
        assert record["file_sha256"] == hashlib.sha256(content).hexdigest()
        assert record["has_private_key"] is True
        assert store.read_entry(index, ref) == content
    raw = (path / "index.json").read_bytes()
    assert b"PRIVATE KEY" not in raw and b"BEGIN" not in raw
    document = json.loads(raw)
    assert document["format"] == "passwordsecure.server/store" and document["version"] == 1
    assert document["key_protection"] is None


def test_modes_are_0700_and_0600_whatever_the_umask(tmp_path, pool):
    path = tmp_path / "store"
    old = os.umask(0)
    try:
        write(path, [pool[SALES]])
    finally:
        os.umask(old)
    modes = {}
    for folder, dirs, files in os.walk(path):
        for name in [""] + dirs + files:
            full = os.path.join(folder, name)
            modes[os.path.relpath(full, path)] = stat.S_IMODE(os.lstat(full).st_mode)
    entry = os.path.relpath(entry_path(path, SALES), path)
    assert modes == {".": 0o700, "entries": 0o700, "index.json": 0o600, ".lock": 0o600, entry: 0o600}


def test_an_uncommitted_transaction_changes_nothing(copy, pool, snapshot):
    before = snapshot(copy)
    with pytest.raises(RuntimeError), store.transaction(str(copy)) as writer:
        writer.add(SERVER, pool[SERVER].facts, pool[SERVER].certificate_pem, pool[SERVER].private_key_pem)
        writer.remove(SALES)
        raise RuntimeError("left the block without commit")
    assert snapshot(copy) == before


def test_remove_drops_the_entry_file(copy):
    gone = entry_path(copy, SALES)
    with store.transaction(str(copy)) as writer:
        writer.remove(SALES)
        writer.commit()
    assert not gone.exists()
    assert set(store.load(str(copy)).records) == {MUELLER, CORP}


def test_adding_what_the_store_holds_is_refused(copy, pool):
    with pytest.raises(StoreError, match="already holds the database certificate 'sales'"), \
            store.transaction(str(copy)) as writer:
        writer.add(SALES, pool[SALES].facts, pool[SALES].certificate_pem, pool[SALES].private_key_pem)


# --------------------------------------------------------------------------- paths that are no store


def test_a_store_path_that_is_a_file_is_refused(tmp_path, snapshot):
    path = tmp_path / "file"
    path.write_bytes(b"not a store")
    before = snapshot(tmp_path)
    with pytest.raises(InvalidRequestError, match="is not a directory"):
        store.load(str(path))
    with pytest.raises(InvalidRequestError, match="is not a directory"), store.transaction(str(path)):
        pass
    assert snapshot(tmp_path) == before


def test_a_foreign_directory_is_refused(tmp_path, snapshot):
    (tmp_path / "notes.txt").write_text("mine")
    (tmp_path / "entries").mkdir()
    before = snapshot(tmp_path)
    for attempt in (lambda: store.load(str(tmp_path)), lambda: store.transaction(str(tmp_path)).__enter__()):
        with pytest.raises(InvalidRequestError) as caught:
            attempt()
        assert "holds other files (notes.txt) but no store index" in str(caught.value)
    assert snapshot(tmp_path) == before


# --------------------------------------------------------------------------- damage


def _first(document) -> dict:
    return document["entries"][0]


def bad_json(path):
    (path / "index.json").write_bytes(b'{"format": "passwordsecure.server/store", ')
    return "index.json is not valid JSON"


def not_utf8(path):
    (path / "index.json").write_bytes(b"\xff\xfe{}")
    return "index.json is not valid JSON"


def wrong_format(path):
    document = index_document(path)
    document["format"] = "somebody.else/store"
    put_index(path, document)
    return "index.json is not an index of this collection's store format"


def not_a_dict(path):
    put_index(path, [1, 2])
    return "index.json is not an index"


def no_entry_list(path):
    document = index_document(path)
    document["entries"] = {"a": 1}
    put_index(path, document)
    return "index.json has no list of entries"


def missing_field(path):
    document = index_document(path)
    del _first(document)["file_sha256"]
    del _first(document)["thumbprint"]
    put_index(path, document)
    return "entry 0 of index.json lacks the field(s) file_sha256, thumbprint"


def unknown_kind(path):
    document = index_document(path)
    _first(document)["kind"] = "tls"
    put_index(path, document)
    return "entry 0 of index.json has the unknown kind 'tls'"


def bad_identity(path):
    document = index_document(path)
    _first(document)["identity"] = "../../etc"
    put_index(path, document)
    return "entry 0 of index.json has an invalid identity"


def identity_not_normal(path):
    document = index_document(path)
    entry = next(e for e in document["entries"] if e["kind"] == "master_key")
    entry["identity"] = "Corp.Example.com"
    put_index(path, document)
    return "has an identity not in normal form"


def entry_file_missing(path):
    target = entry_path(path, MUELLER)
    target.unlink()
    return "the file %s of the database certificate 'Müller' is missing" % target.relative_to(path)


def entry_file_modified(path):
    target = entry_path(path, SALES)
    target.write_bytes(target.read_bytes().replace(b"MII", b"MIJ", 1))
    return "the file %s of the database certificate 'sales' does not hold what the index records" % (
        target.relative_to(path))


def entry_file_swapped(path):
    sales, mueller = entry_path(path, SALES), entry_path(path, MUELLER)
    a, b = sales.read_bytes(), mueller.read_bytes()
    sales.write_bytes(b)
    mueller.write_bytes(a)
    return "does not hold what the index records"


def duplicate_ref(path):
    document = index_document(path)
    twin = dict(_first(document), file="entries/%s.pem" % ("0" * 64))
    document["entries"].append(twin)
    put_index(path, document)
    return "index.json lists the database certificate 'Müller' twice"


def duplicate_file(path):
    document = index_document(path)
    document["entries"][1]["file"] = document["entries"][0]["file"]
    put_index(path, document)
    return "names the file %s for two entries" % document["entries"][0]["file"]


@pytest.mark.parametrize("escape", ["../outside.pem", "entries/../index.json", "/etc/passwd", "entries/x.pem",
                                    "index.json", "entries/%s.pem/../../index.json" % ("a" * 64)])
def test_an_entry_file_outside_entries_is_damage(copy, snapshot, escape):
    document = index_document(copy)
    _first(document)["file"] = escape
    put_index(copy, document)
    before = snapshot(copy)
    with pytest.raises(StoreDamagedError) as caught:
        store.load(str(copy))
    assert "names the file %r, outside the store's entries" % escape in str(caught.value)
    assert snapshot(copy) == before


DAMAGE = [bad_json, not_utf8, wrong_format, not_a_dict, no_entry_list, missing_field, unknown_kind, bad_identity,
          identity_not_normal, entry_file_missing, entry_file_modified, entry_file_swapped, duplicate_ref,
          duplicate_file]


@pytest.mark.parametrize("damage", DAMAGE, ids=[d.__name__ for d in DAMAGE])
def test_damage_is_reported_and_nothing_is_touched(copy, pool, snapshot, damage):
    expected = damage(copy)
    # Leftovers a writer would collect: a damaged store must not be cleaned up either.
    (copy / ".tmp-leftover").write_bytes(b"half")
    (copy / "entries" / ("f" * 64 + ".pem")).write_bytes(b"orphan")
    before = snapshot(copy)
    attempts = [
        lambda: store.load(str(copy)),
        lambda: store.transaction(str(copy)).__enter__(),
    ]
    for attempt in attempts:
        with pytest.raises(StoreDamagedError) as caught:
            attempt()
        message = str(caught.value)
        assert expected in message
        assert str(copy) in message
        assert "Nothing was changed" in message and "backup" in message
    assert snapshot(copy) == before


def test_an_unknown_format_version_is_refused_as_too_new(copy, snapshot):
    document = index_document(copy)
    document["version"] = 2
    put_index(copy, document)
    before = snapshot(copy)
    with pytest.raises(StoreError, match="format version 2") as caught:
        store.load(str(copy))
    assert not isinstance(caught.value, StoreDamagedError)
    assert snapshot(copy) == before


def test_load_without_file_verification_reads_the_index_only(copy):
    entry_path(copy, SALES).unlink()
    assert set(store.load(str(copy), verify_files=False).records) == {SALES, MUELLER, CORP}


# --------------------------------------------------------------------------- garbage


class Killed(BaseException):
    """Stands for the process dying at that instant."""


def kill_before_the_index(monkeypatch):
    """Make the next commit die after its journal and entry files, before its new index."""
    real = store._atomic_write

    def atomic_write(directory, name, data, owner):
        if name == store.INDEX_NAME:
            raise Killed()
        return real(directory, name, data, owner)

    monkeypatch.setattr(store, "_atomic_write", atomic_write)


def entry_name(item) -> str:
    return "%s.pem" % hashlib.sha256(item.certificate_pem + item.private_key_pem).hexdigest()


def test_a_killed_write_is_invisible_and_the_next_writer_removes_its_leftovers(copy, pool, snapshot, monkeypatch):
    indexed = {p.name: p.read_bytes() for p in (copy / "entries").iterdir()}
    kill_before_the_index(monkeypatch)
    with pytest.raises(Killed), store.transaction(str(copy)) as writer:
        writer.add(SERVER, pool[SERVER].facts, pool[SERVER].certificate_pem, pool[SERVER].private_key_pem)
        writer.remove(CORP)
        writer.commit()
    monkeypatch.undo()
    orphan = copy / "entries" / entry_name(pool[SERVER])
    assert orphan.exists() and (copy / "journal.json").exists()
    # A SIGKILL also leaves temp files behind, in both folders.
    (copy / ".tmp-abc123").write_bytes(b"half an index")
    (copy / "entries" / ".tmp-def456").write_bytes(b"half an entry")
    before = snapshot(copy)

    index = store.load(str(copy))  # a reader sees the old index, and touches nothing
    assert set(index.records) == {SALES, MUELLER, CORP}
    assert snapshot(copy) == before

    with store.transaction(str(copy)):
        pass  # the next writer, whatever it then does
    assert not orphan.exists()
    assert not (copy / "journal.json").exists()
    assert not (copy / ".tmp-abc123").exists() and not (copy / "entries" / ".tmp-def456").exists()
    # CORP's file was to be dropped, but the index still names it: it stays, unchanged, like every indexed file.
    assert {p.name: p.read_bytes() for p in (copy / "entries").iterdir()} == indexed
    assert set(store.load(str(copy)).records) == {SALES, MUELLER, CORP}


def test_a_killed_first_write_leaves_a_store_that_reads_empty_and_is_cleaned(tmp_path, pool, monkeypatch):
    path = tmp_path / "store"
    kill_before_the_index(monkeypatch)
    with pytest.raises(Killed), store.transaction(str(path)) as writer:
        writer.add(SALES, pool[SALES].facts, pool[SALES].certificate_pem, pool[SALES].private_key_pem)
        writer.commit()
    monkeypatch.undo()
    assert (path / "entries" / entry_name(pool[SALES])).exists()
    index = store.load(str(path))
    assert (index.exists, index.records) == (False, {})
    assert write(path, [pool[MUELLER]]).keys() == {MUELLER}
    assert sorted(p.name for p in (path / "entries").iterdir()) == [entry_name(pool[MUELLER])]


def test_a_journal_removes_only_entry_files_no_index_names(copy, pool):
    dropped = copy / "entries" / entry_name(pool[SERVER])
    dropped.write_bytes(pool[SERVER].certificate_pem + pool[SERVER].private_key_pem)
    outside = copy / "keep.pem"
    outside.write_bytes(b"not the store's")
    indexed = entry_path(copy, SALES)
    journal = {"format": store.FORMAT, "written": [indexed.name, "../keep.pem", "/etc/passwd", 7],
               "dropped": [dropped.name, "../index.json", "x.pem"]}
    (copy / "journal.json").write_text(json.dumps(journal))
    # The store's own files and names outside entries/ are never deleted, whatever a journal says.
    with store.transaction(str(copy)):
        pass
    assert not dropped.exists()
    assert indexed.exists() and outside.exists() and (copy / "index.json").exists()
    assert set(store.load(str(copy)).records) == {SALES, MUELLER, CORP}


def test_an_entry_file_no_index_or_journal_names_is_never_deleted(copy, pool):
    # Say an older index.json was restored by hand: the newer entries' files must survive every write.
    unlisted = copy / "entries" / entry_name(pool[SERVER])
    content = pool[SERVER].certificate_pem + pool[SERVER].private_key_pem
    unlisted.write_bytes(content)
    assert set(store.load(str(copy)).records) == {SALES, MUELLER, CORP}  # readers ignore it
    with store.transaction(str(copy)) as writer:
        writer.remove(CORP)
        writer.commit()
    assert unlisted.read_bytes() == content
    assert set(store.load(str(copy)).records) == {SALES, MUELLER}


def test_a_store_that_lost_its_index_is_damaged_not_empty(copy, snapshot):
    (copy / "index.json").unlink()
    before = snapshot(copy)
    for attempt in (lambda: store.load(str(copy)), lambda: store.transaction(str(copy)).__enter__()):
        with pytest.raises(StoreDamagedError) as caught:
            attempt()
        assert "index.json is missing while entries/ holds 3 file(s)" in str(caught.value)
    assert snapshot(copy) == before


def test_an_unreadable_journal_stops_the_writer_before_it_deletes_anything(copy, snapshot):
    (copy / "journal.json").write_bytes(b"{half")
    (copy / ".tmp-leftover").write_bytes(b"x")
    before = snapshot(copy)
    assert set(store.load(str(copy)).records) == {SALES, MUELLER, CORP}
    with pytest.raises(StoreDamagedError, match="journal.json is unreadable"):
        store.transaction(str(copy)).__enter__()
    assert snapshot(copy) == before


def test_a_writer_that_changes_nothing_leaves_every_byte(copy, snapshot):
    before = snapshot(copy)
    with store.transaction(str(copy)):
        pass
    assert snapshot(copy) == before
    store.load(str(copy))


# --------------------------------------------------------------------------- the store password


def split_entry(content: bytes) -> tuple[bytes, bytes]:
    marker = b"-----END CERTIFICATE-----\n"
    cert, _marker, key = content.partition(marker)
    return cert + marker, key


def test_a_new_store_takes_the_password_and_the_stretched_value_opens_its_keys(tmp_path):
    path = tmp_path / "store"
    passphrase, protection = store.key_passphrase(store.load(str(path)), PASSWORD, writes_keys=True)
    assert passphrase and protection
    assert protection["iterations"] == store.KDF_ITERATIONS >= 600_000
    assert len(base64.b64decode(protection["salt"])) == 16
    assert PASSWORD not in json.dumps(protection) and passphrase.decode() not in json.dumps(protection)
    item = generate(SALES, key_size=2048, key_passphrase=passphrase)
    write(path, [item], protection=protection)

    index = store.load(str(path))
    assert index.key_protection == protection
    again, same = store.key_passphrase(index, PASSWORD, writes_keys=True)
    assert (again, same) == (passphrase, protection)
    cert_pem, key_pem = split_entry(store.read_entry(index, SALES))
    assert key_pem.startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----")
    key = serialization.load_pem_private_key(key_pem, password=again)
    assert key.public_key().public_numbers() == x509.load_pem_x509_certificate(cert_pem).public_key().public_numbers()
    with pytest.raises(TypeError):
        serialization.load_pem_private_key(key_pem, password=None)
    with pytest.raises(ValueError):
        serialization.load_pem_private_key(key_pem, password=PASSWORD.encode())
    raw = b"".join(p.read_bytes() for p in path.rglob("*") if p.is_file())
    assert PASSWORD.encode() not in raw and passphrase not in raw


@pytest.fixture
def encrypted(tmp_path):
    path = tmp_path / "encrypted"
    write(path, [ENCRYPTED_SALES], protection=NEW_PROTECTION)
    return path


def test_a_wrong_password_is_refused(encrypted):
    with pytest.raises(StorePasswordError) as caught:
        store.key_passphrase(store.load(str(encrypted)), PASSWORD + "x", writes_keys=False)
    assert "is not the password of" in str(caught.value)
    assert PASSWORD not in str(caught.value)


def test_an_encrypted_store_needs_the_password_to_write_keys(encrypted):
    index = store.load(str(encrypted))
    with pytest.raises(StorePasswordError, match="give store_password"):
        store.key_passphrase(index, None, writes_keys=True)
    # Reading (or removing) needs no password.
    assert store.key_passphrase(index, None, writes_keys=False) == (None, index.key_protection)


def test_a_password_for_an_unencrypted_store_with_entries_is_refused(copy):
    with pytest.raises(StorePasswordError) as caught:
        store.key_passphrase(store.load(str(copy)), PASSWORD, writes_keys=True)
    assert "keeps its private keys unencrypted" in str(caught.value)
    assert PASSWORD not in str(caught.value)


def test_an_existing_empty_store_still_takes_a_password(copy):
    with store.transaction(str(copy)) as writer:
        for ref in list(writer.index.records):
            writer.remove(ref)
        writer.commit()
    index = store.load(str(copy))
    assert index.exists and not index.records
    passphrase, protection = store.key_passphrase(index, PASSWORD, writes_keys=True)
    assert passphrase and protection


def test_no_password_for_an_unencrypted_store(copy):
    assert store.key_passphrase(store.load(str(copy)), None, writes_keys=True) == (None, None)


def test_an_unreadable_key_protection_record_is_damage(encrypted, tmp_path, snapshot):
    path = tmp_path / "store"
    shutil.copytree(encrypted, path)
    document = index_document(path)
    document["key_protection"]["salt"] = "not base64!"
    put_index(path, document)
    before = snapshot(path)
    with pytest.raises(StoreDamagedError, match="key_protection record of index.json is unreadable"):
        store.key_passphrase(store.load(str(path)), PASSWORD, writes_keys=False)
    del document["key_protection"]["verifier"]
    put_index(path, document)
    with pytest.raises(StoreDamagedError, match="key_protection record of index.json is incomplete"):
        store.load(str(path))
    assert snapshot(path).keys() == before.keys()


# --------------------------------------------------------------------------- superseded entries (import's replace)

NEW_SALES = generate(SALES, key_size=2048)


def replace_sales(path) -> None:
    with store.transaction(str(path)) as writer:
        writer.replace(SALES, NEW_SALES.facts, NEW_SALES.certificate_pem, NEW_SALES.private_key_pem,
                       when="2026-11-26T21:00:00Z")
        writer.commit()


def test_replace_keeps_the_old_entry_with_its_key_as_superseded(copy, pool):
    old_file = entry_path(copy, SALES)
    old_bytes = old_file.read_bytes()
    replace_sales(copy)
    index = store.load(str(copy))
    assert index.records[SALES]["thumbprint"] == NEW_SALES.facts["thumbprint"]
    (old,) = index.superseded
    assert old["thumbprint"] == pool[SALES].facts["thumbprint"]
    assert old["superseded_by"] == NEW_SALES.facts["thumbprint"]
    assert old["superseded_at"] == "2026-11-26T21:00:00Z"
    # The old key is still there, byte for byte, and still opens.
    assert old_file.read_bytes() == old_bytes
    assert b"PRIVATE KEY" in old_bytes
    assert stat.S_IMODE(old_file.stat().st_mode) == 0o600


def test_the_next_writer_never_collects_a_superseded_entry(copy, pool):
    replace_sales(copy)
    old_file = copy / store.load(str(copy)).superseded[0]["file"]
    with store.transaction(str(copy)) as writer:
        writer.remove(CORP)
        writer.commit()
    assert old_file.exists()
    assert len(store.load(str(copy)).superseded) == 1


def test_a_damaged_superseded_entry_is_damage(copy, snapshot):
    replace_sales(copy)
    old_file = copy / store.load(str(copy)).superseded[0]["file"]
    old_file.write_bytes(old_file.read_bytes()[:-10])
    before = snapshot(copy)
    with pytest.raises(StoreDamagedError, match=r"does not hold what the index records"):
        store.load(str(copy))
    with pytest.raises(StoreDamagedError), store.transaction(str(copy)):
        pass
    assert snapshot(copy) == before


def test_a_superseded_record_sharing_a_file_with_an_entry_is_damage(copy, snapshot):
    replace_sales(copy)
    document = index_document(copy)
    document["superseded"][0]["file"] = document["entries"][0]["file"]
    put_index(copy, document)
    before = snapshot(copy)
    with pytest.raises(StoreDamagedError, match="for two entries"):
        store.load(str(copy))
    assert snapshot(copy) == before


def test_the_passphrase_is_checked_again_under_the_lock(tmp_path, copy):
    new = store.Index(str(tmp_path / "new"), False, {}, None)
    # A store still new keeps the protection planned for it before the lock.
    assert store.key_passphrase_under_lock(new, PASSWORD, NEW_PASSPHRASE, NEW_PROTECTION, writes_keys=True) == (
        NEW_PASSPHRASE, NEW_PROTECTION)
    # Another writer gave the store its own protection meanwhile: derived again from the locked index.
    other = store.Index(str(tmp_path / "other"), True, {}, dict(NEW_PROTECTION, salt="AAAAAAAAAAAAAAAAAAAAAA=="))
    with pytest.raises(StorePasswordError):  # another salt: the same password no longer verifies
        store.key_passphrase_under_lock(other, PASSWORD, NEW_PASSPHRASE, NEW_PROTECTION, writes_keys=True)
    # Another writer wrote unencrypted keys meanwhile: a password no longer fits.
    with pytest.raises(StorePasswordError, match="unencrypted"):
        store.key_passphrase_under_lock(store.load(str(copy)), PASSWORD, NEW_PASSPHRASE, NEW_PROTECTION,
                                        writes_keys=True)
    # The store became encrypted while this writer planned without a password.
    protected = store.Index(str(tmp_path / "p"), True, {}, NEW_PROTECTION)
    with pytest.raises(StorePasswordError, match="give store_password"):
        store.key_passphrase_under_lock(protected, None, None, None, writes_keys=True)
