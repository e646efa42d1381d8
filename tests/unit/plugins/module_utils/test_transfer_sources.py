"""An import of many PKCS#12 files in one task (transfer.import_ with several sources).

Every source is opened and checked before the store is read; all certificates of all files land in
one store commit, or none does. Stores are real (written with the store's own writer), files are
made at test time (``pfx_corpus``), and "unchanged" means the ``snapshot`` of every path under the
test's folder (bytes and mode) is equal before and after.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ansible_collections.passwordsecure.server.plugins.module_utils import pkcs12, store, transfer
from ansible_collections.passwordsecure.server.plugins.module_utils.errors import (
    CertificateRefusedError,
    InvalidRequestError,
    PasswordSecureError,
)
from ansible_collections.passwordsecure.server.tests.unit.plugins.module_utils import pfx_corpus as C
from ansible_collections.passwordsecure.server.tests.unit.plugins.module_utils.pfx_corpus import (
    CORP,
    CORPUS,
    FINANCE,
    HR,
    MADE,
    OTHER,
    PASSWORD,
    SALES,
    SERVER,
    SERVER_REFS,
)


def file_name(ref) -> str:
    return "/srv/transfer/all/" + transfer.file_name(ref)


def one_per_file(refs, made=None) -> list[tuple[str, bytes]]:
    """What certificate_export's directory mode writes: one file per certificate, in name order."""
    return sorted((file_name(ref), C.pfx([(made or MADE)[ref]])) for ref in refs)


def import_many(store_path: str, sources, **options) -> dict:
    options.setdefault("password", PASSWORD)
    options.setdefault("from_files", True)
    return transfer.import_(store_path, sources, **options)


def held(store_path: str) -> dict:
    return {ref: record["thumbprint"] for ref, record in store.load(store_path).records.items()}


def made_thumbprints(refs, made=None) -> dict:
    return {ref: C.thumbprint((made or MADE)[ref]) for ref in refs}


def actions(result: dict) -> dict:
    return {(c["kind"], c["identity"]): c["action"] for c in result["certificates"]}


@pytest.fixture
def commits(monkeypatch) -> list:
    """The store commits made during the test (the real commit runs; each call is recorded)."""
    calls = []
    real = store.Writer.commit

    def counting(self):
        calls.append(self.path)
        return real(self)

    monkeypatch.setattr(store.Writer, "commit", counting)
    return calls


# ---------------------------------------------------------------------------------------------- all files land


def test_one_file_per_certificate_lands_in_one_commit_and_a_rerun_changes_nothing(tmp_path, snapshot, commits):
    target = str(tmp_path / "store")
    sources = one_per_file(SERVER_REFS)
    result = import_many(target, sources)
    assert commits == [target]  # eight files, one commit
    assert result["changed"] is True and result["not_imported"] == []
    assert held(target) == made_thumbprints(SERVER_REFS)
    assert [(c["path"], c["thumbprint"], c["action"]) for c in result["certificates"]] == [
        (file_name(ref), C.thumbprint(MADE[ref]), "added") for ref in sorted(SERVER_REFS, key=file_name)]
    assert result["files"] == [{"path": name, "certificates": 1, "not_imported": 0} for name, _data in sources]
    assert len(result["diff"]["after"].splitlines()) == 8 and result["diff"]["before"] == ""
    assert "KEY" not in json.dumps(result)

    before = snapshot(target)
    rerun = import_many(target, sources)
    assert rerun["changed"] is False and set(actions(rerun).values()) == {"unchanged"}
    assert rerun["diff"] == {"before": "", "after": ""}
    assert commits == [target]
    assert snapshot(target) == before


def test_sources_are_read_one_by_one_from_a_generator(tmp_path):
    read = []

    def lazily():
        for name, data in one_per_file([SALES, HR, CORP]):
            read.append(name)
            yield name, data

    result = import_many(str(tmp_path / "store"), lazily())
    assert read == sorted(file_name(ref) for ref in (SALES, HR, CORP))
    assert [f["path"] for f in result["files"]] == read
    assert held(str(tmp_path / "store")) == made_thumbprints([SALES, HR, CORP])


