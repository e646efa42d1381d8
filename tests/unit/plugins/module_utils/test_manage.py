"""ensure() and info(): what the modules do, without Ansible."""

from __future__ import annotations

import datetime
import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from ansible_collections.passwordsecure.server.plugins.module_utils import manage, store
from ansible_collections.passwordsecure.server.plugins.module_utils.errors import (
    InvalidRequestError,
    StoreError,
    StorePasswordError,
)
from ansible_collections.passwordsecure.server.plugins.module_utils.generate import generate
from ansible_collections.passwordsecure.server.plugins.module_utils.kinds import CertRef

A = CertRef("database", "a")
B = CertRef("database", "b")
C = CertRef("database", "c")
CORP = CertRef("master_key", "corp.example.com")
SERVER = CertRef("server_encryption", None)
PASSWORD = "manage-Pässword"
UTC = datetime.timezone.utc


def ensure(path, *refs, **options):
    options.setdefault("key_size", 2048)
    return manage.ensure(str(path), refs=list(refs), **options)


def by_ref(items) -> dict:
    return {CertRef(i["kind"], i["identity"]): i for i in items}


def refs_in(listing: str) -> list[tuple[str, str]]:
    return [tuple(line.split(" ", 2)[:2]) for line in listing.splitlines()]


# Made once, when the file is imported: ansible-test runs every test in a fork of the process that
# collected them, so a fixture of wider scope would be made again for each test.
POOL = {ref: generate(ref, key_size=2048) for ref in (A, B, CORP, SERVER)}
PASSPHRASE, PROTECTION = store.key_passphrase(store.Index("", False, {}, None), PASSWORD, writes_keys=True)
ENCRYPTED_A = generate(A, key_size=2048, key_passphrase=PASSPHRASE)


def write(path, items, protection=None) -> None:
    with store.transaction(str(path)) as writer:
        writer.set_key_protection(protection)
        for item in items:
            writer.add(item.ref, item.facts, item.certificate_pem, item.private_key_pem)
        writer.commit()


@pytest.fixture
def filled(tmp_path):
    """A store holding database a and b, master_key corp.example.com and server_encryption."""
    path = tmp_path / "store"
    write(path, POOL.values())
    return path


@pytest.fixture
def forbid_key_work(monkeypatch):
    """Call it to make parsing a private key, generating one and taking the write lock fail loudly."""

    def refuse(*args, **kwargs):
        raise AssertionError("a rerun must not parse or make a key, nor lock the store for writing")

    def forbid() -> None:
        monkeypatch.setattr(serialization, "load_pem_private_key", refuse)
        monkeypatch.setattr(serialization, "load_der_private_key", refuse)
        monkeypatch.setattr(rsa, "generate_private_key", refuse)
        monkeypatch.setattr(store, "transaction", refuse)

    return forbid


# --------------------------------------------------------------------------- present


def test_present_creates_and_reports_what_the_store_holds(tmp_path):
    path = tmp_path / "store"
    result = ensure(path, A, SERVER)
    assert result["changed"] is True
    assert result["removed"] == [] and result["attributes_fixed"] == []
    assert result["store_path"] == str(path)
    assert [(c["kind"], c["identity"], c["state"], c["changed"]) for c in result["certificates"]] == [
        ("database", "a", "present", True), ("server_encryption", None, "present", True)]
    listed = manage.info(str(path))
    for asked, held in zip(result["certificates"], listed["certificates"]):
        assert {k: v for k, v in asked.items() if k not in ("state", "changed")} == {
            k: v for k, v in held.items() if k not in ("expired", "has_private_key")}
        assert held["thumbprint"] and held["not_after"] == "9999-12-31T23:59:59Z"
        assert held["key_size"] == 2048
    for item in result["certificates"]:
        assert "file" not in item and "file_sha256" not in item


