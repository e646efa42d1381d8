"""Export and import (transfer.py) against real stores and real PKCS#12 files.

Stores are written with the store's own writer; every PKCS#12 file is made at test time
(``pfx_corpus``). Files an export writes are read back with ``read_pfx`` and checked key against
certificate; the bad-input corpus of pfx_corpus.py runs through ``import_`` with the target
store compared byte for byte before and after.
"""

from __future__ import annotations

import base64
import datetime
import json
import os
from pathlib import Path

import pytest
from asn1crypto import pkcs12 as asn1_pkcs12
from cryptography.hazmat.primitives import serialization

from ansible_collections.passwordsecure.server.plugins.module_utils import crypto, pkcs12, store, transfer
from ansible_collections.passwordsecure.server.plugins.module_utils.errors import (
    CertificateRefusedError,
    InvalidRequestError,
    PasswordSecureError,
    StorePasswordError,
)
from ansible_collections.passwordsecure.server.plugins.module_utils.files import read_if_exists
from ansible_collections.passwordsecure.server.plugins.module_utils.generate import generate
from ansible_collections.passwordsecure.server.plugins.module_utils.kinds import CertRef
from ansible_collections.passwordsecure.server.plugins.module_utils.recognise import check_key_matches
from ansible_collections.passwordsecure.server.tests.unit.plugins.module_utils import pfx_corpus as C
from ansible_collections.passwordsecure.server.tests.unit.plugins.module_utils.pfx_corpus import (
    CORP,
    CORPUS,
    DISCOVERY,
    EU,
    FINANCE,
    HR,
    MADE,
    MODULE_CASES,
    OTHER,
    PASSWORD,
    RESET,
    SALES,
    SERVER,
    SERVER_REFS,
    STORE_PASSWORD,
    TRAVELLERS,
)

UTC = datetime.timezone.utc
EXPIRED = generate(CertRef("password_reset", "old"), key_size=2048,
                   not_before=datetime.datetime(2020, 1, 1, tzinfo=UTC),
                   not_after=datetime.datetime(2021, 1, 1, tzinfo=UTC))
SOURCE = "/srv/import/server.pfx"
# The store's order: kinds as kinds.py lists them, identities sorted.
STORE_ORDER = [FINANCE, HR, SALES, CORP, EU, DISCOVERY, RESET, SERVER]


# ---------------------------------------------------------------------------------------------- helpers


def server_store(tmp_path: Path, refs=SERVER_REFS, *, name: str = "store", store_password: str | None = None,
                 made=None) -> str:
    path = str(tmp_path / name)
    C.make_store(path, [(made or MADE)[ref] for ref in refs], store_password)
    return path


def export(store_path: str, **options):
    """transfer.export, with its writes applied to disk as the module applies them."""
    options.setdefault("password", PASSWORD)
    result, writes = transfer.export(store_path, read_existing=lambda path: read_if_exists(path, 1 << 26),
                                     **options)
    for path, data in writes:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        Path(path).write_bytes(data)
    return result, writes


def held(data: bytes, password: str = PASSWORD) -> dict[str, pkcs12.PfxEntry]:
    """thumbprint -> entry of a PKCS#12 file, each key checked against its certificate."""
    contents = pkcs12.read_pfx(data, password)
    assert contents.keys_without_certificate == 0
    found = {}
    for item in contents.entries:
        assert item.private_key_der is not None
        check_key_matches(item.certificate_der, item.private_key_der)
        found[crypto.fingerprints(item.certificate_der)[0]] = item
    assert len(found) == len(contents.entries)
    return found


def thumbprints(*refs: CertRef, made=None) -> set[str]:
    return {C.thumbprint((made or MADE)[ref]) for ref in refs}


def store_thumbprints(store_path: str) -> dict[CertRef, str]:
    return {ref: record["thumbprint"] for ref, record in store.load(store_path).records.items()}


def store_key_der(store_path: str, ref: CertRef, store_password: str | None = None) -> bytes:
    index = store.load(store_path)
    certificate, key, encrypted, _chain = store.split_entry(store.read_entry(index, ref), where=ref.describe())
    if encrypted:
        passphrase, _protection = store.key_passphrase(index, store_password, writes_keys=False)
        key = pkcs12.decrypt_pkcs8(key, passphrase)
    check_key_matches(certificate, key)
    return key


def import_(store_path: str, data: bytes, **options):
    """transfer.import_ of one source, named SOURCE unless ``source`` says otherwise."""
    options.setdefault("password", PASSWORD)
    source = options.pop("source", SOURCE)
    return transfer.import_(store_path, [(source, data)], **options)


