"""module_utils/report.py: the relocation report as Markdown and HTML, and how it is written.

The HTML is read back with Python's own HTML parser, an independent reader: every cell's text must be the value
put in, unchanged, and no tag may come from a value. The Markdown is read back as a table: one row per
certificate with five cells, whatever the names hold.
"""

from __future__ import annotations

import html.parser
import os
import re
import stat
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ansible_collections.passwordsecure.server.plugins.module_utils import report
from ansible_collections.passwordsecure.server.plugins.module_utils.errors import InvalidRequestError, StoreError

NASTY = "<b>&co|x'\"</b>"


def certificate(number: int, label: str = "database 'db%d'", passed: bool = True) -> dict:
    return {
        "kind": "database",
        "identity": "db%d" % number,
        "label": label % number if "%d" in label else label,
        "friendly_name": "psrDatabaseKey db%d" % number,
        "thumbprint": "%040X" % number,
        "before": "absent, imported",
        "proof": "passed" if passed else "FAILED: does not decrypt",
        "passed": passed,
    }


def result(count: int = 3, **changes) -> dict:
    certificates = [certificate(n) for n in range(count)]
    value = {
        "status": "succeeded",
        "failed_phase": None,
        "failure": "",
        "source": "psr1",
        "target": "psr2",
        "source_store": "/srv/a",
        "target_store": "/srv/b",
        "databases": ["db%d" % n for n in range(count)],
        "started": "2026-11-27 03:00:00",
        "certificates": certificates,
        "conflicts": [],
        "imported": [c["thumbprint"] for c in certificates],
        "rolled_back": [],
        "proofs": [{"kind": "database", "identity": c["identity"], "passed": True} for c in certificates],
        "removed_from_source": [],
        "backup": "",
        "timings": [{"phase": "preflight", "seconds": 1.25}, {"phase": "verify", "seconds": 0.5}],
        "seconds": 2.5,
    }
    value.update(changes)
    return value