@pytest.mark.parametrize("password", [None, PASSWORD], ids=["plain", "encrypted"])
def test_a_rerun_changes_nothing_and_touches_no_key(tmp_path, forbid_key_work, snapshot, password):
    path = tmp_path / "store"
    first = ensure(path, A, CORP, SERVER, store_password=password)
    before = snapshot(path)
    forbid_key_work()

    again = ensure(path, A, CORP, SERVER, store_password=password, want_diff=True)
    assert again["changed"] is False
    assert [dict(c, changed=True) for c in again["certificates"]] == first["certificates"]
    assert again["diff"]["before"] == again["diff"]["after"]
    listed = manage.info(str(path))
    assert [c["thumbprint"] for c in listed["certificates"]] == [c["thumbprint"] for c in first["certificates"]]
    assert listed["keys_encrypted"] is (password is not None)
    assert snapshot(path) == before


def test_the_patches_of_the_rerun_test_do_bite(tmp_path, forbid_key_work):
    # Proof that the rerun test above can fail: work that needs a key trips the patches.
    forbid_key_work()
    with pytest.raises(AssertionError, match="must not parse or make a key"):
        ensure(tmp_path / "store", A)


def test_a_single_key_size_is_used_and_checked(tmp_path):
    with pytest.raises(InvalidRequestError, match="key_size 1024 is not supported"):
        ensure(tmp_path / "store", A, key_size=1024)
    assert not (tmp_path / "store").exists()


# --------------------------------------------------------------------------- check mode


def test_check_mode_on_a_new_store_creates_nothing(tmp_path):
    path = tmp_path / "new" / "store"
    result = ensure(path, A, CORP, check_mode=True, want_diff=True)
    assert result["changed"] is True
    assert [c["changed"] for c in result["certificates"]] == [True, True]
    assert all(c["thumbprint"] is None for c in result["certificates"])
    assert result["diff"]["before"] == ""
    assert refs_in(result["diff"]["after"]) == [("database", "a"), ("master_key", "corp.example.com")]
    assert "(generated when applied)" in result["diff"]["after"]
    assert not (tmp_path / "new").exists()


def test_check_mode_reports_exactly_what_the_real_run_does(filled, snapshot):
    asked = {"refs": [A, C, SERVER], "exclusive": True, "want_diff": True}
    before = snapshot(filled)
    checked = manage.ensure(str(filled), key_size=2048, check_mode=True, **asked)
    assert snapshot(filled) == before
    real = manage.ensure(str(filled), key_size=2048, **asked)

    assert checked["changed"] is real["changed"] is True
    assert checked["removed"] == real["removed"]
    assert [(r["kind"], r["identity"]) for r in real["removed"]] == [("database", "b")]
    assert checked["attributes_fixed"] == real["attributes_fixed"] == []
    assert [(c["kind"], c["identity"], c["state"], c["changed"]) for c in checked["certificates"]] == [
        (c["kind"], c["identity"], c["state"], c["changed"]) for c in real["certificates"]]
    assert [c["changed"] for c in real["certificates"]] == [False, True, False]
    for planned, made in zip(checked["certificates"], real["certificates"]):
        if made["changed"]:
            # What check mode can know of a certificate still to be made, it gets right.
            assert planned["thumbprint"] is None and made["thumbprint"]
            for field in ("friendly_name", "subject", "not_after", "key_type", "key_size", "origin"):
                assert planned[field] == made[field], field
        else:
            assert planned == made
    assert checked["diff"]["before"] == real["diff"]["before"]
    assert refs_in(checked["diff"]["after"]) == refs_in(real["diff"]["after"])
    held = manage.info(str(filled))
    assert [(c["kind"], c["identity"]) for c in held["certificates"]] == [
        ("database", "a"), ("database", "c"), ("master_key", "corp.example.com"), ("server_encryption", None)]


def test_check_mode_of_absent_reports_and_keeps(filled, snapshot):
    before = snapshot(filled)
    checked = ensure(filled, B, C, state="absent", check_mode=True)
    assert snapshot(filled) == before
    real = ensure(filled, B, C, state="absent")
    assert checked == real
    assert [c["changed"] for c in real["certificates"]] == [True, False]


# --------------------------------------------------------------------------- absent and exclusive