def actions(result: dict) -> dict[tuple, str]:
    return {(c["kind"], c["identity"]): c["action"] for c in result["certificates"]}


# ---------------------------------------------------------------------------------------------- 1. select


def test_select_everything_in_the_stores_order(tmp_path):
    index = store.load(server_store(tmp_path))
    assert transfer.select(index) == STORE_ORDER


def test_select_by_kind_and_by_kind_and_identity(tmp_path):
    index = store.load(server_store(tmp_path))
    assert transfer.select(index, kind="database") == [FINANCE, HR, SALES]
    assert transfer.select(index, kind="master_key") == [CORP, EU]
    assert transfer.select(index, kind="master_key", identity="CORP.Example.com") == [CORP]  # normalised
    assert transfer.select(index, kind="database", identity="hr") == [HR]
    assert transfer.select(index, kind="server_encryption") == [SERVER]


def test_select_by_database_takes_what_travels_with_it_and_no_other_database(tmp_path):
    index = store.load(server_store(tmp_path))
    assert transfer.select(index, databases=["sales"]) == [SALES] + TRAVELLERS
    assert transfer.select(index, databases=["sales", "finance"]) == [FINANCE, SALES] + TRAVELLERS
    alone = store.load(server_store(tmp_path, [SALES, HR], name="databases-only"))
    assert transfer.select(alone, databases=["hr"]) == [HR]


def test_an_unknown_database_is_an_error_naming_what_the_store_holds(tmp_path):
    index = store.load(server_store(tmp_path))
    with pytest.raises(InvalidRequestError) as caught:
        transfer.select(index, databases=["sales", "marketing"])
    message = str(caught.value)
    assert "holds no certificate for the database(s) 'marketing'" in message
    assert "it holds 'finance', 'hr', 'sales'" in message
    assert index.path in message and "Check the names" in message


def test_a_store_without_databases_says_it_holds_none(tmp_path):
    index = store.load(server_store(tmp_path, [CORP, SERVER]))
    with pytest.raises(InvalidRequestError, match="it holds none"):
        transfer.select(index, databases=["sales"])


@pytest.mark.parametrize(
    "selection",
    [{"kind": "discovery_service"}, {"kind": "database", "identity": "marketing"}, {"kind": "server_encryption"}],
)
def test_an_empty_selection_is_an_error(tmp_path, selection):
    index = store.load(server_store(tmp_path, [SALES, HR, CORP]))
    with pytest.raises(InvalidRequestError) as caught:
        transfer.select(index, **selection)
    assert "the selection matches no certificate in the store at %s" % index.path in str(caught.value)
    assert "certificate_info" in str(caught.value)


def test_an_empty_or_missing_store_selects_nothing(tmp_path):
    with pytest.raises(InvalidRequestError, match="matches no certificate"):
        transfer.select(store.load(str(tmp_path / "missing")))


@pytest.mark.parametrize(
    ("selection", "words"),
    [
        ({"databases": ["sales"], "kind": "database"}, "database and kind/identity were both given"),
        ({"identity": "sales"}, "identity 'sales' was given without kind"),
        ({"kind": "tls"}, "kind 'tls' is not a certificate kind"),
        ({"kind": "database", "identity": "../x"}, "holds a path separator"),
        ({"databases": ["a/b"]}, "holds a path separator"),
    ],
)
def test_contradictory_or_invalid_selections_are_refused(tmp_path, selection, words):
    index = store.load(server_store(tmp_path, [SALES]))
    with pytest.raises(InvalidRequestError) as caught:
        transfer.select(index, **selection)
    assert words in str(caught.value)


# ---------------------------------------------------------------------------------------------- 2. export


def test_export_all_into_one_file(tmp_path, snapshot):
    store_path = server_store(tmp_path)
    before = snapshot(store_path)
    target = str(tmp_path / "out" / "all.pfx")
    result, writes = export(store_path, path=target)
    assert [path for path, _data in writes] == [target]
    assert result["changed"] is True
    assert [(c["kind"], c["identity"]) for c in result["certificates"]] == list(STORE_ORDER)
    assert all(c["changed"] for c in result["certificates"])
    assert result["files"] == [{"path": target, "changed": True,
                                "thumbprints": [C.thumbprint(MADE[ref]) for ref in STORE_ORDER]}]
    found = held(Path(target).read_bytes())
    assert set(found) == thumbprints(*SERVER_REFS)
    for ref in SERVER_REFS:
        item = found[C.thumbprint(MADE[ref])]
        assert item.private_key_der == C.key_der(MADE[ref])
        assert item.friendly_name == MADE[ref].facts["friendly_name"]
    assert "KEY" not in json.dumps(result)
    assert snapshot(store_path) == before  # an export never writes the store