class Cells(html.parser.HTMLParser):
    """The text of every <td> and <th>, and every tag, as a browser's parser sees them."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.rows: list[list[str]] = []
        self.tags: set[str] = set()
        self.title = ""
        self._cell: list[str] | None = None
        self._in_title = False

    def handle_starttag(self, tag, attrs):
        self.tags.add(tag)
        if tag == "tr":
            self.rows.append([])
        elif tag in ("td", "th"):
            self._cell = []
        elif tag == "title":
            self._in_title = True

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            self.rows[-1].append("".join(self._cell))
            self._cell = None
        elif tag == "title":
            self._in_title = False

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)
        if self._in_title:
            self.title += data


def read_html(text: str) -> Cells:
    cells = Cells()
    cells.feed(text)
    cells.close()
    return cells


MD_ROW = re.compile(r"^\| (.+?) \| (.+?) \| `([0-9A-F]{40})` \| (.+?) \| (.+?) \|$", re.M)


def lines(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n")


def unmd(text: str) -> str:
    return text.replace("&#124;", "|").replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


# --------------------------------------------------------------------------- content


def test_markdown_has_a_row_per_certificate_and_the_summary():
    text = report.markdown(result(5))
    rows = MD_ROW.findall(text)
    assert [r[2] for r in rows] == ["%040X" % n for n in range(5)]
    assert {r[4] for r in rows} == {"passed"}
    assert "| Result | **succeeded** |" in text
    assert "| Certificates | 5, of which 5 imported by this run |" in text
    assert "| Proofs | 5 of 5 passed |" in text
    assert "| Backup of the source | none kept |" in text
    assert "| preflight | 1.25 |" in text and text.endswith("| total | 2.5 |\n")
    assert "## Failure" not in text and "## Conflicts" not in text


def test_failure_conflicts_and_rollback_are_shown():
    value = result(
        2, status="failed", failed_phase="verify", failure="1 of 2 proofs failed", rolled_back=["%040X" % 0],
        conflicts=[{"label": "database 'x'", "source_thumbprint": "A" * 40, "target_thumbprint": "B" * 40}],
        backup="/backups/psr1/20261127T030000Z",
    )
    value["certificates"][1] = certificate(1, passed=False)
    value["proofs"][1]["passed"] = False
    text = report.markdown(value)
    assert "| Result | **failed** in the phase verify |" in text
    assert "## Failure\n\n1 of 2 proofs failed\n" in text
    assert "| database 'x' | `%s` | `%s` |" % ("A" * 40, "B" * 40) in text
    assert "of which 2 imported by this run, then removed again after the failure" in text
    assert "| Proofs | 1 of 2 passed |" in text
    assert "/backups/psr1/20261127T030000Z" in text
    page = read_html(report.html_page(value))
    assert ["Result", "failed in the phase verify"] in page.rows
    assert ["database 'x'", "A" * 40, "B" * 40] in page.rows
    assert ["database 'db1'", "psrDatabaseKey db1", "%040X" % 1, "absent, imported", "FAILED: does not decrypt"] \
        in page.rows
    assert '<td class="failed">failed in the phase verify</td>' in report.html_page(value)


def test_names_are_text_never_markup_and_never_break_a_table():
    value = result(2, source=NASTY, databases=[NASTY, "db1"], failure=NASTY + "\nsecond line")
    value["certificates"][0]["label"] = NASTY
    text = report.markdown(value)
    assert "<b>" not in text and "|x" not in text
    rows = MD_ROW.findall(text)
    assert len(rows) == 2 and unmd(rows[0][0]) == NASTY
    assert "| Databases | %s |" % report._md(NASTY + ", db1") in text
    page_text = report.html_page(value)
    page = read_html(page_text)
    assert page.tags == {"html", "head", "meta", "title", "style", "body", "h1", "h2", "table", "tr", "th", "td",
                         "code", "p"}
    assert page.title == "Relocation of %s, db1: %s to psr2" % (NASTY, NASTY)
    assert ["Databases", NASTY + ", db1"] in page.rows
    assert [NASTY, "psrDatabaseKey db0", "%040X" % 0, "absent, imported", "passed"] in page.rows


@settings(max_examples=60, deadline=None)
@given(st.text(min_size=1, max_size=30))
def test_any_name_survives_both_formats(name):
    value = result(1, target=name, databases=[name])
    value["certificates"][0]["friendly_name"] = name
    page = read_html(report.html_page(value))
    # The HTML parser gives back exactly the text put in (a \r may come back as a line end, as browsers read it).
    assert [[lines(c) for c in row] for row in page.rows if row and row[0] == "Target"] == [
        ["Target", lines("%s (store /srv/b)" % name)]]
    row = [row for row in page.rows if len(row) == 5 and row[2] == "%040X" % 0]
    assert len(row) == 1 and lines(row[0][1]) == lines(name)
    rows = MD_ROW.findall(report.markdown(value))
    assert len(rows) == 1
    assert unmd(rows[0][1]).strip() == name.replace("\r", " ").replace("\n", " ").strip() or name.isspace()


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("a string", "result must be a dictionary"),
        ({"status": "succeeded"}, "result lacks source, target, databases, certificates, proofs"),
        (dict(result(), certificates="x"), "result.certificates must be a list of dictionaries"),
        (dict(result(), timings=[1]), "result.timings must be a list of dictionaries"),
        (dict(result(), databases="db0"), "result.databases must be a list"),
    ],
)
def test_a_result_that_is_not_one_is_refused(value, message):
    with pytest.raises(InvalidRequestError, match=re.escape(message)):
        report.markdown(value)
    with pytest.raises(InvalidRequestError, match=re.escape(message)):
        report.html_page(value)


# --------------------------------------------------------------------------- writing


@pytest.fixture()
def umask():
    before = os.umask(0o022)
    yield
    os.umask(before)


def listing(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_write_makes_the_folder_and_both_files_then_changes_nothing(tmp_path, umask):
    folder = tmp_path / "reports" / "deeper"
    paths = {"markdown": str(folder / "r.md"), "html": str(folder / "r.html")}
    first = report.write(result(), paths)
    assert first == {"changed": True, "written": [paths["markdown"], paths["html"]], **paths}
    assert (folder / "r.md").read_text() == report.markdown(result())
    assert (folder / "r.html").read_text() == report.html_page(result())
    assert stat.S_IMODE(folder.stat().st_mode) == 0o750
    assert {stat.S_IMODE((folder / n).stat().st_mode) for n in ("r.md", "r.html")} == {0o640}
    assert sorted(p.name for p in folder.iterdir()) == ["r.html", "r.md"]  # no temp file left
    before = listing(tmp_path)
    assert report.write(result(), paths) == {"changed": False, "written": [], **paths}
    assert listing(tmp_path) == before


def test_check_mode_writes_nothing_and_tells_what_would_change(tmp_path):
    paths = {"markdown": str(tmp_path / "r.md"), "html": str(tmp_path / "r.html")}
    (tmp_path / "r.md").write_text(report.markdown(result()))
    out = report.write(result(), paths, check_mode=True)
    assert out["changed"] is True and out["written"] == [paths["html"]]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.md"]
    changed = report.write(result(status="failed"), {"markdown": paths["markdown"]}, check_mode=True)
    assert changed["written"] == [paths["markdown"]]
    assert (tmp_path / "r.md").read_text() == report.markdown(result())


def test_one_format_alone_and_relative_paths(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    out = report.write(result(), {"html": "sub/r.html"})
    assert out["html"] == str(tmp_path / "sub" / "r.html") and "markdown" not in out
    assert listing(tmp_path) == {"sub/r.html": report.html_page(result()).encode()}


@pytest.mark.parametrize(
    ("paths", "message"),
    [
        ({}, "give markdown, html or both"),
        ({"pdf": "r.pdf"}, "format 'pdf' is not one of markdown, html"),
        ({"markdown": ""}, "markdown must be the path of a file"),
    ],
)
def test_bad_paths_are_refused_and_nothing_is_written(tmp_path, paths, message):
    with pytest.raises(InvalidRequestError, match=re.escape(message)):
        report.write(result(), paths)
    assert list(tmp_path.iterdir()) == []


def test_a_bad_result_writes_neither_file(tmp_path):
    paths = {"markdown": str(tmp_path / "r.md"), "html": str(tmp_path / "r.html")}
    with pytest.raises(InvalidRequestError, match="result lacks"):
        report.write({"status": "failed"}, paths)
    assert list(tmp_path.iterdir()) == []


def test_a_folder_in_the_way_and_a_file_in_the_way(tmp_path):
    (tmp_path / "r.md").mkdir()
    with pytest.raises(InvalidRequestError, match=r"r\.md is a directory; give the path of a file"):
        report.write(result(), {"markdown": str(tmp_path / "r.md")})
    (tmp_path / "plain").write_text("a file, not a folder")
    with pytest.raises(StoreError, match="cannot (read|write the report in) .*plain.*; choose"):
        report.write(result(), {"markdown": str(tmp_path / "plain" / "sub" / "r.md")})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["plain", "r.md"]
    assert list((tmp_path / "r.md").iterdir()) == []


# --------------------------------------------------------------------------- the SSL connection certificate

SSL_THUMBPRINT = "C" * 40
SSL_NAMES = ["psr2.example.com", "psr2", "192.0.2.20", "2001:db8::20"]
SSL_ROW = "SSL connection certificate"


def ssl_rows(value: dict) -> tuple[list[str], list[list[str]]]:
    """The summary's SSL rows of both formats: the Markdown lines, the HTML rows as its parser reads them."""
    md = [line for line in report.markdown(value).splitlines() if line.startswith("| %s |" % SSL_ROW)]
    page = read_html(report.html_page(value))
    return md, [row for row in page.rows if row and row[0] == SSL_ROW]


