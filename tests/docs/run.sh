#!/usr/bin/env bash
# Copyright (c) passwordsecure.server contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# The collection's docs site: builds the HTML documentation the way a published collection's is built, and
# checks it.
#   bash tests/docs/run.sh [--prepare: only make the virtual environment]
# Makes its own virtual environment (.venv-docs, or $VENV_DOCS; tests/docs/requirements.txt from PyPI, about a
# minute the first time), builds the collection's tarball and installs it into a temp folder, and then:
#   lint   antsibull-docs lint-collection-docs --plugin-docs --check-extra-docs-refs on the installed collection
#   build  antsibull-docs makes the pages (modules, filters, roles, the guides of docs/docsite/extra-docs.yml),
#          Sphinx builds the HTML with tests/docs/conf.py, nitpicky, warnings as errors
#   pages  a page per module, filter and role, and each guide shown in full
#   links  every internal link of the HTML leads to a page and an anchor that exist (check_links.py)
# The site goes to a temp folder, removed at the end, or to $DOCS_OUT when set (made anew). Nothing is written
# into the checkout but .venv-docs. Ends with "N passed, M failed".
set -uo pipefail
# The collection under test is the one this script builds and installs: none from the caller's environment.
unset ANSIBLE_COLLECTIONS_PATH ANSIBLE_COLLECTIONS_PATHS ANSIBLE_CONFIG PYTHONPATH

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
here="$root/tests/docs"
venv=${VENV_DOCS:-$root/.venv-docs}
python=${PYTHON:-python3}
export PYTHONWARNINGS="ignore:DSA is deprecated${PYTHONWARNINGS:+,$PYTHONWARNINGS}"  # ansible-core's, not ours

die() { printf 'tests/docs/run.sh: %s\n' "$*" >&2; exit 2; }

# shellcheck source=tests/utils/venv.sh
. "$root/tests/utils/venv.sh"
ensure_venv "$venv" "$python" "$here/requirements.txt" || die "no virtual environment $venv"
export PATH="$venv/bin:$PATH"
[ "${1:-}" = --prepare ] && exit 0  # tests/run makes the venv in the background first

work=$(mktemp -d "${TMPDIR:-/tmp}/psr-docs.XXXXXX")
trap 'rm -rf -- "$work"' EXIT
site=${DOCS_OUT:-$work/site}
# DOCS_OUT is made anew: only a new or empty folder, or one that holds a site this script built, is removed first.
if [ -n "${DOCS_OUT:-}" ] && [ -d "$site" ] && [ -n "$(ls -A "$site")" ] && [ ! -f "$site/antsibull-docs.cfg" ]; then
  die "DOCS_OUT=$site is a folder with other files in it; give a new or empty folder, or a site built before"
fi
export ANSIBLE_HOME="$work/ansible-home" ANSIBLE_LOCAL_TEMP="$work/ansible-tmp"
export ANSIBLE_COLLECTIONS_PATH="$work/collections"

# What ships: the tarball, installed.
ansible-galaxy collection build "$root" --output-path "$work/dist" >/dev/null || die "ansible-galaxy collection build failed"
ansible-galaxy collection install "$work"/dist/passwordsecure-server-*.tar.gz -p "$work/collections" >/dev/null \
  || die "ansible-galaxy collection install failed"
coll="$work/collections/ansible_collections/passwordsecure/server"
export PSR_GUIDES_DIR="$coll/docs"

passed=0 failed=0
check() {  # check NAME COMMAND...: one test, its output shown when it fails
  local name=$1 out
  shift
  if out=$("$@" 2>&1); then
    passed=$((passed + 1)); printf 'ok      %s\n' "$name"
  else
    failed=$((failed + 1)); printf 'FAILED  %s\n%s\n' "$name" "$out" | sed '2,$s/^/    /'
  fi
}

lint() {
  (cd "$coll" && antsibull-docs lint-collection-docs --plugin-docs --check-extra-docs-refs \
     --validate-collection-refs all --disallow-unknown-collection-refs .) || return 1
}

build() {
  rm -rf "$site" && mkdir -p "$site" || return 1
  # The layout antsibull-docs sets up for a collection's site; its conf.py is replaced by tests/docs/conf.py.
  antsibull-docs sphinx-init --use-current --dest-dir "$site" passwordsecure.server >/dev/null || return 1
  mkdir -p "$site/rst" && chmod og-w "$site/rst"
  antsibull-docs --config-file "$site/antsibull-docs.cfg" collection --cleanup everything --use-current \
    --dest-dir "$site/rst" passwordsecure.server || return 1
  sphinx-build -M html "$site/rst" "$site/build" -c "$here" -n -W --keep-going -q || return 1
}

pages() {
  local html="$site/build/html/collections/passwordsecure/server" page missing=0
  for page in certificate_module certificate_info_module certificate_export_module certificate_import_module \
              certificate_proof_module relocation_report_module relocation_plan_filter relocation_report_rows_filter \
              proof_results_filter certificates_role database_relocation_role certificate_backup_role \
              client_trust_role index; do
    [ -s "$html/$page.html" ] || { echo "no page $page.html"; missing=1; }
  done
  # Each guide in full: its first heading and last line are on its page, the stand-in's sentence is not.
  for page in "$coll"/docs/docsite/rst/*.rst; do
    page=$(basename "$page" .rst)
    "$venv/bin/python" - "$html/docsite/$page.html" "$coll/docs/$page.md" <<'EOF' || missing=1
import html, re, sys
page, guide = sys.argv[1], sys.argv[2]
def plain(text):  # no markup, no white space, straight quotes: what is left of a line in the HTML
    text = html.unescape(re.sub(r"<[^>]+>", "", text))
    text = text.translate(str.maketrans("\u2018\u2019\u201c\u201d", "''\"\"")).replace("\u2013", "--")
    return re.sub(r"\s+", "", re.sub(r"[`*]", "", text))
text = plain(open(page, encoding="utf-8").read())
lines = [line for line in open(guide, encoding="utf-8").read().splitlines() if line.strip()]
first, last = lines[0].lstrip("# "), re.sub(r"^\s*(?:[-|]|\d+\.)\s*", "", lines[-1])
for what, needle in (("first heading", first), ("last line", last)):
    if plain(needle) not in text:
        sys.exit("%s: the guide's %s %r is not on the page" % (page, what, needle))
if "the docs site shows it here in full" in text:
    sys.exit("%s: the stand-in page, not the guide" % page)
EOF
  done
  return $missing
}

links() { "$venv/bin/python" "$here/check_links.py" "$site/build/html"; }

check "lint: antsibull-docs lint-collection-docs --plugin-docs" lint
check "build: antsibull-docs collection, sphinx-build -n -W" build
check "pages: every module, filter, role and guide" pages
check "links: every internal link of the site" links

if [ -n "${DOCS_OUT:-}" ]; then
  echo "the site: $site/build/html/index.html"
fi
printf '%d passed, %d failed\n' "$passed" "$failed"
[ "$failed" -eq 0 ]