def test_export_to_a_directory_writes_one_file_per_certificate(tmp_path):
    store_path = server_store(tmp_path)
    folder = tmp_path / "each"
    result, writes = export(store_path, directory=str(folder))
    names = {
        SALES: "database_sales.pfx", HR: "database_hr.pfx", FINANCE: "database_finance.pfx",
        CORP: "master_key_corp.example.com.pfx", EU: "master_key_eu.example.com.pfx",
        DISCOVERY: "discovery_service_main.pfx", RESET: "password_reset_self-service.pfx",
        SERVER: "server_encryption.pfx",
    }
    assert sorted(os.listdir(folder)) == sorted(names.values())
    assert len(writes) == len(result["files"]) == 8
    for ref, file_name in names.items():
        assert set(held((folder / file_name).read_bytes())) == thumbprints(ref)
    assert {f["path"]: f["thumbprints"] for f in result["files"]} == {
        str(folder / file_name): [C.thumbprint(MADE[ref])] for ref, file_name in names.items()}


def test_server_encryption_path_splits_the_server_encryption_certificate_out(tmp_path):
    store_path = server_store(tmp_path)
    main, apart = tmp_path / "sales.pfx", tmp_path / "keep-off-the-server" / "server.pfx"
    result, writes = export(store_path, databases=["sales"], path=str(main), server_encryption_path=str(apart))
    assert len(writes) == 2
    assert set(held(main.read_bytes())) == thumbprints(SALES, CORP, EU, DISCOVERY, RESET)
    assert set(held(apart.read_bytes())) == thumbprints(SERVER)
    assert [f["path"] for f in result["files"]] == [str(main), str(apart)]

    folder = tmp_path / "each"
    export(store_path, directory=str(folder), server_encryption_path=str(tmp_path / "apart.pfx"))
    assert "server_encryption.pfx" not in os.listdir(folder)
    assert len(os.listdir(folder)) == 7
    assert set(held((tmp_path / "apart.pfx").read_bytes())) == thumbprints(SERVER)


def test_server_encryption_path_without_that_certificate_selected_writes_no_such_file(tmp_path):
    store_path = server_store(tmp_path)
    apart = tmp_path / "server.pfx"
    result, writes = export(store_path, kind="database", path=str(tmp_path / "db.pfx"),
                            server_encryption_path=str(apart))
    assert [path for path, _data in writes] == [str(tmp_path / "db.pfx")]
    assert not apart.exists()
    assert [f["path"] for f in result["files"]] == [str(tmp_path / "db.pfx")]


def test_return_content_gives_a_pkcs12_that_read_pfx_opens(tmp_path):
    store_path = server_store(tmp_path)
    result, writes = export(store_path, kind="master_key", return_content=True)
    assert writes == [] and result["files"] == []
    assert set(held(base64.b64decode(result["content"], validate=True))) == thumbprints(CORP, EU)
    assert [(c["kind"], c["identity"]) for c in result["certificates"]] == [CORP, EU]
    assert not list(tmp_path.glob("*.pfx"))


@pytest.mark.parametrize(
    ("options", "words"),
    [
        ({}, "give exactly one of path, directory or return_content=true"),
        ({"path": "/tmp/a.pfx", "directory": "/tmp/b"}, "give exactly one of"),
        ({"path": "/tmp/a.pfx", "return_content": True}, "give exactly one of"),
        ({"return_content": True, "server_encryption_path": "/tmp/s.pfx"},
         "server_encryption_path does not go with return_content"),
        ({"return_content": True, "profile": "legacy"}, "encryption 'legacy' is not one of modern, compatibility"),
    ],
)
def test_export_options_that_do_not_go_together_are_refused(tmp_path, options, words):
    store_path = server_store(tmp_path, [SALES])
    with pytest.raises(InvalidRequestError) as caught:
        transfer.export(store_path, password=PASSWORD, **options)
    assert words in str(caught.value)


def test_a_second_export_with_the_same_password_writes_nothing(tmp_path):
    store_path = server_store(tmp_path)
    target = tmp_path / "all.pfx"
    folder = tmp_path / "each"
    export(store_path, path=str(target), server_encryption_path=str(tmp_path / "server.pfx"))
    export(store_path, directory=str(folder))
    first = {path: path.read_bytes() for path in [target, tmp_path / "server.pfx", *folder.iterdir()]}

    again, writes = export(store_path, path=str(target), server_encryption_path=str(tmp_path / "server.pfx"))
    assert writes == [] and again["changed"] is False
    assert [f["changed"] for f in again["files"]] == [False, False]
    assert not any(c["changed"] for c in again["certificates"])
    assert again["diff"] == {"before": "", "after": ""}
    again, writes = export(store_path, directory=str(folder))
    assert writes == [] and again["changed"] is False and len(again["files"]) == 8
    assert {path: path.read_bytes() for path in first} == first


