#!/usr/bin/env bash
# The main job on an embedded default, on a fresh machine, without root or setup:
#   bash scripts/demo.sh
# makes a virtual environment with the runtime requirements (.venv-run), points Ansible at this
# checkout as the collection passwordsecure.server, and runs the playbook passwordsecure.server.demo: two
# servers on this machine (scripts/demo-inventory.yml, stores in .demo/server1 and .demo/server2), a realistic
# certificate set on the first, the database sales relocated to the second, verified, and the report in
# .demo/reports. Extra arguments go to ansible-playbook (-v, --check, --diff).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
venv=${VENV_RUN:-$root/.venv-run}
python=${PYTHON:-python3}
stamp=$(sha256sum < "$root/requirements.txt" | cut -c1-16)
if [ "$(cat "$venv/.stamp" 2>/dev/null)" != "$stamp" ]; then
  echo "making the virtual environment $venv (once)"
  rm -rf "$venv"
  "$python" -m venv "$venv"
  "$venv/bin/python" -m pip install -q --upgrade pip 2>/dev/null >&2
  "$venv/bin/python" -m pip install -q -r "$root/requirements.txt" 2> >(grep -v '^WARNING: Location' >&2)
  echo "$stamp" > "$venv/.stamp"
fi
# Ansible finds collections as ansible_collections/<namespace>/<name>; a link to this checkout does.
colls="$venv/collections"
mkdir -p "$colls/ansible_collections/passwordsecure"
ln -sfn "$root" "$colls/ansible_collections/passwordsecure/server"
export ANSIBLE_COLLECTIONS_PATH="$colls" ANSIBLE_HOME="$venv/ansible-home" ANSIBLE_LOCALHOST_WARNING=false
export ANSIBLE_STDOUT_CALLBACK=default ANSIBLE_CALLBACK_RESULT_FORMAT=yaml
mkdir -p "$root/.demo"
exec "$venv/bin/ansible-playbook" passwordsecure.server.demo -i "$root/scripts/demo-inventory.yml" \
  -e ansible_python_interpreter="$venv/bin/python" -e passwordsecure_demo_root="$root/.demo" "$@"
