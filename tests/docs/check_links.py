# Copyright (c) passwordsecure.server contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Check every internal link of a built HTML site: the file it names exists, and so does its #fragment.

    python check_links.py SITE_DIR

Links to other sites (http:, https:, mailto:) are not followed. Prints each broken link with the page it is
on, then the number of pages and links checked; exits 1 when a link is broken.
"""

from __future__ import annotations

import os
import sys
from html.parser import HTMLParser
from urllib.parse import unquote, urlsplit


class _Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.links: list[str] = []
        self.ids: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list) -> None:
        values = dict(attrs)
        for name in ("id", "name"):
            if values.get(name):
                self.ids.add(values[name])
        for name in ("href", "src"):
            if values.get(name) and tag in ("a", "link", "img", "script"):
                self.links.append(values[name])


def _parse(path: str) -> _Page:
    page = _Page()
    with open(path, encoding="utf-8") as handle:
        page.feed(handle.read())
    return page


def main(site: str) -> int:
    pages = {}
    for folder, _dirs, files in os.walk(site):
        for name in files:
            if name.endswith(".html"):
                path = os.path.normpath(os.path.join(folder, name))
                pages[path] = _parse(path)
    broken, checked = [], 0
    for path, page in sorted(pages.items()):
        for link in page.links:
            parts = urlsplit(link)
            if parts.scheme or parts.netloc or link.startswith("mailto:"):
                continue
            checked += 1
            target = os.path.normpath(os.path.join(os.path.dirname(path), unquote(parts.path))) if parts.path else path
            if os.path.isdir(target):
                target = os.path.join(target, "index.html")
            where, what = os.path.relpath(path, site), os.path.relpath(target, site)
            if not os.path.exists(target):
                broken.append("%s: %s (no file %s)" % (where, link, what))
            elif parts.fragment and target in pages and unquote(parts.fragment) not in pages[target].ids:
                broken.append("%s: %s (no #%s in %s)" % (where, link, parts.fragment, what))
    for line in broken:
        sys.stdout.write("broken link: %s\n" % line)
    sys.stdout.write("%d pages, %d internal links, %d broken\n" % (len(pages), checked, len(broken)))
    return 1 if broken or not pages else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
