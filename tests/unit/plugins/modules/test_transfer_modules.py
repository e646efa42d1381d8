"""certificate_export and certificate_import run as Ansible runs them: a process given an arguments file.

The bad-input corpus of pfx_corpus.py goes through the import module too: each case must end in
a clean failure (failed, a message naming the file, the problem and the fix, no traceback, no
password), with the store byte for byte as it was.
"""

from __future__ import annotations

import base64
import os
import stat
from pathlib import Path

import pytest

from ansible_collections.passwordsecure.server.plugins.module_utils import crypto, pkcs12, store
from ansible_collections.passwordsecure.server.plugins.module_utils.errors import InvalidRequestError
from ansible_collections.passwordsecure.server.plugins.modules import certificate_import
from ansible_collections.passwordsecure.server.tests.unit.plugins.module_utils import pfx_corpus as C
from ansible_collections.passwordsecure.server.tests.unit.plugins.module_utils.pfx_corpus import (
    CORP,
    CORPUS,
    FINANCE,
    HR,
    MADE,
    MODULE_CASES,
    OTHER,
    PASSWORD,
    SALES,
    SERVER,
    SERVER_REFS,
    STORE_PASSWORD,
    TRAVELLERS,
)
from ansible_collections.passwordsecure.server.tests.unit.plugins.modules import module_process

SECRETS = (PASSWORD, C.WRONG_PASSWORD, STORE_PASSWORD)


def run_module(tmp_path, name: str, args: dict, *, check_mode: bool = False,
               diff: bool = False) -> module_process.Run:
    run = module_process.run_module(tmp_path, name, args, check_mode=check_mode, diff=diff, secrets=SECRETS)
    output = run.stdout + run.stderr
    # Ansible masks no_log values wherever they show: a mask means a message tried to show one.
    assert "********" not in output, output
    assert "PRIVATE KEY" not in output
    return run


def server_store(tmp_path, refs=SERVER_REFS, name: str = "store", made=None, store_password=None) -> str:
    path = str(tmp_path / name)
    C.make_store(path, [(made or MADE)[ref] for ref in refs], store_password)
    return path


def thumbprints(data: bytes, password: str = PASSWORD) -> set[str]:
    contents = pkcs12.read_pfx(data, password)
    assert all(item.private_key_der is not None for item in contents.entries)
    return {crypto.fingerprints(item.certificate_der)[0] for item in contents.entries}


def made_thumbprints(*refs, made=None) -> set[str]:
    return {C.thumbprint((made or MADE)[ref]) for ref in refs}


def mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


# ---------------------------------------------------------------------------------------------- export


def test_export_check_mode_real_run_and_rerun(tmp_path, snapshot):
    store_path = server_store(tmp_path)
    before = snapshot(store_path)
    target = tmp_path / "out" / "sales.pfx"
    target.parent.mkdir()
    args = {"store_path": store_path, "database": ["sales"], "path": str(target), "password": PASSWORD,
            "server_encryption_path": str(tmp_path / "out" / "server.pfx")}

    checked = run_module(tmp_path, "certificate_export", args, check_mode=True, diff=True)
    assert checked.rc == 0 and checked.result["changed"] is True
    assert os.listdir(target.parent) == []
    assert [f["changed"] for f in checked.result["files"]] == [True, True]
    assert checked.result["backup_files"] == []

    real = run_module(tmp_path, "certificate_export", args, diff=True)
    assert real.rc == 0 and real.result["changed"] is True
    assert real.result["files"] == checked.result["files"]
    assert real.result["certificates"] == checked.result["certificates"]
    assert real.result["diff"] == checked.result["diff"]
    assert "%s: absent" % target in real.result["diff"]["before"]
    assert sorted(os.listdir(target.parent)) == ["sales.pfx", "server.pfx"]  # no temp file left
    assert thumbprints(target.read_bytes()) == made_thumbprints(SALES, *[r for r in TRAVELLERS if r != SERVER])
    assert thumbprints((tmp_path / "out" / "server.pfx").read_bytes()) == made_thumbprints(SERVER)
    assert mode(target) == 0o600 and mode(tmp_path / "out" / "server.pfx") == 0o600
    assert [(c["kind"], c["identity"]) for c in real.result["certificates"]] == [
        ("database", "sales"), ("master_key", "corp.example.com"), ("master_key", "eu.example.com"),
        ("discovery_service", "main"), ("password_reset", "self-service"), ("server_encryption", None)]

    written = target.read_bytes()
    rerun = run_module(tmp_path, "certificate_export", args)
    assert rerun.rc == 0 and rerun.result["changed"] is False
    assert [f["changed"] for f in rerun.result["files"]] == [False, False]
    assert target.read_bytes() == written
    assert snapshot(store_path) == before


