#!/usr/bin/env bash
# Copyright (c) passwordsecure.server contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# Run the integration targets with plain ansible-playbook against localhost
# (local connection), then the secret scan. The same targets also run under
# `ansible-test integration --local`; this script needs no ansible-test.
#
# Usage: tests/integration/run-playbooks.sh [TARGET...]
#   default: every target but setup_*/prepare_*, then secret-scan.sh; name secret-scan to run just that.
#
# Environment:
#   ANSIBLE_PYTHON_INTERPRETER  the Python that runs the modules on localhost
#                               (default: /tmp/venv/bin/python if it exists, else python3).
#                               Run once with the venv's Python and once with /usr/bin/python3
#                               (Debian's cryptography 38).
#   COLLECTIONS_ROOT            the folder holding ansible_collections/ (default /tmp/coll); when
#                               ansible_collections/passwordsecure/server is missing there, it is
#                               created as a symlink to this repository.
#   ANSIBLE_PLAYBOOK            the ansible-playbook to run (default: from PATH, else /tmp/venv/bin).
#   VERBOSITY                   extra ansible-playbook flags, for example -vvv (default none).
#   SKIP_TARGETS                shell patterns of targets to leave out of the default list, for
#                               example 'role_*' (default none).
#   JOBS                        targets run at the same time (default: the number of cores); each
#                               has its own temp dir, and its output is printed whole when it ends.
#
# Prints one line per target with its time, then "N passed, M failed"; exits non-zero on any failure.
#
# Writing a target: read, list and set up files with ansible.builtin.raw, not with command, shell, stat, find,
# file, copy or slurp. A Python module call costs about 0.33 CPU-s here, raw about 0.005, and every target runs
# five times in tests/run (step integration and the four compat rows). raw takes no environment: quote each
# value into the command, and keep a password in a command or module task's environment, never on a command
# line. setup_store/tasks/main.yml shows the pattern.
set -uo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
targets_dir="$here/targets"

COLLECTIONS_ROOT=${COLLECTIONS_ROOT:-/tmp/coll}
if [ -z "${ANSIBLE_PYTHON_INTERPRETER:-}" ]; then
    if [ -x /tmp/venv/bin/python ]; then ANSIBLE_PYTHON_INTERPRETER=/tmp/venv/bin/python; else ANSIBLE_PYTHON_INTERPRETER=$(command -v python3); fi
fi
if [ -z "${ANSIBLE_PLAYBOOK:-}" ]; then
    ANSIBLE_PLAYBOOK=$(command -v ansible-playbook || echo /tmp/venv/bin/ansible-playbook)
fi
export ANSIBLE_PYTHON_INTERPRETER ANSIBLE_PLAYBOOK COLLECTIONS_ROOT

link="$COLLECTIONS_ROOT/ansible_collections/passwordsecure/server"
if [ ! -e "$link" ]; then
    mkdir -p "$(dirname "$link")"
    ln -s "$repo" "$link"
elif [ "$(cd "$link" && pwd -P)" != "$(cd "$repo" && pwd -P)" ]; then
    echo "note: $link is not this repository ($repo); testing what it holds" >&2
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/psr-integration.XXXXXX")
trap 'rm -rf -- "$work"' EXIT

# shellcheck source=tests/integration/private-ansible-env.sh
. "$here/private-ansible-env.sh"
export ANSIBLE_ROLES_PATH="$targets_dir"
export ANSIBLE_DEPRECATION_WARNINGS=true

"$ANSIBLE_PYTHON_INTERPRETER" -c 'import sys, cryptography; print("managed-host Python %s, cryptography %s" % (sys.version.split()[0], cryptography.__version__))' \
    || { echo "cannot run $ANSIBLE_PYTHON_INTERPRETER with cryptography" >&2; exit 2; }
"$ANSIBLE_PLAYBOOK" --version | sed -n 1p

if [ "$#" -gt 0 ]; then
    targets=("$@")
else
    targets=()
    for dir in "$targets_dir"/*/; do
        name=$(basename "$dir")
        case "$name" in setup_* | prepare_*) continue ;; esac
        skip=no
        for pattern in ${SKIP_TARGETS:-}; do
            # shellcheck disable=SC2254 # the pattern is meant to match
            case "$name" in $pattern) skip=yes ;; esac
        done
        [ "$skip" = yes ] && { echo "skipped: $name (SKIP_TARGETS)"; continue; }
        [ -f "$dir/tasks/main.yml" ] && targets+=("$name")
    done
fi

passed=0
failed=0
summary=()

run_step() {  # run_step NAME COMMAND...: run, time and count one step
    local name=$1 start end rc
    shift
    echo "=== $name"
    start=$(date +%s.%N)
    "$@"
    rc=$?
    end=$(date +%s.%N)
    local took
    took=$(awk -v s="$start" -v e="$end" 'BEGIN { printf "%.1f", e - s }')
    if [ "$rc" -eq 0 ]; then
        passed=$((passed + 1))
        summary+=("PASS  ${took}s  $name")
    else
        failed=$((failed + 1))
        summary+=("FAIL  ${took}s  $name (exit $rc)")
    fi
}

run_target() {
    local target=$1 playbook="$work/$1.yml"
    if [ ! -f "$targets_dir/$target/tasks/main.yml" ]; then
        echo "no target $target in $targets_dir" >&2
        return 2
    fi
    cat >"$playbook" <<EOF
- name: Integration target $target
  hosts: localhost
  gather_facts: false
  roles:
    - role: $target
EOF
    # shellcheck disable=SC2086 # VERBOSITY is a list of flags
    "$ANSIBLE_PLAYBOOK" -i localhost, -c local \
        -e "ansible_python_interpreter=$ANSIBLE_PYTHON_INTERPRETER" ${VERBOSITY:-} "$playbook"
}

# The targets are mostly Ansible's own work in one process each: run JOBS of them at a time.
jobs_max=${JOBS:-$(nproc 2>/dev/null || echo 2)}
run_logged() {  # run_logged TARGET: run one target into its log, and its exit code and time into files
    local target=$1 start end rc
    start=$(date +%s.%N)
    run_target "$target" >"$work/$target.log" 2>&1
    rc=$?
    end=$(date +%s.%N)
    echo "$rc" >"$work/$target.rc"
    awk -v s="$start" -v e="$end" 'BEGIN { printf "%.1f", e - s }' >"$work/$target.took"
}
report() {  # report TARGET: print its output and count it
    local target=$1 rc took
    echo "=== $target"
    cat "$work/$target.log"
    rc=$(cat "$work/$target.rc") took=$(cat "$work/$target.took")
    if [ "$rc" -eq 0 ]; then
        passed=$((passed + 1)); summary+=("PASS  ${took}s  $target")
    else
        failed=$((failed + 1)); summary+=("FAIL  ${took}s  $target (exit $rc)")
    fi
}
started=()
for target in "${targets[@]}"; do
    [ "$target" = secret-scan ] && continue
    while [ "$(jobs -rp | wc -l)" -ge "$jobs_max" ]; do wait -n; done
    run_logged "$target" &
    started+=("$target")
done
wait
for target in "${started[@]}"; do report "$target"; done
if [ "$#" -eq 0 ] || printf '%s\n' "$@" | grep -qx secret-scan; then
    run_step secret-scan "$here/secret-scan.sh"
fi
echo
printf '%s\n' "${summary[@]}"
echo "python: $ANSIBLE_PYTHON_INTERPRETER"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
