#!/usr/bin/env bash
# Copyright (c) passwordsecure.server contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# The compat step: every integration target (the modules' and the roles', with the secret scan) and the demo,
# run by an older ansible-core on the controller against a managed-host Python with the cryptography and
# asn1crypto a distribution ships. One row per controller core, each paired with one host library set, so that
# every row of the README's support table is covered without a full cross product. ansible-core 2.19 with the
# newest cryptography is the main suite's (tests/run, step integration), not a row here.
#
# Usage: tests/compat/run.sh [CORE...]            the rows to run, by their core (default: all), e.g. 2.15 2.17
#        tests/compat/run.sh --prepare [CORE...]  only make (or check) the rows' venvs, for example in the background
#                                                 while other tests run
#
# Environment:
#   COMPAT_VENVS        where the venvs are made and kept between runs (default: $repo/.venv-compat, git-ignored):
#                       core-<core> (ansible-core <core>.*, cryptography, jinja2, asn1crypto) and one per host
#                       library set; each is remade when its row's requirements change.
#   COMPAT_HOST_PYTHON  run every row with this managed-host Python instead of the row's (for example a venv with
#                       the newest cryptography, to test the controller cores alone).
#   COMPAT_LOGS         where each row's full output goes, <core>.log (default: $repo/tests/output/compat).
#   COMPAT_PARALLEL     rows run at the same time (default 1); each prints its summary when all are done.
#   COLLECTIONS_ROOT    the folder holding ansible_collections/ (as for tests/integration/run-playbooks.sh; default:
#                       a temp folder with ansible_collections/passwordsecure/server linked to this repository).
#   COMPAT_TARGETS      the integration targets to run, space-separated (default: every one, and the secret scan).
#   JOBS                integration targets at the same time within a row (default: the number of cores).
#   PYTHON              the Python the venvs are made with (default python3; ansible-core 2.15 to 2.18 run on 3.11).
#
# Prints each row's targets as PASS/FAIL lines with their times, the demo's line, the row's time and its log, then
# one line per row, and ends with "N passed, M failed" counting rows; exits non-zero when a row failed.
set -uo pipefail

# --- The matrix: controller core | managed-host Python: pip requirements for a venv, or the path of a Python as
# it is | the hosts it stands for.
MATRIX=(
  "2.15 | cryptography==3.4.8 asn1crypto==1.4.0  | Ubuntu 22.04 hosts (python3-cryptography 3.4.8, python3-asn1crypto 1.4.0)"
  "2.16 | cryptography==36.0.1 asn1crypto==1.4.0 | RHEL 9 hosts (python3-cryptography 36.0.1; asn1crypto 1.4.0, the oldest allowed)"
  "2.17 | cryptography==41.0.7 asn1crypto==1.5.1 | Ubuntu 24.04 hosts (python3-cryptography 41.0.7, python3-asn1crypto 1.5.1)"
  "2.18 | /usr/bin/python3                       | Debian 12 hosts (python3-cryptography 38.0.4, python3-asn1crypto 1.5.1)"
)

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
COMPAT_VENVS=${COMPAT_VENVS:-$repo/.venv-compat}
COMPAT_LOGS=${COMPAT_LOGS:-$repo/tests/output/compat}
COMPAT_PARALLEL=${COMPAT_PARALLEL:-1}
python=${PYTHON:-python3}