def test_a_different_password_rewrites_the_file(tmp_path):
    store_path = server_store(tmp_path, [SALES, SERVER])
    target = tmp_path / "all.pfx"
    export(store_path, path=str(target))
    result, writes = export(store_path, path=str(target), password="another password, also long")
    assert [path for path, _data in writes] == [str(target)] and result["changed"] is True
    assert result["diff"]["before"] == "%s: present, differs\n" % target
    assert set(held(target.read_bytes(), "another password, also long")) == thumbprints(SALES, SERVER)
    with pytest.raises(pkcs12.Pkcs12PasswordError):
        pkcs12.read_pfx(target.read_bytes(), PASSWORD)


def test_a_change_of_encryption_rewrites_the_file_once(tmp_path):
    store_path = server_store(tmp_path, [SALES, SERVER])
    target = tmp_path / "all.pfx"
    export(store_path, path=str(target))
    assert pkcs12.matches_profile(target.read_bytes(), "modern")
    assert not pkcs12.matches_profile(target.read_bytes(), "compatibility")
    result, writes = export(store_path, path=str(target), profile="compatibility")
    assert [path for path, _data in writes] == [str(target)] and result["changed"] is True
    assert pkcs12.matches_profile(target.read_bytes(), "compatibility")
    assert set(held(target.read_bytes())) == thumbprints(SALES, SERVER)
    again, writes = export(store_path, path=str(target), profile="compatibility")
    assert writes == [] and again["changed"] is False


def test_a_destination_with_one_certificate_too_many_or_too_few_is_rewritten(tmp_path):
    store_path = server_store(tmp_path)
    target = tmp_path / "out.pfx"
    export(store_path, path=str(target))
    too_many, writes = export(store_path, kind="database", path=str(target))
    assert len(writes) == 1 and too_many["changed"] is True
    assert set(held(target.read_bytes())) == thumbprints(SALES, HR, FINANCE)

    target.write_bytes(C.pfx([MADE[SALES], MADE[HR]]))  # one too few
    too_few, writes = export(store_path, kind="database", path=str(target))
    assert len(writes) == 1 and too_few["changed"] is True
    assert set(held(target.read_bytes())) == thumbprints(SALES, HR, FINANCE)

    unchanged, writes = export(store_path, kind="database", path=str(target))
    assert writes == [] and unchanged["changed"] is False


@pytest.mark.parametrize(
    "content",
    [
        pkcs12.write_pfx([pkcs12.PfxEntry(C.certificate_der(MADE[SALES]), C.key_der(MADE[HR]), "wrong key")],
                         PASSWORD),
        pkcs12.write_pfx([C.entry(MADE[SALES], with_key=False)], PASSWORD),
        C.CORPUS["a damaged MAC"].data,
        b"not PKCS#12",
        b"",
    ],
    ids=["the right certificate with another key", "the certificate without its key", "a damaged file",
         "garbage", "an empty file"],
)
def test_a_destination_that_is_not_what_the_export_writes_is_rewritten(tmp_path, content):
    store_path = server_store(tmp_path, [SALES])
    target = tmp_path / "sales.pfx"
    target.write_bytes(content)
    result, writes = export(store_path, kind="database", path=str(target))
    assert len(writes) == 1 and result["changed"] is True
    assert set(held(target.read_bytes())) == thumbprints(SALES)


def test_an_encrypted_store_exports_with_its_password_only(tmp_path):
    store_path = server_store(tmp_path, [SALES, CORP], store_password=STORE_PASSWORD)
    with pytest.raises(InvalidRequestError) as caught:
        transfer.export(store_path, password=PASSWORD, return_content=True)
    assert str(caught.value) == ("the store at %s encrypts its private keys; give store_password to export them"
                                 % store_path)
    with pytest.raises(StorePasswordError, match="is not the password of"):
        transfer.export(store_path, password=PASSWORD, return_content=True, store_password=STORE_PASSWORD + "!")
    result, _writes = transfer.export(store_path, password=PASSWORD, return_content=True,
                                      store_password=STORE_PASSWORD)
    found = held(base64.b64decode(result["content"]))
    for ref in (SALES, CORP):
        assert found[C.thumbprint(MADE[ref])].private_key_der == C.key_der(MADE[ref])  # decrypted for the file
    assert STORE_PASSWORD not in json.dumps(result)