def test_absent_removes_entry_and_file(filled):
    record = store.load(str(filled)).records[B]
    result = ensure(filled, B, state="absent")
    assert result["changed"] is True
    gone = result["certificates"][0]
    assert (gone["state"], gone["changed"], gone["thumbprint"]) == ("absent", True, record["thumbprint"])
    assert not (filled / record["file"]).exists()
    assert B not in store.load(str(filled)).records
    again = ensure(filled, B, state="absent")
    assert again["changed"] is False
    assert again["certificates"][0]["thumbprint"] is None


def test_exclusive_removes_unlisted_entries_of_the_listed_kinds_only(filled):
    result = ensure(filled, A, exclusive=True)
    assert [(r["kind"], r["identity"], r["state"], r["changed"]) for r in result["removed"]] == [
        ("database", "b", "absent", True)]
    assert set(store.load(str(filled)).records) == {A, CORP, SERVER}


def test_exclusive_kinds_removes_all_of_a_kind(filled):
    result = ensure(filled, exclusive=True, exclusive_kinds=["master_key"])
    assert [(r["kind"], r["identity"]) for r in result["removed"]] == [("master_key", "corp.example.com")]
    assert set(store.load(str(filled)).records) == {A, B, SERVER}


def test_exclusive_kinds_replaces_the_kinds_listed(filled):
    # database a is asked for, but only master_key is exclusive: database b stays.
    result = ensure(filled, A, exclusive=True, exclusive_kinds=["master_key", "server_encryption"])
    assert {(r["kind"], r["identity"]) for r in result["removed"]} == {
        ("master_key", "corp.example.com"), ("server_encryption", None)}
    assert set(store.load(str(filled)).records) == {A, B}


@pytest.mark.parametrize(
    ("options", "words"),
    [
        ({"exclusive": True, "state": "absent"}, "exclusive applies to state=present only"),
        ({"exclusive_kinds": ["database"]}, "exclusive_kinds was given without exclusive=true"),
        ({"exclusive": True, "exclusive_kinds": ["tls"]}, "exclusive_kinds[0] 'tls' is not a certificate kind"),
        ({"state": "gone"}, "state 'gone' is not present or absent"),
    ],
)
def test_contradictory_options_are_refused_before_anything_happens(filled, snapshot, options, words):
    before = snapshot(filled)
    with pytest.raises(InvalidRequestError) as caught:
        ensure(filled, A, **options)
    assert words in str(caught.value)
    assert snapshot(filled) == before


def test_requested_refs():
    assert manage.requested_refs(certificates=None, kind=None, identity=None) == []
    assert manage.requested_refs(certificates=None, kind="master_key", identity="Corp.Example.COM") == [
        CertRef("master_key", "corp.example.com")]
    assert manage.requested_refs(certificates=[{"kind": "server_encryption"}], kind=None, identity=None) == [SERVER]
    with pytest.raises(InvalidRequestError, match="both given"):
        manage.requested_refs(certificates=[], kind="database", identity="a")
    with pytest.raises(InvalidRequestError, match="without kind"):
        manage.requested_refs(certificates=None, kind=None, identity="a")
    # Messages name the options the user wrote: kind and identity, or certificates[n].
    with pytest.raises(InvalidRequestError, match=r"^identity 'a/b' for a database certificate holds a path"):
        manage.requested_refs(certificates=None, kind="database", identity="a/b")
    with pytest.raises(InvalidRequestError, match=r"^identity is missing for a database certificate"):
        manage.requested_refs(certificates=None, kind="database", identity=None)
    with pytest.raises(InvalidRequestError, match=r"^kind 'tls' is not a certificate kind"):
        manage.requested_refs(certificates=None, kind="tls", identity=None)
    assert manage.requested_refs(certificates=None, kind="ssl", identity=None) == [CertRef("ssl", None)]
    with pytest.raises(InvalidRequestError, match=r"^certificates\[1\]\.identity 'a/b' for a database"):
        manage.requested_refs(certificates=[{"kind": "server_encryption"}, {"kind": "database", "identity": "a/b"}],
                              kind=None, identity=None)