def test_export_to_a_directory_with_a_mode_and_a_backup(tmp_path):
    store_path = server_store(tmp_path, [SALES, CORP, SERVER])
    folder = tmp_path / "new" / "each"
    args = {"store_path": store_path, "directory": str(folder), "password": PASSWORD, "mode": "0640",
            "encryption": "compatibility"}
    first = run_module(tmp_path, "certificate_export", args)
    assert first.rc == 0 and first.result["changed"] is True and first.result["encryption"] == "compatibility"
    assert sorted(os.listdir(folder)) == ["database_sales.pfx", "master_key_corp.example.com.pfx",
                                          "server_encryption.pfx"]
    assert mode(folder) == 0o700
    assert all(mode(folder / name) == 0o640 for name in os.listdir(folder))

    tightened = run_module(tmp_path, "certificate_export", dict(args, mode="0600"))
    assert tightened.rc == 0 and tightened.result["changed"] is True  # only the mode changed
    assert [f["changed"] for f in tightened.result["files"]] == [False, False, False]
    assert all(mode(folder / name) == 0o600 for name in os.listdir(folder))

    rekeyed = run_module(tmp_path, "certificate_export", dict(args, mode="0600", backup=True,
                                                              password="a different password"))
    assert rekeyed.rc == 0 and rekeyed.result["changed"] is True
    assert len(rekeyed.result["backup_files"]) == 3
    backed_up = [thumbprints(Path(backup).read_bytes()) for backup in rekeyed.result["backup_files"]]
    assert sorted(backed_up, key=sorted) == sorted(({t} for t in made_thumbprints(SALES, CORP, SERVER)), key=sorted)
    sales = folder / "database_sales.pfx"
    assert thumbprints(sales.read_bytes(), "a different password") == made_thumbprints(SALES)


def test_export_needs_the_store_password_of_an_encrypted_store(tmp_path):
    store_path = server_store(tmp_path, [SALES], store_password=STORE_PASSWORD)
    args = {"store_path": store_path, "return_content": True, "password": PASSWORD}
    refused = run_module(tmp_path, "certificate_export", args)
    assert refused.rc != 0 and refused.result["failed"] is True
    assert "encrypts its private keys; give store_password" in refused.result["msg"]
    done = run_module(tmp_path, "certificate_export", dict(args, store_password=STORE_PASSWORD))
    assert done.rc == 0
    assert thumbprints(base64.b64decode(done.result["content"])) == made_thumbprints(SALES)


@pytest.mark.parametrize(
    ("args", "words"),
    [
        ({"return_content": True, "password": "too short"}, "password is shorter than 12 characters"),
        ({"database": ["marketing"], "return_content": True, "password": PASSWORD},
         "holds no certificate for the database(s) 'marketing'; it holds 'hr', 'sales'"),
        ({"kind": "discovery_service", "return_content": True, "password": PASSWORD},
         "the selection matches no certificate"),
        ({"password": PASSWORD}, "one of the following is required: path, directory, return_content"),
        ({"database": ["sales"], "kind": "database", "return_content": True, "password": PASSWORD},
         "mutually exclusive"),
    ],
)
def test_export_user_errors_are_clean_failures(tmp_path, args, words):
    store_path = server_store(tmp_path, [SALES, HR])
    run = run_module(tmp_path, "certificate_export", dict(args, store_path=store_path))
    assert run.rc != 0 and run.result["failed"] is True
    assert words in run.result["msg"]
    assert "content" not in run.result


# ---------------------------------------------------------------------------------------------- import