@pytest.mark.parametrize("password", ["", "short", "eleven char", None, 123456789012])
def test_a_password_shorter_than_12_characters_is_refused(tmp_path, password):
    store_path = server_store(tmp_path, [SALES])
    with pytest.raises(InvalidRequestError) as caught:
        transfer.export(store_path, password=password, path=str(tmp_path / "x.pfx"))
    assert "password is shorter than 12 characters" in str(caught.value)
    assert not (tmp_path / "x.pfx").exists()


def test_a_password_of_12_characters_is_enough(tmp_path):
    store_path = server_store(tmp_path, [SALES])
    result, _writes = transfer.export(store_path, password="twelve chars", return_content=True)
    assert set(held(base64.b64decode(result["content"]), "twelve chars")) == thumbprints(SALES)


def _algorithms(data: bytes) -> dict:
    outer = asn1_pkcs12.Pfx.load(data)
    found = {"mac": outer["mac_data"]["mac"]["digest_algorithm"]["algorithm"].native, "parts": []}
    for info in asn1_pkcs12.AuthenticatedSafe.load(outer["auth_safe"]["content"].native):
        if info["content_type"].native == "encrypted_data":
            algorithms = [info["content"]["encrypted_content_info"]["content_encryption_algorithm"]]
        else:
            algorithms = [bag["bag_value"]["encryption_algorithm"]
                          for bag in asn1_pkcs12.SafeContents.load(info["content"].native)]
        for algorithm in algorithms:
            name = algorithm["algorithm"].native
            if name == "pbes2":
                params = algorithm["parameters"]
                name = "pbes2/%s/%s" % (params["key_derivation_func"]["parameters"]["prf"]["algorithm"].native,
                                        params["encryption_scheme"]["algorithm"].native)
            found["parts"].append(name)
    return found


@pytest.mark.parametrize(
    ("profile", "mac", "cipher"),
    [("modern", "sha256", "pbes2/sha256/aes256_cbc"), ("compatibility", "sha1", "pkcs12_sha1_tripledes_3key")],
)
def test_both_encryption_profiles(tmp_path, profile, mac, cipher):
    store_path = server_store(tmp_path, [SALES, CORP, SERVER])
    target = tmp_path / ("%s.pfx" % profile)
    result, _writes = export(store_path, path=str(target), profile=profile)
    assert result["encryption"] == profile
    data = target.read_bytes()
    assert _algorithms(data) == {"mac": mac, "parts": [cipher] * 4}  # the certificates' part and three keys
    assert set(held(data)) == thumbprints(SALES, CORP, SERVER)
    again, writes = export(store_path, path=str(target), profile=profile)
    assert writes == [] and again["changed"] is False


def test_an_export_round_trips_through_an_import(tmp_path):
    source = server_store(tmp_path)
    result, _writes = export(source, databases=["hr"], return_content=True, profile="compatibility")
    target = str(tmp_path / "new-server")
    imported = import_(target, base64.b64decode(result["content"]))
    assert store_thumbprints(target) == {ref: C.thumbprint(MADE[ref]) for ref in [HR] + TRAVELLERS}
    assert imported["changed"] is True
    for ref in [HR] + TRAVELLERS:
        assert store_key_der(target, ref) == store_key_der(source, ref)


# ---------------------------------------------------------------------------------------------- 3. import


def test_an_import_adds_every_certificate_and_a_rerun_changes_nothing(tmp_path, snapshot):
    target = str(tmp_path / "new" / "store")
    data = C.pfx([MADE[ref] for ref in SERVER_REFS])
    result = import_(target, data)
    assert result["changed"] is True and result["not_imported"] == [] and result["store_path"] == target
    assert [(c["kind"], c["identity"], c["action"], c["changed"]) for c in result["certificates"]] == [
        (ref.kind, ref.identity, "added", True) for ref in SERVER_REFS]
    assert [c["thumbprint"] for c in result["certificates"]] == [C.thumbprint(MADE[ref]) for ref in SERVER_REFS]
    assert store_thumbprints(target) == {ref: C.thumbprint(MADE[ref]) for ref in SERVER_REFS}
    for ref in SERVER_REFS:
        assert store_key_der(target, ref) == C.key_der(MADE[ref])
    assert len(result["diff"]["after"].splitlines()) == 8 and result["diff"]["before"] == ""
    assert "KEY" not in json.dumps(result)

    before = snapshot(target)
    rerun = import_(target, data)
    assert rerun["changed"] is False
    assert set(actions(rerun).values()) == {"unchanged"}
    assert not any(c["changed"] for c in rerun["certificates"])
    assert rerun["diff"] == {"before": "", "after": ""}
    assert snapshot(target) == before