def test_content_and_single_files_are_reported_as_before(tmp_path):
    content = transfer.import_(str(tmp_path / "a"), [("content", C.pfx([MADE[SALES]]))], password=PASSWORD)
    assert "files" not in content and "path" not in content["certificates"][0]
    single = import_many(str(tmp_path / "b"), [("/srv/sales.pfx", C.pfx([MADE[SALES]]))])
    assert single["certificates"][0]["path"] == "/srv/sales.pfx"
    assert single["files"] == [{"path": "/srv/sales.pfx", "certificates": 1, "not_imported": 0}]


def test_what_cannot_be_imported_names_its_file(tmp_path):
    without_key = pkcs12.write_pfx([C.entry(MADE[HR], with_key=False), C.entry(MADE[CORP])], PASSWORD)
    sources = [("/in/a.pfx", C.pfx([MADE[SALES]])), ("/in/b.pfx", without_key)]
    result = import_many(str(tmp_path / "store"), sources)
    assert result["not_imported"] == [{"thumbprint": C.thumbprint(MADE[HR]), "reason": "no private key in the file",
                                       "path": "/in/b.pfx"}]
    assert result["files"] == [{"path": "/in/a.pfx", "certificates": 1, "not_imported": 0},
                               {"path": "/in/b.pfx", "certificates": 1, "not_imported": 1}]
    assert set(held(str(tmp_path / "store"))) == {SALES, CORP}


# ---------------------------------------------------------------------------------------------- all or nothing


BAD_FILES = {
    "a wrong password": (C.pfx([MADE[FINANCE]], password="not the password at all"), "wrong password or damaged"),
    "a key that is not the certificate's": (
        pkcs12.write_pfx([pkcs12.PfxEntry(C.certificate_der(MADE[FINANCE]), C.key_der(MADE[HR]), "mixed")],
                         PASSWORD), "belongs to another certificate"),
    "a CA-issued certificate": (CORPUS["a CA-issued certificate with a Password Secure subject"].data,
                                "can't be replaced by your own"),
    "no key at all": (pkcs12.write_pfx([C.entry(MADE[FINANCE], with_key=False)], PASSWORD),
                      "holds no certificate with its private key"),
    "not PKCS#12": (b"this is no PKCS#12 file", "/in/b-bad.pfx: "),
}


@pytest.mark.parametrize("case", list(BAD_FILES), ids=list(BAD_FILES))
def test_one_bad_file_among_good_ones_imports_nothing_and_names_the_file(tmp_path, snapshot, commits, case):
    data, words = BAD_FILES[case]
    existing = str(tmp_path / "store")
    C.make_store(existing, [MADE[HR]], None)
    commits.clear()
    before = snapshot(tmp_path)
    good_before = ("/in/a-good.pfx", C.pfx([MADE[SALES], MADE[CORP]]))
    good_after = ("/in/c-good.pfx", C.pfx([MADE[SERVER]]))
    for store_path in (existing, str(tmp_path / "new-store")):
        for on_conflict in transfer.ON_CONFLICT:
            for check_mode in (False, True):
                with pytest.raises(PasswordSecureError) as caught:
                    import_many(store_path, [good_before, ("/in/b-bad.pfx", data), good_after],
                                on_conflict=on_conflict, check_mode=check_mode)
                message = str(caught.value)
                assert message.startswith("/in/b-bad.pfx: "), message
                assert words in message, message
                assert PASSWORD not in message and "PRIVATE KEY" not in message
    assert commits == []
    assert snapshot(tmp_path) == before  # byte for byte, modes too; the new store was not even created
    assert held(existing) == made_thumbprints([HR])


def test_a_bad_last_file_stops_the_import_of_every_file_before_it(tmp_path, snapshot):
    target = str(tmp_path / "store")
    C.make_store(target, [MADE[HR]], None)
    before = snapshot(tmp_path)
    sources = one_per_file([SALES, FINANCE, CORP, SERVER]) + [("/in/zz.pfx", CORPUS["a damaged MAC"].data)]
    with pytest.raises(PasswordSecureError, match="^/in/zz.pfx: "):
        import_many(target, sources)
    assert snapshot(tmp_path) == before