def test_content_moves_from_export_to_import_through_the_controller(tmp_path, snapshot):
    source = server_store(tmp_path, name="old-server")
    exported = run_module(tmp_path, "certificate_export", {"store_path": source, "database": ["hr"],
                                                           "return_content": True, "password": PASSWORD})
    assert exported.rc == 0 and exported.result["changed"] is False and exported.result["files"] == []
    content = exported.result["content"]

    target = str(tmp_path / "new-server" / "certificates")
    args = {"store_path": target, "content": content, "password": PASSWORD}
    checked = run_module(tmp_path, "certificate_import", args, check_mode=True, diff=True)
    assert checked.rc == 0 and checked.result["changed"] is True
    assert not (tmp_path / "new-server").exists()

    real = run_module(tmp_path, "certificate_import", args, diff=True)
    assert real.rc == 0 and real.result["changed"] is True
    assert real.result["certificates"] == checked.result["certificates"]
    assert real.result["diff"] == checked.result["diff"]
    assert [(c["kind"], c["identity"], c["action"]) for c in real.result["certificates"]] == [
        (ref.kind, ref.identity, "added") for ref in [HR] + TRAVELLERS]
    assert real.result["not_imported"] == []
    records = store.load(target).records
    assert {ref: r["thumbprint"] for ref, r in records.items()} == {
        ref: C.thumbprint(MADE[ref]) for ref in [HR] + TRAVELLERS}
    assert mode(target) == 0o700 and mode(os.path.join(target, "index.json")) == 0o600
    assert all(mode(os.path.join(target, r["file"])) == 0o600 for r in records.values())

    before = snapshot(target)
    rerun = run_module(tmp_path, "certificate_import", args)
    assert rerun.rc == 0 and rerun.result["changed"] is False
    assert {c["action"] for c in rerun.result["certificates"]} == {"unchanged"}
    assert "diff" not in rerun.result
    assert snapshot(target) == before


def test_import_conflicts_fail_replace_and_skip(tmp_path, snapshot):
    target = server_store(tmp_path, [SALES, CORP], made=OTHER)
    pfx = tmp_path / "from-the-old-server.pfx"
    pfx.write_bytes(C.pfx([MADE[SALES], MADE[HR], MADE[CORP]]))
    args = {"store_path": target, "path": str(pfx), "password": PASSWORD}
    before = snapshot(target)

    failed = run_module(tmp_path, "certificate_import", args)
    assert failed.rc != 0 and failed.result["failed"] is True
    message = failed.result["msg"]
    assert message.startswith("%s: 2 certificate(s) differ" % pfx)
    for ref in (SALES, CORP):
        assert "the store holds %s, the file %s" % (C.thumbprint(OTHER[ref]), C.thumbprint(MADE[ref])) in message
    assert snapshot(target) == before

    skipped = run_module(tmp_path, "certificate_import", dict(args, on_conflict="skip"), check_mode=True)
    assert [c["action"] for c in skipped.result["certificates"]] == ["skipped", "added", "skipped"]
    assert snapshot(target) == before

    replaced = run_module(tmp_path, "certificate_import", dict(args, on_conflict="replace"))
    assert replaced.rc == 0 and replaced.result["changed"] is True
    assert [c["action"] for c in replaced.result["certificates"]] == ["replaced", "added", "replaced"]
    index = store.load(target)
    assert {r["thumbprint"] for r in index.superseded} == made_thumbprints(SALES, CORP, made=OTHER)
    assert {r["thumbprint"] for r in index.records.values()} == made_thumbprints(SALES, HR, CORP)


def test_import_into_an_encrypted_store_with_given_kind_and_identity(tmp_path):
    target = server_store(tmp_path, [HR], store_password=STORE_PASSWORD)
    pfx = tmp_path / "corp.pfx"
    pfx.write_bytes(C.pfx([MADE[CORP]], profile="compatibility"))
    args = {"store_path": target, "path": str(pfx), "password": PASSWORD, "kind": "master_key",
            "identity": "CORP.example.com"}
    without = run_module(tmp_path, "certificate_import", args)
    assert without.rc != 0 and "give store_password" in without.result["msg"]
    wrong_kind = run_module(tmp_path, "certificate_import", dict(args, kind="database", identity="corp.example.com",
                                                                 store_password=STORE_PASSWORD))
    assert wrong_kind.rc != 0 and "but the task says kind 'database'" in wrong_kind.result["msg"]
    done = run_module(tmp_path, "certificate_import", dict(args, store_password=STORE_PASSWORD))
    assert done.rc == 0 and done.result["changed"] is True
    content = store.read_entry(store.load(target), CORP)
    assert b"ENCRYPTED PRIVATE KEY" in content


# ---------------------------------------------------------------------------------------------- bad input