def test_a_conflict_fails_by_default_naming_both_thumbprints_of_every_conflict(tmp_path, snapshot):
    target = server_store(tmp_path, [SALES, CORP], made=OTHER)
    C.make_store(target + "-unused", [])  # a second store nearby is not touched either
    before = snapshot(tmp_path)
    data = C.pfx([MADE[SALES], MADE[FINANCE], MADE[CORP]])
    with pytest.raises(InvalidRequestError) as caught:
        import_(target, data)
    message = str(caught.value)
    assert message.startswith(SOURCE + ": 2 certificate(s) differ from those the store at %s holds" % target)
    assert "the database certificate 'sales': the store holds %s, the file %s" % (
        C.thumbprint(OTHER[SALES]), C.thumbprint(MADE[SALES])) in message
    assert "the master key certificate 'corp.example.com': the store holds %s, the file %s" % (
        C.thumbprint(OTHER[CORP]), C.thumbprint(MADE[CORP])) in message
    assert "Nothing was imported" in message and "on_conflict: replace" in message and "on_conflict: skip" in message
    assert snapshot(tmp_path) == before  # finance, which had no conflict, did not land either
    with pytest.raises(InvalidRequestError, match="2 certificate"):
        import_(target, data, on_conflict="fail")
    assert snapshot(tmp_path) == before


def test_replace_puts_the_files_certificate_in_place_and_keeps_the_old_one_with_its_key(tmp_path):
    target = server_store(tmp_path, [SALES, CORP], made=OTHER)
    result = import_(target, C.pfx([MADE[SALES], MADE[FINANCE], MADE[CORP]]), on_conflict="replace")
    assert actions(result) == {("database", "sales"): "replaced", ("database", "finance"): "added",
                               ("master_key", "corp.example.com"): "replaced"}
    assert result["changed"] is True and all(c["changed"] for c in result["certificates"])
    assert store_thumbprints(target) == {ref: C.thumbprint(MADE[ref]) for ref in (SALES, FINANCE, CORP)}
    index = store.load(target)  # verifies every file, the superseded ones included
    old = {(r["kind"], r["identity"]): r for r in index.superseded}
    assert set(old) == {("database", "sales"), ("master_key", "corp.example.com")}
    for ref in (SALES, CORP):
        record = old[(ref.kind, ref.identity)]
        assert record["thumbprint"] == C.thumbprint(OTHER[ref])
        assert record["superseded_by"] == C.thumbprint(MADE[ref])
        content = Path(target, record["file"]).read_bytes()
        certificate, key, _encrypted, _chain = store.split_entry(content, where="old")
        assert certificate == C.certificate_der(OTHER[ref]) and key == C.key_der(OTHER[ref])
        assert store_key_der(target, ref) == C.key_der(MADE[ref])
    assert result["diff"]["before"].count("\n") == 2 and result["diff"]["after"].count("\n") == 3


def test_skip_keeps_the_stores_certificate_and_imports_the_rest(tmp_path, snapshot):
    target = server_store(tmp_path, [SALES, CORP], made=OTHER)
    result = import_(target, C.pfx([MADE[SALES], MADE[FINANCE], MADE[CORP]]), on_conflict="skip")
    assert actions(result) == {("database", "sales"): "skipped", ("database", "finance"): "added",
                               ("master_key", "corp.example.com"): "skipped"}
    assert [c["changed"] for c in result["certificates"]] == [False, True, False]
    assert store_thumbprints(target) == {SALES: C.thumbprint(OTHER[SALES]), CORP: C.thumbprint(OTHER[CORP]),
                                         FINANCE: C.thumbprint(MADE[FINANCE])}
    assert store.load(target).superseded == []

    before = snapshot(target)
    only_conflicts = import_(target, C.pfx([MADE[SALES]]), on_conflict="skip")
    assert only_conflicts["changed"] is False and actions(only_conflicts) == {("database", "sales"): "skipped"}
    assert snapshot(target) == before


def test_a_bad_certificate_among_good_ones_imports_nothing(tmp_path, snapshot):
    target = server_store(tmp_path, [HR])
    before = snapshot(tmp_path)
    bad = pkcs12.write_pfx([C.entry(MADE[SALES]), C.entry(MADE[CORP]),
                            pkcs12.PfxEntry(C.certificate_der(MADE[FINANCE]), C.key_der(MADE[SALES]), "mixed"),
                            C.entry(MADE[SERVER])], PASSWORD)
    for on_conflict in transfer.ON_CONFLICT:
        with pytest.raises(CertificateRefusedError, match="belongs to another certificate"):
            import_(target, bad, on_conflict=on_conflict)
        with pytest.raises(CertificateRefusedError, match="belongs to another certificate"):
            import_(str(tmp_path / "new"), bad, on_conflict=on_conflict)
    assert snapshot(tmp_path) == before  # the new store was not even created