die() { printf 'tests/compat/run.sh: %s\n' "$*" >&2; exit 2; }
field() { local f; IFS='|' read -r -a f <<<"$1"; f[$2]=${f[$2]#"${f[$2]%%[![:space:]]*}"}; printf '%s' "${f[$2]%"${f[$2]##*[![:space:]]}"}"; }
took() { awk -v s="$1" -v e="$(date +%s.%N)" -v f="${2:-%.0f}" 'BEGIN { printf f, e - s }'; }  # took START [FORMAT]

# --- The rows asked for
declare -A row_of=()
all=()
for line in "${MATRIX[@]}"; do core=$(field "$line" 0); row_of[$core]=$line; all+=("$core"); done
prepare_only=no
if [ "${1:-}" = --prepare ]; then prepare_only=yes; shift; fi
rows=("$@")
[ ${#rows[@]} -eq 0 ] && rows=("${all[@]}")
for core in "${rows[@]}"; do
  [ -n "${row_of[$core]:-}" ] || die "no row '$core'; rows: ${all[*]}"
done
command -v "$python" >/dev/null || die "no $python; set PYTHON to a Python 3.11"

work=$(mktemp -d "${TMPDIR:-/tmp}/psr-compat.XXXXXX")
trap 'rm -rf -- "$work"' EXIT
mkdir -p "$COMPAT_VENVS" "$COMPAT_LOGS"
if [ -z "${COLLECTIONS_ROOT:-}" ]; then
  COLLECTIONS_ROOT="$work/collections"
fi
export COLLECTIONS_ROOT
# The link the integration script would make, made once here so that rows running at the same time share it.
link="$COLLECTIONS_ROOT/ansible_collections/passwordsecure/server"
if [ ! -e "$link" ]; then
  mkdir -p "$(dirname "$link")" && ln -s "$repo" "$link"
fi

# --- The venvs, cached: made again only when their requirements change (the stamp file holds them)
make_venv() {  # make_venv DIR REQUIREMENT...: a venv with these, unless DIR has them already
  local dir=$1 stamp
  shift
  stamp="$*"
  if [ -x "$dir/bin/python" ] && [ "$(cat "$dir/.stamp" 2>/dev/null)" = "$stamp" ]; then return 0; fi
  rm -rf "$dir"
  "$python" -m venv "$dir" || return 1
  "$dir/bin/python" -m pip install -q --disable-pip-version-check "$@" 2> >(grep -v '^WARNING: Location' >&2) \
    || return 1
  echo "$stamp" >"$dir/.stamp"
}
controller_venv() { printf '%s/core-%s' "$COMPAT_VENVS" "$1"; }
controller_requirements() { printf 'ansible-core==%s.* cryptography jinja2>=3.1 asn1crypto' "$1"; }
host_venv() { printf '%s/host-%s' "$COMPAT_VENVS" "$(sed 's/==/-/g; s/ /+/g' <<<"$1")"; }  # host-cryptography-3.4.8+...

echo "making or reusing the venvs in $COMPAT_VENVS"
venv_failed=()
declare -A venv_status=() venv_log=()
for core in "${rows[@]}"; do
  host=$(field "${row_of[$core]}" 1)
  # shellcheck disable=SC2046 # the requirements are words
  make_venv "$(controller_venv "$core")" $(controller_requirements "$core") >"$work/venv-core-$core.log" 2>&1 &
  venv_status["core-$core"]=$!
  venv_log["core-$core"]="$work/venv-core-$core.log"
  if [ -z "${COMPAT_HOST_PYTHON:-}" ] && [ "${host:0:1}" != / ] && [ -z "${venv_status["host-$host"]:-}" ]; then
    # shellcheck disable=SC2086 # the requirements are words
    make_venv "$(host_venv "$host")" $host >"$work/venv-host-$core.log" 2>&1 &
    venv_status["host-$host"]=$!
    venv_log["host-$host"]="$work/venv-host-$core.log"
  fi
done
for name in "${!venv_status[@]}"; do
  wait "${venv_status[$name]}" || venv_failed+=("$name")
done
for name in "${venv_failed[@]}"; do
  echo "could not make the venv $name:"
  tail -n 20 "${venv_log[$name]}"
done
if [ "$prepare_only" = yes ]; then
  echo "venvs ready: $((${#venv_status[@]} - ${#venv_failed[@]})) of ${#venv_status[@]}"
  [ ${#venv_failed[@]} -eq 0 ]
  exit
fi

# --- One row: the integration targets, then the demo twice (it converges: the rerun changes no store)
demo() {  # demo CONTROLLER HOST_PYTHON: the demo as scripts/demo.sh runs it, its root a temp folder
  local ctl=$1 host_python=$2 root run out rc
  root=$(mktemp -d "$work/demo.XXXXXX")
  : >"$root/ansible.cfg"
  for run in 1 2; do
    out="$root/run$run.txt"
    ANSIBLE_CONFIG="$root/ansible.cfg" ANSIBLE_HOME="$root/ansible-home" ANSIBLE_LOCAL_TEMP="$root/ansible-tmp" \
      ANSIBLE_COLLECTIONS_PATH="$COLLECTIONS_ROOT" ANSIBLE_COLLECTIONS_SCAN_SYS_PATH=false \
      ANSIBLE_LOCALHOST_WARNING=false ANSIBLE_STDOUT_CALLBACK=default ANSIBLE_CALLBACK_RESULT_FORMAT=yaml \
      ANSIBLE_NOCOLOR=1 ANSIBLE_RETRY_FILES_ENABLED=false \
      "$ctl/bin/ansible-playbook" passwordsecure.server.demo -i "$repo/scripts/demo-inventory.yml" \
      -e ansible_python_interpreter="$host_python" -e passwordsecure_demo_root="$root/.demo" >"$out" 2>&1
    rc=$?
    cat "$out"
    [ "$rc" -eq 0 ] || { echo "demo: run $run failed (exit $rc)"; return 1; }
  done
  # The summary line, as one line (the YAML callback folds long messages)
  tr -s ' \n' '  ' <"$root/run1.txt" | grep -q 'Relocation succeeded: 5 certificates, 5 imported, 5/5 proofs passed' \
    || { echo "demo: the first run did not relocate and prove the 5 certificates"; return 1; }
  tr -s ' \n' '  ' <"$root/run2.txt" | grep -q 'Relocation succeeded: 5 certificates, 0 imported, 5/5 proofs passed' \
    || { echo "demo: the rerun did not find the 5 certificates on the target and prove them again"; return 1; }
  # The rerun changes no store; localhost (the controller) writes the rerun's new report.
  grep -Eq '^server1 +: ok=' "$root/run2.txt" || { echo "demo: no recap of server1 in the rerun"; return 1; }
  if grep -E '^[^ ]+ +: ok=' "$root/run2.txt" | grep -v '^localhost ' | grep -Ev ' changed=0 .* failed=0 '; then
    echo "demo: the rerun changed a server (above)"; return 1
  fi
  [ "$(find "$root/.demo/reports" -name '*-server1-to-server2.md' | wc -l)" -eq 2 ] \
    || { echo "demo: not one Markdown report per run in $root/.demo/reports"; return 1; }
}

run_row() {  # run_row CORE: runs the row into its log; its summary into $work/CORE.summary, its status into CORE.rc
  local core=$1 line host ctl host_python start rc=0 demo_start
  line=${row_of[$core]}
  host=$(field "$line" 1)
  ctl=$(controller_venv "$core")
  start=$(date +%s.%N)
  if [ -n "${COMPAT_HOST_PYTHON:-}" ]; then host_python=$COMPAT_HOST_PYTHON
  elif [ "${host:0:1}" = / ]; then host_python=$host
  else host_python=$(host_venv "$host")/bin/python
  fi
  {
    echo "=== compat $core: $(field "$line" 2)"
    [ -n "${COMPAT_HOST_PYTHON:-}" ] && echo "host Python forced by COMPAT_HOST_PYTHON"
    if [ ! -x "$ctl/bin/ansible-playbook" ]; then
      echo "FAIL  0.0s  controller venv $ctl (see the venv errors above)"; rc=1
    elif ! "$host_python" -c 'import cryptography, asn1crypto' 2>/dev/null; then
      echo "FAIL  0.0s  managed-host Python $host_python: cannot import cryptography and asn1crypto"
      [ "$host_python" = /usr/bin/python3 ] && echo "  (as root: apt-get install python3-cryptography python3-asn1crypto)"
      rc=1
    else
      "$ctl/bin/ansible-playbook" --version | sed -n 1p
      "$host_python" -c 'import sys, cryptography, asn1crypto; print("managed host: Python %s, cryptography %s, asn1crypto %s"
        % (sys.version.split()[0], cryptography.__version__, asn1crypto.__version__))'
      ANSIBLE_PLAYBOOK="$ctl/bin/ansible-playbook" ANSIBLE_PYTHON_INTERPRETER="$host_python" \
        bash "$repo/tests/integration/run-playbooks.sh" "${targets[@]}" </dev/null || rc=1
      echo "=== demo"
      demo_start=$(date +%s.%N)
      if demo "$ctl" "$host_python"; then
        echo "PASS  $(took "$demo_start" %.1f)s  demo (relocated and proved; the rerun changed no server)"
      else
        echo "FAIL  $(took "$demo_start" %.1f)s  demo"; rc=1
      fi
    fi
  } >"$COMPAT_LOGS/$core.log" 2>&1
  {
    sed -n 1,4p "$COMPAT_LOGS/$core.log" | grep -E '^(=== compat|host Python forced|ansible-playbook \[|managed host:)'
    # The targets' lines (the integration script's summary) and the demo's; under each failure its last errors (the
    # targets fail tasks on purpose too, and rescue them, before the one that failed the run).
    grep -E '^(PASS|FAIL)  ' "$COMPAT_LOGS/$core.log" | while IFS= read -r result; do
      echo "$result"
      case "$result" in
        FAIL*)
          name=$(awk '{ print $3 }' <<<"$result")
          awk -v t="=== $name" '$0 == t { on = 1; next } /^=== / { on = 0 } on' "$COMPAT_LOGS/$core.log" \
            | grep -E 'fatal: |ERROR|"msg": |^demo: ' | grep -v 'All assertions passed' | tail -n 3 | cut -c1-300 \
            | sed 's/^/      /'
          ;;
      esac
    done
    printf -- '--- %s: %s (%s s)  full output: %s\n' "$core" "$([ "$rc" -eq 0 ] && echo PASS || echo FAIL)" \
      "$(took "$start")" "$COMPAT_LOGS/$core.log"
  } >"$work/$core.summary"
  # The row in one line: the versions it ran with, how many of its steps passed, its time
  printf '%s  %5s s  %s: %s; %s; %d of %d passed\n' "$([ "$rc" -eq 0 ] && echo PASS || echo FAIL)" "$(took "$start")" \
    "$core" "$(grep -m1 -o 'core [0-9.]*' "$COMPAT_LOGS/$core.log" | sed 's/^core /ansible-core /')" \
    "$(grep -m1 '^managed host: ' "$COMPAT_LOGS/$core.log" | sed 's/^managed host: /host /')" \
    "$(grep -cE '^PASS  ' "$COMPAT_LOGS/$core.log")" "$(grep -cE '^(PASS|FAIL)  ' "$COMPAT_LOGS/$core.log")" \
    >"$work/$core.line"
  echo "$rc" >"$work/$core.rc"
}

# The targets: the roles' first, as they take longest (each runs nested ansible-playbooks), so that the JOBS slots
# end together; then the modules'; then the secret scan.
if [ -n "${COMPAT_TARGETS:-}" ]; then
  read -r -a targets <<<"$COMPAT_TARGETS"
else
  targets=()
  for dir in "$repo/tests/integration/targets"/role_*/; do
    [ -f "$dir/tasks/main.yml" ] && targets+=("$(basename "$dir")")
  done
  for dir in "$repo/tests/integration/targets"/*/; do
    name=$(basename "$dir")
    case "$name" in role_* | setup_* | prepare_*) continue ;; esac
    [ -f "$dir/tasks/main.yml" ] && targets+=("$name")
  done
  targets+=(secret-scan)
fi

started=$(date +%s.%N)
for core in "${rows[@]}"; do
  while [ "$(jobs -rp | wc -l)" -ge "$COMPAT_PARALLEL" ]; do wait -n; done
  echo "running row $core (log: $COMPAT_LOGS/$core.log)"
  run_row "$core" &
done
wait

passed=0 failed=0
for core in "${rows[@]}"; do
  echo
  cat "$work/$core.summary" 2>/dev/null || echo "--- $core: FAIL (no summary)"
  if [ "$(cat "$work/$core.rc" 2>/dev/null)" = 0 ]; then passed=$((passed + 1)); else failed=$((failed + 1)); fi
done
echo
echo "compat: ${#rows[@]} row(s) in $(took "$started") s"
for core in "${rows[@]}"; do cat "$work/$core.line" 2>/dev/null || echo "FAIL  $core: no result"; done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
