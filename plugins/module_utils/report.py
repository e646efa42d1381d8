# Copyright (c) passwordsecure.server contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The report of a database relocation, as Markdown and as HTML, from the role's result.

Built in Python: a report of a thousand certificates rendered by Ansible's
templating took about 2 s, these functions take milliseconds. Every value that
comes from an inventory, a store or a message is escaped: a database named
``<b>|x`` neither breaks a Markdown table nor becomes markup.
"""
from __future__ import annotations

import html
import os
import tempfile
from typing import Any, Iterable

from ansible_collections.passwordsecure.server.plugins.module_utils.errors import InvalidRequestError, StoreError

DIRECTORY_MODE = 0o750
FILE_MODE = 0o640
# What a result must hold for a report; the role's database_relocation_result has all of them.
REQUIRED = ("status", "source", "target", "databases", "certificates", "proofs")
_LISTS = ("databases", "certificates", "proofs", "conflicts", "imported", "rolled_back", "removed_from_source",
          "timings")

_STYLE = """body { font-family: sans-serif; margin: 2em; }
table { border-collapse: collapse; margin-bottom: 1.5em; }
th, td { border: 1px solid #bbb; padding: 0.3em 0.6em; text-align: left; }
code { font-size: 0.9em; }
.failed { color: #a00; font-weight: bold; }
.passed { color: #060; }"""


def check_result(result: Any) -> dict:
    """``result`` with every list present, or InvalidRequestError naming what is missing."""
    if not isinstance(result, dict):
        raise InvalidRequestError(
            "result must be a dictionary, the database_relocation_result of a relocation; got %s"
            % type(result).__name__
        )
    missing = [key for key in REQUIRED if key not in result]
    if missing:
        raise InvalidRequestError(
            "result lacks %s; pass the database_relocation_result the role passwordsecure.server.database_relocation "
            "sets" % ", ".join(missing)
        )
    checked = dict(result)
    for key in _LISTS:
        value = checked.get(key) or []
        if not isinstance(value, list) or (
            key in ("certificates", "proofs", "conflicts", "timings") and not all(isinstance(v, dict) for v in value)
        ):
            raise InvalidRequestError(
                "result.%s must be a list%s, as in database_relocation_result"
                % (key, " of dictionaries" if key in ("certificates", "proofs", "conflicts", "timings") else "")
            )
        checked[key] = value
    return checked


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def _md(value: Any) -> str:
    """A value in a Markdown table cell: '|' cannot end the cell and '<' cannot open markup."""
    return (_text(value).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("|", "&#124;")
            .replace("\r", " ").replace("\n", " "))


def _h(value: Any) -> str:
    """A value in HTML text or an attribute, escaped as Jinja's ``e`` filter does."""
    return html.escape(_text(value), quote=False).replace('"', "&#34;").replace("'", "&#39;")


def _joined(values: Iterable[Any]) -> str:
    return ", ".join(_text(v) for v in values)


def ssl_text(ssl: Any) -> str | None:
    """What the report says of the target's SSL connection certificate, which never moves; None without word."""
    if not isinstance(ssl, dict) or not ssl.get("action"):
        return None
    if ssl["action"] == "none" or not ssl.get("thumbprint"):
        return "not moved; the target has none (the role was told to leave it, or stopped before)"
    origin = "your own" if ssl.get("origin") == "own" else "generated"
    names = ", ".join(_text(n) for n in ssl.get("names") or []) or "none"
    made = " by this run, for its names" if ssl["action"] == "generated" else ""
    return "not moved, the target's own: %s (%s%s; names %s)" % (_text(ssl["thumbprint"]), origin, made, names)


# Why a certificate of the relocation is still on the source. The clean-up removes the moved databases' own
# certificates only; the server-wide ones stay for the source's other databases (roles/database_relocation).
_STAYED_FAILED = "the relocation failed, so the source keeps it"
_STAYED_NO_CLEANUP = "on the target too; kept on the source: clean-up is off (database_relocation_remove_from_source)"
_STAYED_SHARED = "on the target too; kept on the source: server-wide, the source's other databases need it"
_STAYED_NOT_REMOVED = "on the target too; not removed from the source"
_STAYED_SSL = "never moves: each server has its own SSL connection certificate, for its own names"


def stayed_on_source(result: Any) -> list[dict]:
    """What the relocation left on the source, each ``{label, thumbprint, why}``: every certificate of the
    relocation the run did not remove there (a database moved by an earlier run, which the source no longer
    holds, is not one), then the source's SSL connection certificate, which never moves (``source_ssl``;
    listed without its thumbprint, as the report names no certificate of the source's that did not travel)."""
    return _stayed(check_result(result))


def _stayed(r: dict) -> list[dict]:
    removed = {_text(name) for name in r["removed_from_source"]}
    cleanup = r.get("remove_from_source")
    stayed = []
    for row in r["certificates"]:
        if row.get("on_target") == "moved":
            continue
        kind = row.get("kind")
        if kind == "database" and _text(row.get("identity")) in removed:
            continue
        if r["status"] != "succeeded":
            why = _STAYED_FAILED
        elif kind != "database":
            why = _STAYED_SHARED
        elif cleanup is False:
            why = _STAYED_NO_CLEANUP
        else:
            why = _STAYED_NOT_REMOVED
        stayed.append({"label": row.get("label"), "thumbprint": row.get("thumbprint"), "why": why})
    ssl = r.get("source_ssl")
    if isinstance(ssl, dict):
        names = ", ".join(_text(n) for n in ssl.get("names") or []) or "none"
        origin = "your own" if ssl.get("origin") == "own" else "generated"
        stayed.append({"label": "the source's SSL connection certificate (%s; names %s)" % (origin, names),
                       "thumbprint": None, "why": _STAYED_SSL})
    return stayed


def _stayed_text(stayed: list[dict]) -> str:
    if not stayed:
        return "nothing"
    return "%d certificate%s, listed below" % (len(stayed), "" if len(stayed) == 1 else "s")


def _status_class(status: Any) -> str:
    """The class that colours a status as the proofs are coloured: green when it succeeded, else red."""
    return "passed" if status == "succeeded" else "failed"


def _summary(r: dict, stayed: list[dict]) -> list[tuple[str, str, str]]:
    """(heading, Markdown cell, HTML <td>) of each line of the summary table."""
    phase = (" in the phase %s" % _text(r.get("failed_phase"))) if r.get("failed_phase") else ""
    passed = sum(1 for p in r["proofs"] if p.get("passed"))
    rolled = ", then removed again after the failure" if r["rolled_back"] else ""
    certificates = "%d, of which %d imported by this run%s" % (len(r["certificates"]), len(r["imported"]), rolled)
    proofs = "%d of %d passed" % (passed, len(r["proofs"]))
    removed = _joined(r["removed_from_source"]) or "nothing"
    backup = _text(r.get("backup"))
    lines = [
        ("Result", "**%s**%s" % (_md(r["status"]), _md(phase)),
         '<td class="%s">%s%s</td>' % (_status_class(r["status"]), _h(r["status"]), _h(phase))),
        ("Started (UTC)", _md(r.get("started")), _h(r.get("started"))),
        ("Source", "%s (store %s)" % (_md(r["source"]), _md(r.get("source_store"))),
         "%s (store <code>%s</code>)" % (_h(r["source"]), _h(r.get("source_store")))),
        ("Target", "%s (store %s)" % (_md(r["target"]), _md(r.get("target_store"))),
         "%s (store <code>%s</code>)" % (_h(r["target"]), _h(r.get("target_store")))),
        ("Databases", _md(_joined(r["databases"])), _h(_joined(r["databases"]))),
        ("Certificates", _md(certificates), _h(certificates)),
        ("Proofs", proofs, proofs),
        ("Removed from the source", _md(removed), _h(removed)),
        ("Stayed on the source", _md(_stayed_text(stayed)), _h(_stayed_text(stayed))),
        ("Backup of the source", _md(backup) if backup else "none kept",
         "<code>%s</code>" % _h(backup) if backup else "none kept"),
    ]
    ssl = ssl_text(r.get("ssl"))
    if ssl:
        lines.append(("SSL connection certificate", _md(ssl), _h(ssl)))
    lines += [
        ("Duration", "%s s" % _md(r.get("seconds")), "%s s" % _h(r.get("seconds"))),
    ]
    return [(heading, md_cell, cell if index == 0 else "<td>%s</td>" % cell)
            for index, (heading, md_cell, cell) in enumerate(lines)]


def _title(r: dict) -> str:
    return "Relocation of %s: %s to %s" % (_joined(r["databases"]), _text(r["source"]), _text(r["target"]))


def markdown(result: Any) -> str:
    """The report as Markdown: a summary table, the failure, the conflicts, one row per certificate, timings."""
    r = check_result(result)
    stayed = _stayed(r)
    out = ["# %s" % _md(_title(r)), "", "| | |", "|---|---|"]
    out += ["| %s | %s |" % (heading, cell) for heading, cell, _html in _summary(r, stayed)]
    if r.get("failure"):
        out += ["", "## Failure", "", _md(r["failure"])]
    if r["conflicts"]:
        out += ["", "## Conflicts on the target", "", "| Certificate | Source thumbprint | Target thumbprint |",
                "|---|---|---|"]
        out += ["| %s | `%s` | `%s` |"
                % (_md(c.get("label")), _md(c.get("source_thumbprint")), _md(c.get("target_thumbprint")))
                for c in r["conflicts"]]
    out += ["", "## Certificates", "",
            "| Certificate | Friendly name | Thumbprint (SHA-1) | Target before the run | Proof |",
            "|---|---|---|---|---|"]
    out += ["| %s | %s | `%s` | %s | %s |"
            % (_md(c.get("label")), _md(c.get("friendly_name")), _md(c.get("thumbprint")), _md(c.get("before")),
               _md(c.get("proof"))) for c in r["certificates"]]
    if stayed:
        out += ["", "## Stayed on the source", "", "| Certificate | Thumbprint (SHA-1) | Why |", "|---|---|---|"]
        out += ["| %s | %s | %s |" % (_md(c["label"]), "`%s`" % _md(c["thumbprint"]) if c["thumbprint"] else "",
                                      _md(c["why"])) for c in stayed]
    out += ["", "## Timings", "", "| Phase | Seconds |", "|---|---|"]
    out += ["| %s | %s |" % (_md(t.get("phase")), _md(t.get("seconds"))) for t in r["timings"]]
    out.append("| total | %s |" % _md(r.get("seconds")))
    return "\n".join(out) + "\n"


def html_page(result: Any) -> str:
    """The report as one HTML page, with the same content as ``markdown``."""
    r = check_result(result)
    stayed = _stayed(r)
    title = _h(_title(r))
    out = ['<!DOCTYPE html>', '<html lang="en">', "<head>", '<meta charset="utf-8">', "<title>%s</title>" % title,
           "<style>", _STYLE, "</style>", "</head>", "<body>", "<h1>%s</h1>" % title, "<table>"]
    out += ["<tr><th>%s</th>%s</tr>" % (heading, cell) for heading, _md_cell, cell in _summary(r, stayed)]
    out.append("</table>")
    if r.get("failure"):
        out += ["<h2>Failure</h2>", '<p class="failed">%s</p>' % _h(r["failure"])]
    if r["conflicts"]:
        out += ["<h2>Conflicts on the target</h2>", "<table>",
                "<tr><th>Certificate</th><th>Source thumbprint</th><th>Target thumbprint</th></tr>"]
        out += ["<tr><td>%s</td><td><code>%s</code></td><td><code>%s</code></td></tr>"
                % (_h(c.get("label")), _h(c.get("source_thumbprint")), _h(c.get("target_thumbprint")))
                for c in r["conflicts"]]
        out.append("</table>")
    out += ["<h2>Certificates</h2>", "<table>",
            "<tr><th>Certificate</th><th>Friendly name</th><th>Thumbprint (SHA-1)</th><th>Target before the run</th>"
            "<th>Proof</th></tr>"]
    out += ['<tr><td>%s</td><td>%s</td><td><code>%s</code></td><td>%s</td><td class="%s">%s</td></tr>'
            % (_h(c.get("label")), _h(c.get("friendly_name")), _h(c.get("thumbprint")), _h(c.get("before")),
               "passed" if c.get("passed") else "failed", _h(c.get("proof"))) for c in r["certificates"]]
    out.append("</table>")
    if stayed:
        out += ["<h2>Stayed on the source</h2>", "<table>",
                "<tr><th>Certificate</th><th>Thumbprint (SHA-1)</th><th>Why</th></tr>"]
        out += ["<tr><td>%s</td><td>%s</td><td>%s</td></tr>"
                % (_h(c["label"]), "<code>%s</code>" % _h(c["thumbprint"]) if c["thumbprint"] else "", _h(c["why"]))
                for c in stayed]
        out.append("</table>")
    out += ["<h2>Timings</h2>", "<table>", "<tr><th>Phase</th><th>Seconds</th></tr>"]
    out += ["<tr><td>%s</td><td>%s</td></tr>" % (_h(t.get("phase")), _h(t.get("seconds"))) for t in r["timings"]]
    out += ["<tr><th>total</th><th>%s</th></tr>" % _h(r.get("seconds")), "</table>", "</body>", "</html>"]
    return "\n".join(out) + "\n"


FORMATS = {"markdown": markdown, "html": html_page}


def _read(path: str) -> bytes | None:
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except FileNotFoundError:
        return None
    except IsADirectoryError:
        raise InvalidRequestError("%s is a directory; give the path of a file for the report" % path) from None
    except OSError as exc:
        raise StoreError("cannot read %s: %s; choose a report path this user may read and write"
                         % (path, exc.strerror or exc)) from exc


def _write(path: str, data: bytes) -> None:
    """``data`` to ``path``: a temp file in the same folder, fsync, rename, then the folder's fsync."""
    folder = os.path.dirname(path) or "."
    try:
        if not os.path.isdir(folder):
            os.makedirs(folder, DIRECTORY_MODE)
        fd, temp = tempfile.mkstemp(prefix=".%s." % os.path.basename(path), suffix=".tmp", dir=folder)
    except OSError as exc:
        raise StoreError("cannot write the report in %s: %s; choose a report directory this user may write"
                         % (folder, exc.strerror or exc)) from exc
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fchmod(handle.fileno(), FILE_MODE)
            os.fsync(handle.fileno())
        os.replace(temp, path)
        directory = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)
    except OSError as exc:
        raise StoreError("cannot write the report %s: %s; choose a report directory this user may write"
                         % (path, exc.strerror or exc)) from exc
    finally:
        if os.path.exists(temp):
            os.unlink(temp)


def write(result: Any, paths: dict[str, str], *, check_mode: bool = False) -> dict[str, Any]:
    """Write the report in each format of ``paths`` (format name: file path). A file that holds the same
    report already is left alone; in check mode nothing is written. Returns changed and the paths."""
    if not paths:
        raise InvalidRequestError("give markdown, html or both: the paths of the report's files")
    rendered = {}
    for name, path in paths.items():
        if name not in FORMATS:
            raise InvalidRequestError("format %r is not one of %s" % (name, ", ".join(FORMATS)))
        if not isinstance(path, str) or not path:
            raise InvalidRequestError("%s must be the path of a file, not %r" % (name, path))
        rendered[name] = (os.path.abspath(os.path.expanduser(path)), FORMATS[name](result).encode("utf-8"))
    written = []
    for path, data in rendered.values():
        if _read(path) == data:
            continue
        written.append(path)
        if not check_mode:
            _write(path, data)
    out: dict[str, Any] = {"changed": bool(written), "written": written}
    out.update({name: path for name, (path, _data) in rendered.items()})
    return out