@pytest.mark.parametrize("case", MODULE_CASES)
def test_bad_input_is_a_clean_failure_and_the_store_is_unchanged(tmp_path, snapshot, case):
    bad = CORPUS[case]
    target = server_store(tmp_path, [HR, SERVER])
    pfx = tmp_path / "incoming" / "bad.pfx"
    pfx.parent.mkdir()
    pfx.write_bytes(bad.data)
    before = snapshot(target)
    run = run_module(tmp_path, "certificate_import", {"store_path": target, "path": str(pfx),
                                                      "password": bad.password, "on_conflict": "replace"})
    assert run.rc == 1 and run.result["failed"] is True
    message = run.result["msg"]
    assert message.startswith(str(pfx) + ": "), message
    assert bad.problem in message and bad.fix in message, message
    assert snapshot(target) == before


def test_bad_content_is_named_content(tmp_path, snapshot):
    target = server_store(tmp_path, [HR])
    before = snapshot(target)
    wrong = run_module(tmp_path, "certificate_import", {"store_path": target, "password": C.WRONG_PASSWORD,
                                                        "content": base64.b64encode(C.GOOD).decode()})
    assert wrong.rc == 1 and wrong.result["msg"].startswith("content: wrong password or damaged file")
    refused = run_module(tmp_path, "certificate_import", {
        "store_path": target, "password": PASSWORD,
        "content": base64.b64encode(CORPUS["a CA-issued certificate with a Password Secure subject"].data).decode()})
    assert refused.rc == 1
    assert refused.result["msg"].startswith("content: the database certificate can't be replaced by your own")
    assert snapshot(target) == before


@pytest.mark.parametrize(
    ("source", "words"),
    [
        ({"content": "this is not base64 at all!"}, "content is not base64; give the PKCS#12 file base64-encoded"),
        ({"content": "QUJD?"}, "content is not base64"),
        ({"path": "{tmp}/nowhere/server.pfx"}, "{tmp}/nowhere/server.pfx does not exist; give the path of a PKCS#12 "
                                               "file on the managed host"),
        ({"path": "{tmp}"}, "{tmp} is a directory; give the path of a file"),
        ({"path": "{tmp}/huge.pfx", "size": pkcs12.MAX_PFX_SIZE + 1},
         "{tmp}/huge.pfx: is 67108865 bytes, larger than the 67108864 bytes (64 MiB) a PKCS#12 file may have here; "
         "give the right file, or split the export into several files"),
        ({"path": "{tmp}/huge.pfx", "size": 1 << 30},
         "{tmp}/huge.pfx: is 1073741824 bytes, larger than the 67108864 bytes (64 MiB)"),
    ],
    ids=["content not base64", "content with a stray character", "a path that does not exist", "a directory",
         "a sparse file just over 64 MiB", "a sparse file of 1 GiB"],
)
def test_a_source_that_cannot_be_read_is_a_clean_failure(tmp_path, snapshot, source, words):
    target = server_store(tmp_path, [HR])
    before = snapshot(target)
    args = {"store_path": target, "password": PASSWORD}
    if "content" in source:
        args["content"] = source["content"]
    else:
        args["path"] = source["path"].format(tmp=tmp_path)
    if "size" in source:
        with open(args["path"], "wb") as handle:
            handle.truncate(source["size"])  # sparse: no disk space used
    run = run_module(tmp_path, "certificate_import", args)
    assert run.rc == 1 and run.result["failed"] is True
    assert words.format(tmp=tmp_path) in run.result["msg"]
    assert snapshot(target) == before


@pytest.mark.parametrize(
    ("args", "words"),
    [
        ({"password": PASSWORD}, "one of the following is required: path, content, directory"),
        ({"password": PASSWORD, "path": "/x.pfx", "content": "QUJD"}, "mutually exclusive"),
        ({"password": PASSWORD, "path": "/x.pfx", "directory": "/x"},
         "parameters are mutually exclusive: path|content|directory"),
        ({"password": PASSWORD, "content": "QUJD", "directory": "/x"},
         "parameters are mutually exclusive: path|content|directory"),
        ({"password": PASSWORD, "directory": "/x", "kind": "database"},
         "parameters are mutually exclusive: directory|kind"),
        ({"password": PASSWORD, "directory": "/x", "kind": "database", "identity": "sales"},
         "parameters are mutually exclusive: directory|kind, directory|identity"),
        ({"password": PASSWORD, "path": "/x.pfx", "on_conflict": "merge"}, "on_conflict"),
        ({"password": PASSWORD, "path": "/x.pfx", "identity": "sales"}, "identity"),
        ({"path": "/x.pfx"}, "format is pkcs12 but all of the following are missing: password"),
        ({"path": "/x.pem", "format": "pem", "directory": "/x"}, "parameters are mutually exclusive"),
        ({"directory": "/x", "format": "pem"}, "format pem goes with path or content"),
        ({"password": PASSWORD, "path": "/x.pfx", "private_key_path": "/x.key"},
         "private_key_path goes with format: pem"),
    ],
)
def test_import_option_errors_are_clean_failures(tmp_path, args, words):
    run = run_module(tmp_path, "certificate_import", dict(args, store_path=str(tmp_path / "store")))
    assert run.rc == 1 and run.result["failed"] is True
    assert words in run.result["msg"]
    assert not (tmp_path / "store").exists()