def test_an_error_while_reading_a_later_source_writes_nothing(tmp_path, snapshot):
    target = str(tmp_path / "store")
    C.make_store(target, [MADE[HR]], None)
    before = snapshot(tmp_path)

    def sources():
        yield "/in/a.pfx", C.pfx([MADE[SALES]])
        raise pkcs12.Pkcs12FormatError("/in/b.pfx: is too large")  # as the module's reader refuses a huge file

    with pytest.raises(pkcs12.Pkcs12FormatError, match="/in/b.pfx: is too large"):
        import_many(target, sources())
    assert snapshot(tmp_path) == before


# ---------------------------------------------------------------------------------------------- across files


def test_the_same_certificate_in_two_files_counts_once(tmp_path, commits):
    target = str(tmp_path / "store")
    sources = [("/in/a.pfx", C.pfx([MADE[SALES], MADE[CORP]])), ("/in/b.pfx", C.pfx([MADE[CORP], MADE[HR]])),
               ("/in/c.pfx", C.pfx([MADE[SALES]], profile="compatibility"))]
    result = import_many(target, sources)
    assert [(c["identity"], c["path"], c["action"]) for c in result["certificates"]] == [
        ("sales", "/in/a.pfx", "added"), ("corp.example.com", "/in/a.pfx", "added"), ("hr", "/in/b.pfx", "added")]
    assert [f["certificates"] for f in result["files"]] == [2, 2, 1]
    assert len(result["diff"]["after"].splitlines()) == 3
    assert held(target) == made_thumbprints([SALES, CORP, HR])
    assert len(commits) == 1
    assert import_many(target, sources)["changed"] is False


@pytest.mark.parametrize("on_conflict", transfer.ON_CONFLICT)
def test_two_different_certificates_for_one_identity_in_two_files_are_refused(tmp_path, snapshot, on_conflict):
    target = str(tmp_path / "store")
    C.make_store(target, [MADE[HR]], None)
    before = snapshot(tmp_path)
    sources = [("/in/old-server.pfx", C.pfx([MADE[SALES], MADE[CORP]])),
               ("/in/other-server.pfx", C.pfx([MADE[FINANCE], OTHER[SALES]]))]
    for check_mode in (False, True):
        with pytest.raises(CertificateRefusedError) as caught:
            import_many(target, sources, on_conflict=on_conflict, check_mode=check_mode)
        assert str(caught.value) == (
            "/in/other-server.pfx: holds a different certificate for the database certificate 'sales' than "
            "/in/old-server.pfx (thumbprint %s here, %s there); a server has one, so import only the file from the "
            "server that uses it: move the other one away" % (C.thumbprint(OTHER[SALES]), C.thumbprint(MADE[SALES])))
    assert snapshot(tmp_path) == before


def test_a_conflict_with_the_store_fails_naming_each_file_and_both_thumbprints(tmp_path, snapshot):
    target = str(tmp_path / "store")
    C.make_store(target, [OTHER[SALES], OTHER[CORP]], None)
    before = snapshot(tmp_path)
    sources = [("/in/a.pfx", C.pfx([MADE[SALES]])), ("/in/b.pfx", C.pfx([MADE[FINANCE]])),
               ("/in/c.pfx", C.pfx([MADE[CORP]]))]
    with pytest.raises(InvalidRequestError) as caught:
        import_many(target, sources)
    message = str(caught.value)
    assert message.startswith("2 certificate(s) in 2 files differ from those the store at %s holds" % target)
    assert "the database certificate 'sales': the store holds %s, /in/a.pfx holds %s" % (
        C.thumbprint(OTHER[SALES]), C.thumbprint(MADE[SALES])) in message
    assert "the master key certificate 'corp.example.com': the store holds %s, /in/c.pfx holds %s" % (
        C.thumbprint(OTHER[CORP]), C.thumbprint(MADE[CORP])) in message
    assert "Nothing was imported" in message and "on_conflict: replace" in message
    assert snapshot(tmp_path) == before  # b.pfx, without a conflict, did not land either

    with pytest.raises(InvalidRequestError) as caught:  # one conflicting file: the message starts with it
        import_many(target, sources[:2])
    assert str(caught.value).startswith("/in/a.pfx: 1 certificate(s) differ from those the store at %s" % target)
    assert "the database certificate 'sales': the store holds %s, the file %s" % (
        C.thumbprint(OTHER[SALES]), C.thumbprint(MADE[SALES])) in str(caught.value)
    assert snapshot(tmp_path) == before