# --------------------------------------------------------------------------- diff, expiry, attributes


def test_diff_lists_the_store_without_key_material(filled):
    held = store.load(str(filled)).records
    result = ensure(filled, A, C, exclusive=True, want_diff=True)
    diff = result["diff"]
    for side in ("before", "after"):
        assert "PRIVATE KEY" not in diff[side] and "BEGIN" not in diff[side]
    assert refs_in(diff["before"]) == [("database", "a"), ("database", "b"), ("master_key", "corp.example.com"),
                                       ("server_encryption", "-")]
    assert refs_in(diff["after"]) == [("database", "a"), ("database", "c"), ("master_key", "corp.example.com"),
                                      ("server_encryption", "-")]
    assert "thumbprint=%s" % held[B]["thumbprint"] in diff["before"]
    assert "thumbprint=%s" % result["certificates"][1]["thumbprint"] in diff["after"]
    assert diff["before_header"] == "%s (before)" % filled
    assert "diff" not in ensure(filled, A)


def test_an_expired_certificate_is_kept_and_reported_expired(tmp_path):
    path = tmp_path / "store"
    old = generate(A, key_size=2048, not_before=datetime.datetime(2000, 1, 1, tzinfo=UTC),
                   not_after=datetime.datetime(2001, 1, 1, tzinfo=UTC))
    with store.transaction(str(path)) as writer:
        writer.add(A, old.facts, old.certificate_pem, old.private_key_pem)
        writer.commit()
    result = ensure(path, A, B)
    assert [c["changed"] for c in result["certificates"]] == [False, True]
    assert result["certificates"][0]["thumbprint"] == old.facts["thumbprint"]
    assert result["certificates"][0]["not_after"] == "2001-01-01T00:00:00Z"
    listed = by_ref(manage.info(str(path))["certificates"])
    assert listed[A]["expired"] is True and listed[A]["thumbprint"] == old.facts["thumbprint"]
    assert listed[B]["expired"] is False
    moment = datetime.datetime(2000, 6, 1, tzinfo=UTC)
    assert by_ref(manage.info(str(path), now=moment)["certificates"])[A]["expired"] is False


def test_modes_drifted_are_reported_in_check_mode_and_fixed(filled):
    index_file = filled / "index.json"
    index_file.chmod(0o644)
    filled.chmod(0o755)
    checked = ensure(filled, A, check_mode=True)
    assert checked["changed"] is True
    assert sorted(checked["attributes_fixed"]) == sorted([str(filled), str(index_file)])
    assert stat.S_IMODE(index_file.stat().st_mode) == 0o644
    real = ensure(filled, A)
    assert real["attributes_fixed"] == checked["attributes_fixed"]
    assert stat.S_IMODE(index_file.stat().st_mode) == 0o600 and stat.S_IMODE(filled.stat().st_mode) == 0o700
    assert ensure(filled, A)["changed"] is False


# --------------------------------------------------------------------------- info


def test_info_filters_and_counts(filled, forbid_key_work):
    forbid_key_work()  # info parses no key
    everything = manage.info(str(filled))
    assert everything["changed"] is False
    assert everything["store_exists"] is True and everything["keys_encrypted"] is False
    counts = {"database": 2, "master_key": 1, "discovery_service": 0, "password_reset": 0, "server_encryption": 1,
              "ssl": 0}
    assert everything["counts"] == counts
    assert [(c["kind"], c["identity"]) for c in everything["certificates"]] == [
        ("database", "a"), ("database", "b"), ("master_key", "corp.example.com"), ("server_encryption", None)]
    for item in everything["certificates"]:
        assert item["has_private_key"] is True and item["expired"] is False
        assert "file" not in item and "file_sha256" not in item
        assert item["names"] is None  # only the SSL connection certificate lists names

    databases = manage.info(str(filled), kind="database")
    assert [c["identity"] for c in databases["certificates"]] == ["a", "b"]
    assert databases["counts"] == counts  # counts are of the whole store
    one = manage.info(str(filled), kind="master_key", identity="CORP.Example.com")
    assert [c["identity"] for c in one["certificates"]] == ["corp.example.com"]
    assert manage.info(str(filled), kind="database", identity="zzz")["certificates"] == []
    assert manage.info(str(filled), kind="password_reset")["certificates"] == []
    with pytest.raises(InvalidRequestError, match="without kind"):
        manage.info(str(filled), identity="a")
    with pytest.raises(InvalidRequestError, match="is not a certificate kind"):
        manage.info(str(filled), kind="tls")
    assert manage.info(str(filled), kind="ssl")["certificates"] == []
    with pytest.raises(InvalidRequestError, match="path separator"):
        manage.info(str(filled), kind="database", identity="a/b")