# ---------------------------------------------------------------------------------------------- import a directory


def test_a_directory_export_imports_in_one_task_into_a_new_store(tmp_path, snapshot):
    source = server_store(tmp_path, name="old-server")
    folder = tmp_path / "transfer"
    exported = run_module(tmp_path, "certificate_export", {"store_path": source, "directory": str(folder),
                                                           "password": PASSWORD})
    assert exported.rc == 0 and len(exported.result["files"]) == 8
    names = sorted(os.listdir(folder))
    assert len(names) == 8 and all(name.endswith(".pfx") for name in names)

    target = str(tmp_path / "new-server" / "certificates")
    args = {"store_path": target, "directory": str(folder), "password": PASSWORD}
    checked = run_module(tmp_path, "certificate_import", args, check_mode=True, diff=True)
    assert checked.rc == 0 and checked.result["changed"] is True
    assert not (tmp_path / "new-server").exists()

    real = run_module(tmp_path, "certificate_import", args, diff=True)
    assert real.rc == 0 and real.result["changed"] is True
    assert real.result["certificates"] == checked.result["certificates"]
    assert real.result["diff"] == checked.result["diff"] and len(real.result["diff"]["after"].splitlines()) == 8
    assert real.result["files"] == [{"path": str(folder / name), "certificates": 1, "not_imported": 0}
                                    for name in names]
    assert {c["thumbprint"] for c in real.result["certificates"]} == made_thumbprints(*SERVER_REFS)
    by_path = {c["path"]: c["thumbprint"] for c in real.result["certificates"]}
    assert by_path == {f["path"]: f["thumbprints"][0] for f in exported.result["files"]}
    records = store.load(target).records
    assert {ref: r["thumbprint"] for ref, r in records.items()} == {
        ref: r["thumbprint"] for ref, r in store.load(source).records.items()}
    assert mode(target) == 0o700 and all(mode(os.path.join(target, r["file"])) == 0o600 for r in records.values())

    before = snapshot(target)
    rerun = run_module(tmp_path, "certificate_import", args)
    assert rerun.rc == 0 and rerun.result["changed"] is False
    assert {c["action"] for c in rerun.result["certificates"]} == {"unchanged"}
    assert len(rerun.result["files"]) == 8
    assert snapshot(target) == before
    rerun_check = run_module(tmp_path, "certificate_import", args, check_mode=True)
    assert rerun_check.rc == 0 and rerun_check.result["changed"] is False


def test_only_pkcs12_files_directly_in_the_directory_are_imported(tmp_path):
    folder = tmp_path / "incoming"
    (folder / "nested").mkdir(parents=True)
    (folder / "b-sales.pfx").write_bytes(C.pfx([MADE[SALES]]))
    (folder / "a-server.P12").write_bytes(C.pfx([MADE[SERVER]]))
    (folder / "nested" / "hr.pfx").write_bytes(C.pfx([MADE[HR]]))  # not searched
    (folder / "folder.pfx").mkdir()  # a directory, whatever its name: ignored
    (folder / "corp.pfx.bak").write_bytes(C.pfx([MADE[CORP]]))
    (folder / "README.txt").write_text("not a PKCS#12 file")
    (tmp_path / "elsewhere.bin").write_bytes(C.pfx([MADE[FINANCE]]))
    (folder / "c-finance.pfx").symlink_to(tmp_path / "elsewhere.bin")  # a symlink to a file counts
    target = str(tmp_path / "store")
    run = run_module(tmp_path, "certificate_import", {"store_path": target, "directory": str(folder),
                                                      "password": PASSWORD})
    assert run.rc == 0, run.result
    assert [f["path"] for f in run.result["files"]] == [str(folder / name) for name in
                                                        ("a-server.P12", "b-sales.pfx", "c-finance.pfx")]
    assert [(c["identity"], c["path"]) for c in run.result["certificates"]] == [
        (None, str(folder / "a-server.P12")), ("sales", str(folder / "b-sales.pfx")),
        ("finance", str(folder / "c-finance.pfx"))]
    assert {r["thumbprint"] for r in store.load(target).records.values()} == made_thumbprints(SERVER, SALES, FINANCE)