@pytest.mark.parametrize(
    ("ssl", "text"),
    [
        ({"thumbprint": SSL_THUMBPRINT, "origin": "generated", "names": SSL_NAMES, "action": "generated"},
         "not moved, the target's own: %s (generated by this run, for its names; names psr2.example.com, psr2, "
         "192.0.2.20, 2001:db8::20)" % SSL_THUMBPRINT),
        ({"thumbprint": SSL_THUMBPRINT, "origin": "generated", "names": SSL_NAMES, "action": "kept"},
         "not moved, the target's own: %s (generated; names psr2.example.com, psr2, 192.0.2.20, 2001:db8::20)"
         % SSL_THUMBPRINT),
        ({"thumbprint": SSL_THUMBPRINT, "origin": "own", "names": ["psr.corp.example.com"], "action": "kept"},
         "not moved, the target's own: %s (your own; names psr.corp.example.com)" % SSL_THUMBPRINT),
        ({"thumbprint": SSL_THUMBPRINT, "origin": "own", "names": None, "action": "kept"},
         "not moved, the target's own: %s (your own; names none)" % SSL_THUMBPRINT),
        ({"action": "none"}, "not moved; the target has none (the role was told to leave it, or stopped before)"),
        ({"action": "kept", "thumbprint": None}, "not moved; the target has none (the role was told to leave it, or "
                                                 "stopped before)"),
    ],
    ids=["generated", "kept-generated", "kept-own", "own-without-names", "none", "kept-without-thumbprint"],
)
def test_the_ssl_row_says_what_became_of_the_targets_own_certificate(ssl, text):
    value = result(2, ssl=ssl)
    assert report.ssl_text(ssl) == text
    md, html_rows = ssl_rows(value)
    assert md == ["| %s | %s |" % (SSL_ROW, report._md(text))]
    assert html_rows == [[SSL_ROW, text]]
    # In the summary between the backup and the duration, in both formats; no certificate row for it.
    headings = [row[0] for row in read_html(report.html_page(value)).rows if len(row) == 2]
    assert headings[headings.index(SSL_ROW) - 1:headings.index(SSL_ROW) + 2] == [
        "Backup of the source", SSL_ROW, "Duration"]
    markdown = report.markdown(value)
    assert markdown.index("| Backup of the source |") < markdown.index("| %s |" % SSL_ROW) < markdown.index(
        "| Duration |")
    assert len(MD_ROW.findall(markdown)) == 2