def test_info_of_a_missing_store(tmp_path):
    result = manage.info(str(tmp_path / "none"))
    assert result["store_exists"] is False and result["certificates"] == []
    assert set(result["counts"].values()) == {0}
    assert not (tmp_path / "none").exists()


# --------------------------------------------------------------------------- the store password


def test_a_password_store_encrypts_every_key_with_the_stretched_password(tmp_path):
    path = tmp_path / "store"
    ensure(path, A, store_password=PASSWORD)
    ensure(path, A, B, store_password=PASSWORD)  # a second write keeps the store's protection
    index = store.load(str(path))
    passphrase, _protection = store.key_passphrase(index, PASSWORD, writes_keys=False)
    for ref in (A, B):
        content = store.read_entry(index, ref)
        assert b"-----BEGIN ENCRYPTED PRIVATE KEY-----" in content
        cert = x509.load_pem_x509_certificate(content)
        key = serialization.load_pem_private_key(content[content.index(b"-----BEGIN ENCRYPTED"):], passphrase)
        assert key.public_key().public_numbers() == cert.public_key().public_numbers()
    raw = b"".join(p.read_bytes() for p in path.rglob("*") if p.is_file())
    assert PASSWORD.encode() not in raw


@pytest.fixture
def encrypted(tmp_path):
    path = tmp_path / "encrypted"
    write(path, [ENCRYPTED_A], protection=PROTECTION)
    return path


@pytest.mark.parametrize(
    ("password", "check_mode", "words"),
    [
        ("wrong", False, "is not the password of"),
        ("wrong", True, "is not the password of"),
        (None, False, "give store_password"),
        (PASSWORD.upper(), False, "is not the password of"),
    ],
)
def test_a_wrong_or_missing_password_leaves_the_store_as_it_was(encrypted, snapshot, password, check_mode, words):
    before = snapshot(encrypted)
    with pytest.raises(StorePasswordError) as caught:
        ensure(encrypted, A, B, store_password=password, check_mode=check_mode)
    assert words in str(caught.value)
    assert PASSWORD not in str(caught.value)
    assert snapshot(encrypted) == before


def test_removing_from_an_encrypted_store_needs_no_password(encrypted, tmp_path):
    path = tmp_path / "store"
    shutil.copytree(encrypted, path)
    assert ensure(path, A, state="absent")["changed"] is True
    assert store.load(str(path)).records == {}


def test_a_password_for_a_plain_store_is_refused(filled, snapshot):
    before = snapshot(filled)
    with pytest.raises(StorePasswordError, match="keeps its private keys unencrypted"):
        ensure(filled, A, store_password=PASSWORD)
    assert snapshot(filled) == before


# --------------------------------------------------------------------------- a place the user may not write

NOBODY_SCRIPT = r"""
import json, sys
from ansible_collections.passwordsecure.server.plugins.module_utils import manage
from ansible_collections.passwordsecure.server.plugins.module_utils.errors import PasswordSecureError
from ansible_collections.passwordsecure.server.plugins.module_utils.kinds import CertRef
out = []
for path in sys.argv[1:]:
    try:
        manage.ensure(path, refs=[CertRef("database", "sales")], key_size=2048)
        out.append({"error": None})
    except PasswordSecureError as exc:
        out.append({"error": type(exc).__name__, "store_error": isinstance(exc, manage.store.StoreError),
                    "msg": str(exc)})
print(json.dumps(out))
"""


