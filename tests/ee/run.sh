#!/usr/bin/env bash
# Copyright (c) passwordsecure.server contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# The collection in an execution environment (EE), as far as this machine allows (no container engine, no
# registry):
#   bash tests/ee/run.sh [--prepare: only make the virtual environment]
# Makes its own virtual environment (.venv-ee, or $VENV_EE: tests/ee/requirements.txt from PyPI, about a minute
# the first time), builds the collection's tarball and installs it into a temp folder, and then:
#   introspect  ansible-builder introspect lists what meta/execution-environment.yml declares (Python and system
#               packages), and no ansible-core
#   create      ansible-builder create makes the build context of tests/ee/execution-environment.yml, holding the
#               collection and the build steps; its galaxy and introspection steps run here, offline, and find
#               the same requirements
#   demo        ansible-navigator run --ee false runs passwordsecure.server.demo (what scripts/demo.sh runs)
#   relocation  ansible-navigator run --ee false runs passwordsecure.server.relocate_database on two local
#               servers, the transfer password from an Ansible Vault file, and writes the report
#   no-traces   ansible-navigator left no artifact or log in the checkout, the working folder or the collection
# Everything but .venv-ee lives in a temp folder, removed at the end. Ends with "N passed, M failed".
set -uo pipefail
# The collection under test is the one this script builds and installs: none from the caller's environment.
unset ANSIBLE_COLLECTIONS_PATH ANSIBLE_COLLECTIONS_PATHS ANSIBLE_CONFIG PYTHONPATH

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
here="$root/tests/ee"
venv=${VENV_EE:-$root/.venv-ee}
python=${PYTHON:-python3}
export PYTHONWARNINGS="ignore:DSA is deprecated${PYTHONWARNINGS:+,$PYTHONWARNINGS}"  # ansible-core's, not ours

die() { printf 'tests/ee/run.sh: %s\n' "$*" >&2; exit 2; }

# shellcheck source=tests/utils/venv.sh
. "$root/tests/utils/venv.sh"
ensure_venv "$venv" "$python" "$here/requirements.txt" "$root/requirements.txt" || die "no virtual environment $venv"
export PATH="$venv/bin:$PATH"
[ "${1:-}" = --prepare ] && exit 0  # tests/run makes the venv in the background first

work=$(mktemp -d "${TMPDIR:-/tmp}/psr-ee.XXXXXX")
trap 'rm -rf -- "$work"' EXIT
mkdir -p "$work/cwd" "$work/cache"
touch "$work/started"
# Ansible's and ansible-navigator's own state in the temp folder too (navigator keeps a cache under
# $XDG_CACHE_HOME); the runs start in an empty folder of their own.
export ANSIBLE_HOME="$work/ansible-home" ANSIBLE_LOCAL_TEMP="$work/ansible-tmp" XDG_CACHE_HOME="$work/cache"
export ANSIBLE_COLLECTIONS_PATH="$work/collections" ANSIBLE_LOCALHOST_WARNING=false ANSIBLE_NOCOLOR=1

ansible-galaxy collection build "$root" --output-path "$work/dist" >/dev/null || die "ansible-galaxy collection build failed"
tarball=$(ls "$work"/dist/passwordsecure-server-*.tar.gz)
ansible-galaxy collection install "$tarball" -p "$work/collections" >/dev/null || die "ansible-galaxy collection install failed"
coll="$work/collections/ansible_collections/passwordsecure/server"

passed=0 failed=0
check() {  # check NAME COMMAND...: one test, its output shown when it fails
  local name=$1 out start=$SECONDS
  shift
  if out=$("$@" 2>&1); then
    passed=$((passed + 1)); printf 'ok      %s (%d s)\n' "$name" $((SECONDS - start))
  else
    failed=$((failed + 1)); printf 'FAILED  %s (%d s)\n%s\n' "$name" $((SECONDS - start)) "$out" | sed '2,$s/^/    /'
  fi
}

# The requirement lines of a pip or bindep file (no comments, no blank lines).
requirement_lines() { sed -e 's/[[:space:]]*#.*$//' -e '/^[[:space:]]*$/d' "$1"; }