def test_a_bad_file_in_the_directory_fails_the_task_naming_it_and_nothing_lands(tmp_path, snapshot):
    target = server_store(tmp_path, [HR], made=MADE)
    folder = tmp_path / "incoming"
    folder.mkdir()
    (folder / "a.pfx").write_bytes(C.pfx([MADE[SALES]]))
    (folder / "b.pfx").write_bytes(C.pfx([MADE[CORP]], password=C.WRONG_PASSWORD))
    (folder / "c.pfx").write_bytes(C.pfx([MADE[SERVER]]))
    before = snapshot(target)
    run = run_module(tmp_path, "certificate_import", {"store_path": target, "directory": str(folder),
                                                      "password": PASSWORD, "on_conflict": "replace"})
    assert run.rc == 1 and run.result["failed"] is True
    assert run.result["msg"].startswith("%s: wrong password or damaged file" % (folder / "b.pfx"))
    assert snapshot(target) == before

    (folder / "b.pfx").write_bytes(b"")
    with open(str(folder / "b.pfx"), "wb") as handle:
        handle.truncate(pkcs12.MAX_PFX_SIZE + 1)  # sparse
    before = snapshot(target)
    huge = run_module(tmp_path, "certificate_import", {"store_path": target, "directory": str(folder),
                                                       "password": PASSWORD})
    assert huge.rc == 1
    assert huge.result["msg"].startswith("%s: is 67108865 bytes, larger than the 67108864 bytes (64 MiB)"
                                         % (folder / "b.pfx"))
    assert snapshot(target) == before


@pytest.mark.parametrize(
    ("layout", "words"),
    [
        ({}, "directory {dir} holds no file named *.pfx or *.p12 (subdirectories are not searched)"),
        ({"notes.txt": b"text", "sub/x.pfx": b"x"}, "directory {dir} holds no file named *.pfx or *.p12"),
        (None, "directory {dir} does not exist; give the directory on the managed host that holds the PKCS#12 "
               "files"),
        ("a file", "directory {dir} is not a directory; give a directory, or give a single PKCS#12 file as path"),
        ({"dangling.pfx": "->nowhere"}, "{dir}/dangling.pfx is not a regular file (a broken symlink"),
    ],
    ids=["empty", "only other files", "missing", "a file", "a broken symlink"],
)
def test_a_directory_without_pkcs12_files_is_a_clean_failure(tmp_path, layout, words):
    folder = tmp_path / "incoming"
    if layout == "a file":
        folder.write_bytes(C.pfx([MADE[SALES]]))
    elif layout is not None:
        folder.mkdir()
        for name, content in layout.items():
            (folder / name).parent.mkdir(exist_ok=True)
            if isinstance(content, str):
                (folder / name).symlink_to(tmp_path / "nowhere")
            else:
                (folder / name).write_bytes(content)
    run = run_module(tmp_path, "certificate_import", {"store_path": str(tmp_path / "store"), "directory": str(folder),
                                                      "password": PASSWORD})
    assert run.rc == 1 and run.result["failed"] is True
    assert words.format(dir=folder) in run.result["msg"]
    assert not (tmp_path / "store").exists()


def test_a_directory_with_more_files_than_the_limit_is_refused(tmp_path, monkeypatch):
    for name in ("a.pfx", "b.p12", "c.pfx", "d.txt"):
        (tmp_path / name).write_bytes(b"")
    monkeypatch.setattr(certificate_import, "MAX_DIRECTORY_FILES", 3)
    assert certificate_import.list_directory(str(tmp_path)) == [str(tmp_path / n) for n in ("a.pfx", "b.p12", "c.pfx")]
    (tmp_path / "e.PFX").write_bytes(b"")
    with pytest.raises(InvalidRequestError) as caught:
        certificate_import.list_directory(str(tmp_path))
    assert str(caught.value) == (
        "directory %s holds 4 files named *.pfx or *.p12, more than the 3 one task imports; split them into several "
        "directories and import each in its own task" % tmp_path)
