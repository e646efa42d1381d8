# shellcheck shell=bash
# Sourced by the test scripts that keep a virtual environment of their own (tests/ee/run.sh, tests/docs/run.sh).
# ensure_venv VENV PYTHON REQUIREMENTS [STAMPED...]: make VENV with PYTHON and pip install -r REQUIREMENTS, unless
# its stamp (a hash of REQUIREMENTS and the STAMPED files) says it is up to date; pip's notes on this machine's
# index settings are left out. Returns non-zero, with a message, when the venv cannot be made.
ensure_venv() {
  local venv=$1 python=$2 requirements=$3 stamp
  shift 3
  stamp=$(cat "$requirements" "$@" | sha256sum | cut -c1-16)
  [ "$(cat "$venv/.stamp" 2>/dev/null)" = "$stamp" ] && return 0
  echo "making the virtual environment $venv (once)"
  rm -rf "$venv"
  "$python" -m venv "$venv" || { echo "$python -m venv $venv failed" >&2; return 1; }
  "$venv/bin/python" -m pip install -q --upgrade pip 2>/dev/null >&2
  "$venv/bin/python" -m pip install -q -r "$requirements" 2> >(grep -v '^WARNING: Location' >&2) \
    || { echo "pip install -r $requirements failed" >&2; return 1; }
  echo "$stamp" >"$venv/.stamp"
}