# Every requirement the collection declares is in the introspection's files, marked as the collection's;
# cryptography and asn1crypto among them; no ansible-core (the EE brings its own).
expect_requirements() {  # expect_requirements PIP_FILE BINDEP_FILE
  local line bad=0
  while IFS= read -r line; do
    grep -qxF "$line  # from collection passwordsecure.server" "$1" || { echo "pip: '$line' missing in $1"; bad=1; }
  done < <(requirement_lines "$coll/meta/ee-requirements.txt")
  while IFS= read -r line; do
    grep -qxF "$line  # from collection passwordsecure.server" "$2" || { echo "bindep: '$line' missing in $2"; bad=1; }
  done < <(requirement_lines "$coll/bindep.txt")
  if ! grep -q '^cryptography' "$1" || ! grep -q '^asn1crypto' "$1"; then echo "no cryptography or asn1crypto in $1"; bad=1; fi
  grep -qi '^ansible' "$1" && { echo "ansible in $1"; bad=1; }
  [ "$bad" -eq 0 ] || { echo "--- $1"; cat "$1"; echo "--- $2"; cat "$2"; }
  return "$bad"
}

introspect() {
  grep -qx '  python: meta/ee-requirements.txt' "$coll/meta/execution-environment.yml" || return 1
  grep -qx '  system: bindep.txt' "$coll/meta/execution-environment.yml" || return 1
  ansible-builder introspect --sanitize "$work/collections" \
    --write-pip "$work/introspect-pip.txt" --write-bindep "$work/introspect-bindep.txt" || return 1
  expect_requirements "$work/introspect-pip.txt" "$work/introspect-bindep.txt"
}

create() {
  local ctx="$work/context" file
  mkdir -p "$work/ee/collections"
  cp "$here/execution-environment.yml" "$here/requirements.yml" "$work/ee/"
  cp "$tarball" "$work/ee/collections/passwordsecure-server.tar.gz"
  ansible-builder create -f "$work/ee/execution-environment.yml" -c "$ctx" --output-filename Containerfile || return 1
  for file in Containerfile _build/requirements.yml _build/collections/passwordsecure-server.tar.gz \
              _build/scripts/introspect.py _build/scripts/assemble; do
    [ -s "$ctx/$file" ] || { echo "the build context lacks $file"; return 1; }
  done
  cmp "$tarball" "$ctx/_build/collections/passwordsecure-server.tar.gz" || return 1
  grep -q 'ansible-galaxy collection install .*-r requirements.yml' "$ctx/Containerfile" || return 1
  grep -q 'introspect.py introspect' "$ctx/Containerfile" || return 1
  # The image build's galaxy stage (in _build, the collection from the context's tarball, no network) and its
  # builder stage's introspection, here.
  (cd "$ctx/_build" && ANSIBLE_COLLECTIONS_PATH="$work/ee-collections" \
     ansible-galaxy collection install -r requirements.yml -p "$work/ee-collections") || return 1
  [ -f "$work/ee-collections/ansible_collections/passwordsecure/server/meta/execution-environment.yml" ] || return 1
  python "$ctx/_build/scripts/introspect.py" introspect --sanitize "$work/ee-collections" \
    --write-pip "$work/context-pip.txt" --write-bindep "$work/context-bindep.txt" >/dev/null || return 1
  expect_requirements "$work/context-pip.txt" "$work/context-bindep.txt"
}

# navigator LOG_NAME ARGS...: ansible-navigator run without an EE, in stdout mode, no playbook artifact, its log
# in the temp folder; the output (without ansible-runner's event markers) in $work/LOG_NAME.out.
navigator() {
  local name=$1 rc
  shift
  (cd "$work/cwd" && ansible-navigator run "$@" --ee false --mode stdout --pae false --lf "$work/$name.navigator.log" \
     </dev/null >"$work/$name.raw" 2>&1)
  rc=$?
  # ansible-runner marks each event in the output (ESC[K, base64, ESC[<n>D); without a terminal they show.
  sed -E $'s#\x1b\\[K[A-Za-z0-9+/=]*\x1b\\[[0-9]+D##g; s#\x1b\\[K##g' "$work/$name.raw" >"$work/$name.out"
  return $rc
}