@pytest.mark.parametrize("ssl", [None, {}, {"thumbprint": SSL_THUMBPRINT, "origin": "generated"}, "generated", [1]])
def test_without_word_of_the_ssl_certificate_there_is_no_row(ssl):
    # A result of before the SSL step (no key), or one that says nothing about it: no row, and nothing else moves.
    for value in (result(2, ssl=ssl), result(2)):
        md, html_rows = ssl_rows(value)
        assert md == [] and html_rows == []
        assert SSL_ROW not in report.markdown(value) and SSL_ROW not in report.html_page(value)
    assert report.markdown(result(2, ssl=ssl)) == report.markdown(result(2))
    assert report.html_page(result(2, ssl=ssl)) == report.html_page(result(2))


def test_the_ssl_row_escapes_its_names_and_thumbprint():
    ssl = {"thumbprint": NASTY, "origin": "own", "names": [NASTY, "psr2|x", "a\nb"], "action": "kept"}
    value = result(1, ssl=ssl)
    text = "not moved, the target's own: %s (your own; names %s, psr2|x, a\nb)" % (NASTY, NASTY)
    md, html_rows = ssl_rows(value)
    # Markdown: one row of two cells, '|' and '<' as entities, the line end as a blank.
    assert len(md) == 1 and "<b>" not in md[0] and "|x" not in md[0]
    cells = md[0].split(" | ")
    assert len(cells) == 2 and cells[0] == "| " + SSL_ROW
    assert unmd(cells[1][:-2]) == text.replace("\n", " ")
    # HTML: the cell's text is exactly what was put in; no tag comes from a value.
    assert html_rows == [[SSL_ROW, text]]
    assert read_html(report.html_page(value)).tags == {"html", "head", "meta", "title", "style", "body", "h1", "h2",
                                                       "table", "tr", "th", "td", "code"}


# --------------------------------------------------------------------------- what stayed on the source

SOURCE_SSL = {"thumbprint": "D" * 40, "origin": "generated", "names": ["psr1.example.com", "192.0.2.10"]}
STAYED_SSL = ("the source's SSL connection certificate (generated; names psr1.example.com, 192.0.2.10)", None,
              "never moves: each server has its own SSL connection certificate, for its own names")
NO_CLEANUP = "on the target too; kept on the source: clean-up is off (database_relocation_remove_from_source)"
SHARED = "on the target too; kept on the source: server-wide, the source's other databases need it"


def relocated(**changes) -> dict:
    """A relocation of db0, db1 and db2 (db2 moved by an earlier run) with a master key and the server
    encryption certificate, as the role's result has it."""
    value = result(3, **changes)
    value["certificates"][2]["on_target"] = "moved"
    for row in value["certificates"][:2]:
        row["on_target"] = "absent"
    value["certificates"] += [
        dict(certificate(7, label="master key certificate 'corp.example.com'"), kind="master_key",
             identity="corp.example.com", on_target="same"),
        dict(certificate(8, label="server encryption certificate"), kind="server_encryption", identity=None,
             on_target="absent"),
    ]
    return value


def stayed(value: dict) -> list[tuple]:
    return [(c["label"], c["thumbprint"], c["why"]) for c in report.stayed_on_source(value)]


def stayed_sections(value: dict) -> tuple[list[str], list[list[str]]]:
    """The rows of the section "Stayed on the source" in both formats: Markdown lines, HTML cells."""
    text = report.markdown(value)
    section = text.split("## Stayed on the source\n", 1)[1].split("\n## ", 1)[0] if "## Stayed" in text else ""
    md = [line for line in section.splitlines() if line.startswith("| ") and not line.startswith("| Certificate |")]
    page = report.html_page(value)
    part = page.split("<h2>Stayed on the source</h2>", 1)[1].split("<h2>", 1)[0] if "<h2>Stayed" in page else ""
    return md, read_html(part).rows[1:]  # the heading row left out