@pytest.mark.parametrize("on_conflict", ["replace", "skip"])
def test_check_mode_writes_nothing_and_reports_what_a_real_run_then_does(tmp_path, snapshot, on_conflict):
    target = server_store(tmp_path, [SALES], made=OTHER)
    C.make_store(target, [MADE[HR]])
    data = C.pfx([MADE[SALES], MADE[HR], MADE[FINANCE], EXPIRED])
    before = snapshot(tmp_path)
    checked = import_(target, data, on_conflict=on_conflict, check_mode=True)
    missing = import_(str(tmp_path / "missing"), data, check_mode=True)
    assert snapshot(tmp_path) == before
    assert set(actions(missing).values()) == {"added"}

    real = import_(target, data, on_conflict=on_conflict)
    assert real == checked
    assert actions(real) == {("database", "sales"): "replaced" if on_conflict == "replace" else "skipped",
                             ("database", "hr"): "unchanged", ("database", "finance"): "added",
                             ("password_reset", "old"): "added"}
    assert snapshot(tmp_path) != before
    rerun_check = import_(target, data, on_conflict=on_conflict, check_mode=True)
    assert rerun_check["changed"] is False


def test_an_expired_certificate_is_imported_and_reported(tmp_path):
    result = import_(str(tmp_path / "store"), C.pfx([EXPIRED, MADE[SALES]]))
    assert [(c["identity"], c["expired"], c["action"]) for c in result["certificates"]] == [
        ("old", True, "added"), ("sales", False, "added")]
    assert result["certificates"][0]["not_after"] == "2021-01-01T00:00:00Z"


def test_into_an_encrypted_store_the_key_is_stored_encrypted(tmp_path, snapshot):
    target = server_store(tmp_path, [HR], store_password=STORE_PASSWORD)
    data = C.pfx([MADE[SALES], MADE[HR]])
    before = snapshot(target)
    with pytest.raises(StorePasswordError, match="encrypts its private keys, and new keys are to be written; "
                                                 "give store_password"):
        import_(target, data)
    with pytest.raises(StorePasswordError, match="is not the password of"):
        import_(target, data, store_password=STORE_PASSWORD[:-1])
    assert snapshot(target) == before

    result = import_(target, data, store_password=STORE_PASSWORD)
    assert actions(result) == {("database", "sales"): "added", ("database", "hr"): "unchanged"}
    index = store.load(target)
    content = store.read_entry(index, SALES)
    assert b"-----BEGIN ENCRYPTED PRIVATE KEY-----" in content and b"-----BEGIN PRIVATE KEY-----" not in content
    assert STORE_PASSWORD.encode() not in content
    passphrase, _protection = store.key_passphrase(index, STORE_PASSWORD, writes_keys=False)
    key_pem = content[content.index(b"-----BEGIN ENCRYPTED PRIVATE KEY-----"):]
    key = serialization.load_pem_private_key(key_pem, password=passphrase)  # an independent reader
    with pytest.raises((TypeError, ValueError)):
        serialization.load_pem_private_key(key_pem, password=STORE_PASSWORD.encode())  # not the raw password
    assert key.private_bytes(C.DER, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()) == C.key_der(MADE[SALES])

    # A rerun needs no store password: nothing is written.
    assert import_(target, data)["changed"] is False


def test_a_new_store_takes_the_store_password_of_the_import(tmp_path):
    target = str(tmp_path / "store")
    import_(target, C.pfx([MADE[SALES]]), store_password=STORE_PASSWORD)
    assert store.load(target).key_protection is not None
    assert store_key_der(target, SALES, STORE_PASSWORD) == C.key_der(MADE[SALES])


def test_kind_and_identity_that_agree_with_a_single_certificate_file_are_accepted(tmp_path):
    target = str(tmp_path / "store")
    result = import_(target, C.pfx([MADE[CORP]]), kind="master_key", identity="Corp.Example.COM")
    assert actions(result) == {("master_key", "corp.example.com"): "added"}
    result = import_(target, C.pfx([MADE[SERVER]]), kind="server_encryption")
    assert actions(result) == {("server_encryption", None): "added"}
    result = import_(target, C.pfx([MADE[SALES]]), kind="database")
    assert actions(result) == {("database", "sales"): "added"}