# recap_ok FILE HOST...: the PLAY RECAP lists each host with failed=0 and unreachable=0.
recap_ok() {
  local out=$1 host bad=0
  shift
  for host in "$@"; do
    grep -Eq "^$host +: ok=[0-9]+ +changed=[0-9]+ +unreachable=0 +failed=0 " "$out" || { echo "recap of $host not ok"; bad=1; }
  done
  [ "$bad" -eq 0 ] || tail -40 "$out"
  return "$bad"
}

demo() {
  navigator demo passwordsecure.server.demo -i "$coll/scripts/demo-inventory.yml" \
    -e ansible_python_interpreter="$venv/bin/python" -e passwordsecure_demo_root="$work/demo" \
    || { tail -40 "$work/demo.out"; return 1; }
  recap_ok "$work/demo.out" localhost server1 || return 1
  grep -q 'Relocation succeeded' "$work/demo.out" || { echo "no 'Relocation succeeded' in the output"; return 1; }
  ls "$work"/demo/reports/*-server1-to-server2.md "$work"/demo/reports/*-server1-to-server2.html >/dev/null || return 1
}

relocation() {
  # The demo's two servers: move the database personal from server1 to server2 with the collection's playbook,
  # the reports' directory in the inventory, the transfer password in a vault file.
  local inventory="$work/relocation-inventory.yml" vars="$work/vault.yml"
  cat >"$inventory" <<EOF
all:
  hosts:
    server1: {passwordsecure_store_path: "$work/demo/server1"}
    server2: {passwordsecure_store_path: "$work/demo/server2"}
  vars:
    ansible_connection: local
    ansible_python_interpreter: "$venv/bin/python"
    database_relocation_report_dir: "$work/reports"
EOF
  printf 'the vault password of the ee test\n' >"$work/vault-password"
  printf 'database_relocation_password: transfer password of the ee test\n' >"$vars"
  ansible-vault encrypt --vault-password-file "$work/vault-password" "$vars" >/dev/null || return 1
  head -c 14 "$vars" | grep -qxF "\$ANSIBLE_VAULT" || { echo "$vars is not encrypted"; return 1; }
  navigator relocation passwordsecure.server.relocate_database -i "$inventory" \
    --vault-password-file "$work/vault-password" -e "@$vars" \
    -e database_relocation_source=server1 -e database_relocation_target=server2 \
    -e '{"database_relocation_databases": ["personal"]}' \
    || { tail -40 "$work/relocation.out"; return 1; }
  recap_ok "$work/relocation.out" localhost || return 1
  grep -q 'Relocation succeeded' "$work/relocation.out" || { echo "no 'Relocation succeeded' in the output"; return 1; }
  ls "$work"/reports/*-server1-to-server2.md "$work"/reports/*-server1-to-server2.html >/dev/null || return 1
  grep -q 'succeeded' "$work"/reports/*-server1-to-server2.md || return 1
  ! grep -q 'transfer password of the ee test' "$work/relocation.raw" "$work"/reports/* \
    || { echo "the transfer password is in the output or the report"; return 1; }
}

no_traces() {
  local found
  found=$(find "$root" "$work/cwd" "$coll" -newer "$work/started" \( -name '*-artifact-*.json' -o -name 'ansible-navigator.log' \
          -o -name '.ansible-navigator*' \) -not -path "$venv/*" -print 2>/dev/null)
  [ -z "$found" ] || { echo "ansible-navigator left: $found"; return 1; }
  [ -z "$(ls -A "$work/cwd")" ] || { echo "the working folder holds: $(ls -A "$work/cwd")"; return 1; }
  [ -f "$work/demo.navigator.log" ] || { echo "no navigator log in the temp folder"; return 1; }
}

check "introspect: ansible-builder introspect lists the collection's requirements" introspect
check "create: ansible-builder create makes a complete build context" create
check "demo: ansible-navigator run --ee false passwordsecure.server.demo" demo
check "relocation: ansible-navigator run --ee false passwordsecure.server.relocate_database" relocation
check "no-traces: no navigator artifact or log outside the temp folder" no_traces

printf '%d passed, %d failed\n' "$passed" "$failed"
[ "$failed" -eq 0 ]