def as_nobody(argv: list, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"] + argv,
                          capture_output=True, cwd="/", check=False, **kwargs)


def check_refusal(message: str) -> None:
    assert "become" in message or "store_path" in message, message
    assert "Traceback" not in message


def test_a_store_the_user_may_not_write_is_refused_and_nothing_written(tmp_path, snapshot):
    if os.geteuid() != 0:
        locked = tmp_path / "locked"
        locked.mkdir()
        locked.chmod(0o555)
        try:
            before = snapshot(locked)
            for path in (locked / "store", locked / "deeper" / "store"):
                with pytest.raises(StoreError) as caught:
                    ensure(path, A)
                check_refusal(str(caught.value))
            assert snapshot(locked) == before
        finally:
            locked.chmod(0o755)
        return

    if shutil.which("setpriv") is None:
        pytest.skip("running as root and setpriv (util-linux) is missing: cannot run as an unprivileged user")
    base = tempfile.mkdtemp(prefix="psr-nobody-")
    try:
        os.chmod(base, 0o755)
        # The collection's module_utils where user nobody may read them.
        here = os.path.dirname(os.path.abspath(manage.__file__))
        copy = os.path.join(base, "lib", "ansible_collections", "passwordsecure", "server", "plugins", "module_utils")
        shutil.copytree(here, copy, ignore=shutil.ignore_patterns("__pycache__"))
        for folder, _dirs, files in os.walk(os.path.join(base, "lib")):
            os.chmod(folder, 0o755)
            for name in files:
                os.chmod(os.path.join(folder, name), 0o644)
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PYTHONPATH": os.path.join(base, "lib"),
               "PYTHONDONTWRITEBYTECODE": "1", "HOME": "/nonexistent", "LANG": "C.UTF-8"}
        python = next((candidate for candidate in (sys.executable, "/usr/bin/python3")
                       if os.path.exists(candidate) and as_nobody(
                           [candidate, "-c", "import cryptography"], env=env).returncode == 0), None)
        if python is None:
            pytest.skip("no Python with cryptography that user nobody may run")

        area = os.path.join(base, "area")
        os.makedirs(os.path.join(area, "locked"))
        os.chmod(area, 0o755)
        os.chmod(os.path.join(area, "locked"), 0o755)  # root's, not writable by nobody
        root_store = os.path.join(area, "rootstore")
        with store.transaction(root_store) as writer:  # a store root made (0700)
            writer.commit()
        before = snapshot(area)
        paths = [os.path.join(area, "locked", "store"), os.path.join(area, "locked", "deeper", "store"), root_store]
        run = as_nobody([python, "-c", NOBODY_SCRIPT] + paths, env=env)
        assert run.returncode == 0, run.stderr.decode(errors="replace")
        results = json.loads(run.stdout)
        for path, result in zip(paths, results):
            assert result["error"] is not None, path
            assert result["store_error"], result
            check_refusal(result["msg"])
            assert path in result["msg"]
        assert snapshot(area) == before
    finally:
        shutil.rmtree(base)


def test_info_lists_superseded_entries_apart(tmp_path):
    path = str(tmp_path / "store")
    ref = CertRef("database", "sales")
    first, second = generate(ref, key_size=2048), generate(ref, key_size=2048)
    with store.transaction(path) as writer:
        writer.add(ref, first.facts, first.certificate_pem, first.private_key_pem)
        writer.commit()
    with store.transaction(path) as writer:
        writer.replace(ref, second.facts, second.certificate_pem, second.private_key_pem, when="2026-11-26T22:00:00Z")
        writer.commit()
    listed = manage.info(path)
    assert [c["thumbprint"] for c in listed["certificates"]] == [second.facts["thumbprint"]]
    assert listed["counts"]["database"] == 1
    (old,) = listed["superseded"]
    assert old["thumbprint"] == first.facts["thumbprint"]
    assert old["superseded_by"] == second.facts["thumbprint"]
    assert old["superseded_at"] == "2026-11-26T22:00:00Z"
    assert manage.info(path, kind="master_key")["superseded"] == []