def test_without_clean_up_everything_but_a_database_moved_earlier_stayed_and_why():
    value = relocated(remove_from_source=False, source_ssl=SOURCE_SSL)
    assert stayed(value) == [
        ("database 'db0'", "%040X" % 0, NO_CLEANUP),
        ("database 'db1'", "%040X" % 1, NO_CLEANUP),
        ("master key certificate 'corp.example.com'", "%040X" % 7, SHARED),
        ("server encryption certificate", "%040X" % 8, SHARED),
        STAYED_SSL,
    ]
    text = report.markdown(value)
    assert "| Stayed on the source | 5 certificates, listed below |" in text
    md, html_rows = stayed_sections(value)
    assert md[0] == "| database 'db0' | `%040X` | %s |" % (0, NO_CLEANUP)
    assert md[-1] == "| %s |  | %s |" % (report._md(STAYED_SSL[0]), STAYED_SSL[2])
    assert html_rows == [[label, thumbprint or "", why] for label, thumbprint, why in stayed(value)]
    # The source's SSL certificate is named by its names, never its thumbprint; the rows of the certificates
    # that travelled are still one per certificate, five cells each.
    assert "D" * 40 not in text and "D" * 40 not in report.html_page(value)
    assert len(MD_ROW.findall(text)) == 5
    assert text.index("## Certificates") < text.index("## Stayed on the source") < text.index("## Timings")


def test_with_clean_up_the_removed_databases_left_and_the_server_wide_ones_stayed():
    value = relocated(remove_from_source=True, removed_from_source=["db0", "db1"], source_ssl=SOURCE_SSL)
    assert stayed(value) == [
        ("master key certificate 'corp.example.com'", "%040X" % 7, SHARED),
        ("server encryption certificate", "%040X" % 8, SHARED),
        STAYED_SSL,
    ]
    assert "| Removed from the source | db0, db1 |" in report.markdown(value)
    assert "| Stayed on the source | 3 certificates, listed below |" in report.markdown(value)


def test_a_failed_relocation_left_everything_on_the_source_but_what_its_clean_up_removed():
    value = relocated(status="failed", failed_phase="cleanup", failure="unreachable", remove_from_source=True,
                      removed_from_source=["db0"])
    assert stayed(value) == [
        ("database 'db1'", "%040X" % 1, "the relocation failed, so the source keeps it"),
        ("master key certificate 'corp.example.com'", "%040X" % 7, "the relocation failed, so the source keeps it"),
        ("server encryption certificate", "%040X" % 8, "the relocation failed, so the source keeps it"),
    ]


def test_a_result_that_does_not_say_whether_the_clean_up_ran_says_no_more_than_it_knows():
    value = relocated()  # no remove_from_source, no source_ssl: a result from before they were reported
    assert [why for _label, _thumbprint, why in stayed(value)] == [
        "on the target too; not removed from the source", "on the target too; not removed from the source",
        SHARED, SHARED]


def test_nothing_stayed_says_nothing_and_has_no_section():
    value = result(2, remove_from_source=True, removed_from_source=["db0", "db1"])
    assert stayed(value) == []
    assert "| Stayed on the source | nothing |" in report.markdown(value)
    assert "## Stayed on the source" not in report.markdown(value)
    assert "<h2>Stayed on the source</h2>" not in report.html_page(value)
    assert ["Stayed on the source", "nothing"] in read_html(report.html_page(value)).rows


def test_what_stayed_is_text_never_markup():
    value = relocated(remove_from_source=False, source_ssl={"origin": "own", "names": [NASTY]})
    value["certificates"][0]["label"] = NASTY
    md, html_rows = stayed_sections(value)
    assert "<b>" not in "\n".join(md) and all(line.count(" | ") == 2 for line in md)
    assert unmd(md[0].split(" | ")[0][2:]) == NASTY
    assert html_rows[0] == [NASTY, "%040X" % 0, NO_CLEANUP]
    assert html_rows[-1][0] == "the source's SSL connection certificate (your own; names %s)" % NASTY
    assert "<b>" not in report.html_page(value)


@pytest.mark.parametrize(("status", "css"), [("succeeded", "passed"), ("failed", "failed")])
def test_the_result_is_coloured_as_the_proofs_are(status, css):
    page = report.html_page(result(1, status=status))
    assert '<tr><th>Result</th><td class="%s">%s</td></tr>' % (css, status) in page
    # The classes that colour a passed and a failed proof, the only ones the page styles.
    assert ".%s { color: " % css in page
    assert '<td class="passed">passed</td>' in page