def test_replace_and_skip_across_files(tmp_path, commits):
    sources = [("/in/a.pfx", C.pfx([MADE[SALES]])), ("/in/b.pfx", C.pfx([MADE[FINANCE], MADE[HR]])),
               ("/in/c.pfx", C.pfx([MADE[CORP]]))]
    replaced_store = str(tmp_path / "replace")
    C.make_store(replaced_store, [OTHER[SALES], OTHER[CORP], MADE[HR]], None)
    skipped_store = str(tmp_path / "skip")
    C.make_store(skipped_store, [OTHER[SALES], OTHER[CORP], MADE[HR]], None)
    commits.clear()

    replaced = import_many(replaced_store, sources, on_conflict="replace")
    assert [(c["identity"], c["path"], c["action"]) for c in replaced["certificates"]] == [
        ("sales", "/in/a.pfx", "replaced"), ("finance", "/in/b.pfx", "added"), ("hr", "/in/b.pfx", "unchanged"),
        ("corp.example.com", "/in/c.pfx", "replaced")]
    assert held(replaced_store) == made_thumbprints([SALES, FINANCE, HR, CORP])
    superseded = store.load(replaced_store).superseded
    assert {r["thumbprint"]: r["superseded_by"] for r in superseded} == {
        C.thumbprint(OTHER[SALES]): C.thumbprint(MADE[SALES]), C.thumbprint(OTHER[CORP]): C.thumbprint(MADE[CORP])}
    assert replaced["diff"]["before"].count("\n") == 2 and replaced["diff"]["after"].count("\n") == 3

    skipped = import_many(skipped_store, sources, on_conflict="skip")
    assert [c["action"] for c in skipped["certificates"]] == ["skipped", "added", "unchanged", "skipped"]
    assert held(skipped_store) == {**made_thumbprints([FINANCE, HR]), **made_thumbprints([SALES, CORP], OTHER)}
    assert store.load(skipped_store).superseded == []
    assert commits == [replaced_store, skipped_store]  # one commit per import


@pytest.mark.parametrize("on_conflict", ["replace", "skip"])
def test_check_mode_writes_nothing_and_reports_what_the_real_run_does(tmp_path, snapshot, on_conflict):
    target = str(tmp_path / "store")
    C.make_store(target, [OTHER[SALES], MADE[HR]], None)
    sources = one_per_file([SALES, HR, FINANCE, CORP])
    before = snapshot(tmp_path)
    checked = import_many(target, sources, on_conflict=on_conflict, check_mode=True)
    fresh = import_many(str(tmp_path / "fresh"), sources, check_mode=True)
    assert snapshot(tmp_path) == before
    assert checked["changed"] is True and fresh["changed"] is True
    assert set(actions(fresh).values()) == {"added"}

    real = import_many(target, sources, on_conflict=on_conflict)
    assert real == checked
    assert snapshot(tmp_path) != before
    assert import_many(target, sources, on_conflict=on_conflict, check_mode=True)["changed"] is False


# ---------------------------------------------------------------------------------------------- options


def test_kind_and_identity_do_not_go_with_several_files(tmp_path, snapshot):
    before = snapshot(tmp_path)
    with pytest.raises(InvalidRequestError) as caught:
        import_many(str(tmp_path / "store"), one_per_file([SALES, HR]), kind="database")
    assert str(caught.value).startswith("kind and identity go with a single PKCS#12 file, and %s is the second one"
                                        % file_name(SALES))
    with pytest.raises(InvalidRequestError, match="kind and identity go with a single PKCS#12 file"):
        import_many(str(tmp_path / "store"), one_per_file([SALES, HR]), kind="database", identity="hr")
    assert snapshot(tmp_path) == before
    # With one file they still apply.
    assert actions(import_many(str(tmp_path / "store"), one_per_file([HR]), kind="database", identity="hr")) == {
        ("database", "hr"): "added"}


def test_no_source_at_all_is_an_error(tmp_path):
    with pytest.raises(InvalidRequestError, match="no PKCS#12 file was given to import"):
        import_many(str(tmp_path / "store"), [])
    assert not Path(tmp_path / "store").exists()