@pytest.mark.parametrize(
    ("items", "given", "words"),
    [
        ([SALES], {"kind": "master_key"}, "is the database certificate 'sales' by its subject, but the task says "
                                          "kind 'master_key'"),
        ([SALES], {"kind": "database", "identity": "hr"}, "but the task gives identity 'hr'; give identity: "
                                                          "'sales'"),
        ([SALES], {"kind": "database", "identity": "Sales"}, "but the task gives identity 'Sales'"),
        ([SERVER], {"kind": "server_encryption", "identity": "main"}, "which has no identity, but the task gives "
                                                                      "identity 'main'"),
        ([SALES, CORP], {"kind": "database"}, "holds 2 certificates with keys; kind and identity may only be given "
                                              "for a file with one"),
        ([SALES, HR], {"kind": "database", "identity": "sales"}, "holds 2 certificates with keys"),
    ],
)
def test_kind_and_identity_that_disagree_or_go_with_a_multi_certificate_file_are_refused(
        tmp_path, snapshot, items, given, words):
    target = server_store(tmp_path, [FINANCE])
    before = snapshot(target)
    with pytest.raises(InvalidRequestError) as caught:
        import_(target, C.pfx([MADE[ref] for ref in items]), **given)
    assert str(caught.value).startswith(SOURCE)
    assert words in str(caught.value)
    assert snapshot(target) == before


def test_certificates_without_a_key_are_reported_not_imported(tmp_path):
    target = str(tmp_path / "store")
    data = pkcs12.write_pfx([C.entry(MADE[SALES]), C.entry(MADE[HR], with_key=False), C.entry(MADE[CORP])],
                            PASSWORD)
    result = import_(target, data)
    assert result["not_imported"] == [{"thumbprint": C.thumbprint(MADE[HR]), "reason": "no private key in the file"}]
    assert actions(result) == {("database", "sales"): "added", ("master_key", "corp.example.com"): "added"}
    assert set(store_thumbprints(target)) == {SALES, CORP}


def test_an_unknown_on_conflict_is_refused(tmp_path):
    with pytest.raises(InvalidRequestError, match="on_conflict 'merge' is not one of fail, replace, skip"):
        import_(str(tmp_path / "store"), C.GOOD, on_conflict="merge")
    assert not (tmp_path / "store").exists()


# ---------------------------------------------------------------------------------------------- 4. bad input


def test_the_corpus_is_large_enough():
    assert len(CORPUS) >= 25
    assert len(MODULE_CASES) >= 12 and set(MODULE_CASES) <= set(CORPUS)


@pytest.mark.parametrize("case", list(CORPUS), ids=list(CORPUS))
def test_bad_input_is_refused_naming_file_problem_and_fix_and_the_store_is_unchanged(tmp_path, snapshot, case):
    bad = CORPUS[case]
    target = server_store(tmp_path, [HR, EU, SERVER])
    before = snapshot(tmp_path)
    for store_path in (target, str(tmp_path / "new-store")):
        for check_mode in (False, True):
            with pytest.raises(PasswordSecureError) as caught:
                import_(store_path, bad.data, password=bad.password, on_conflict="replace", check_mode=check_mode)
            message = str(caught.value)
            assert message.startswith(SOURCE + ": "), message
            assert bad.problem in message, message
            assert bad.fix in message, message
            assert bad.password not in message and PASSWORD not in message
            assert "PRIVATE KEY" not in message and "\n" not in message
    assert snapshot(tmp_path) == before


def test_content_is_named_as_content(tmp_path):
    with pytest.raises(PasswordSecureError) as caught:
        transfer.import_(str(tmp_path / "store"), [("content", C.GOOD)], password=C.WRONG_PASSWORD)
    assert str(caught.value).startswith("content: wrong password or damaged file")


def test_a_file_over_the_size_limit_is_refused(tmp_path, snapshot, monkeypatch):
    target = server_store(tmp_path, [HR])
    before = snapshot(tmp_path)
    size = len(C.GOOD)
    monkeypatch.setattr(pkcs12, "MAX_PFX_SIZE", size - 1)
    with pytest.raises(pkcs12.Pkcs12FormatError) as caught:
        import_(target, C.GOOD)
    assert str(caught.value) == (
        "%s: is %d bytes, larger than the %d bytes (0 MiB) a PKCS#12 file may have here; give the right file, or "
        "split the export into several files" % (SOURCE, size, size - 1))
    assert snapshot(tmp_path) == before
    monkeypatch.setattr(pkcs12, "MAX_PFX_SIZE", size)  # the limit itself is allowed
    assert import_(target, C.GOOD)["changed"] is True
