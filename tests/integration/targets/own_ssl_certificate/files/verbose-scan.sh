#!/usr/bin/env bash
# Copyright (c) passwordsecure.server contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# Secret hygiene of a PEM import with an encrypted key, end to end:
#   verbose-scan.sh DIR PKI STORE
# runs a small playbook with `ansible-playbook -vvv --diff` that imports PKI/chain.pem with the encrypted key
# PKI/leaf-enc.key (private_key_path, the passphrase as password) into STORE, in check mode and for real, shows the
# results, and tries a wrong password once. Everything it prints (stdout, stderr and Ansible's log) is searched for:
#   - the key's passphrase and the wrong password;
#   - every base64 line of the private key, as the three key files of PKI hold it (unencrypted PKCS#8, encrypted
#     PKCS#8, legacy encrypted PKCS#1) and as the store's entry file holds it after the import;
#   - "PRIVATE KEY", a run of base64 DER ("MII" and 40 more), and "********" (Ansible's mask of a no_log value
#     that a result echoed) outside the banner lines.
# The secrets come through the environment, never a command line: PSR_KEY_PASSPHRASE, PSR_WRONG_PASSWORD;
# PSR_THUMBPRINT is the certificate's thumbprint, which must show in the output (proof that it holds the
# results). ANSIBLE_PLAYBOOK and PSR_PYTHON (the managed host's Python) as run-playbooks.sh sets them.
# Prints one line per finding (line numbers only, never the match) and exits non-zero on any.
set -euo pipefail

dir=$1
pki=$2
store=$3
: "${PSR_KEY_PASSPHRASE:?}" "${PSR_WRONG_PASSWORD:?}" "${PSR_THUMBPRINT:?}" "${ANSIBLE_PLAYBOOK:?}" "${PSR_PYTHON:?}"
output="$dir/output.txt"
umask 077
fail() { echo "verbose-scan: FAIL: $*" >&2; exit 1; }

# The secrets as extra vars, in a file (JSON written by Python from the environment).
"$PSR_PYTHON" -c 'import json, os, sys
json.dump({"scan_passphrase": os.environ["PSR_KEY_PASSPHRASE"], "scan_wrong": os.environ["PSR_WRONG_PASSWORD"],
           "scan_pki": sys.argv[1], "scan_store": sys.argv[2]}, open(sys.argv[3], "w"))' "$pki" "$store" "$dir/secrets.json"

cat >"$dir/playbook.yml" <<'EOF'
- name: Verbose secret check - import your own certificate with an encrypted key
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Import the PEM with the encrypted key, in check mode and for real, in diff mode
      passwordsecure.server.certificate_import:
        store_path: "{{ scan_store }}"
        path: "{{ scan_pki }}/chain.pem"
        private_key_path: "{{ scan_pki }}/leaf-enc.key"
        password: "{{ scan_passphrase }}"
        format: pem
        kind: ssl
      diff: true
      check_mode: "{{ item }}"
      loop: [true, false]
      register: scan_imported

    - name: Show the results
      ansible.builtin.debug:
        var: scan_imported

    - name: A wrong password
      passwordsecure.server.certificate_import:
        store_path: "{{ scan_store }}"
        path: "{{ scan_pki }}/chain.pem"
        private_key_path: "{{ scan_pki }}/leaf-enc.key"
        password: "{{ scan_wrong }}"
        format: pem
        kind: ssl
      diff: true
      register: scan_wrong_result
      ignore_errors: true

    - name: Show the failure
      ansible.builtin.debug:
        var: scan_wrong_result
EOF

ANSIBLE_LOG_PATH="$dir/ansible.log" "$ANSIBLE_PLAYBOOK" -vvv --diff -i localhost, -c local \
    -e "ansible_python_interpreter=$PSR_PYTHON" -e "@$dir/secrets.json" "$dir/playbook.yml" >"$output" 2>&1 \
    || { tail -n 40 "$output" >&2; fail "ansible-playbook failed"; }
cat "$dir/ansible.log" >>"$output"

# What to look for: the secrets and every key line (16 characters or more; headers such as DEK-Info left out).
key_lines() { sed -n '/-----BEGIN .*PRIVATE KEY-----/,/-----END .*PRIVATE KEY-----/{/-----/d;/:/d;p}' "$@"; }
{
    key_lines "$pki/leaf.key" "$pki/leaf-enc.key" "$pki/leaf-legacy.key" "$store"/entries/*.pem
} | awk 'length($0) >= 16' | sort -u >"$dir/patterns.txt"
key_line_count=$(wc -l <"$dir/patterns.txt")
printf '%s\n%s\n' "$PSR_KEY_PASSPHRASE" "$PSR_WRONG_PASSWORD" >>"$dir/patterns.txt"

# The scan must be able to fail: the output is the real thing, and a planted key line is found.
[ "$key_line_count" -ge 60 ] || fail "only $key_line_count key lines to look for"
[ "$(grep -c -- '-----BEGIN PRIVATE KEY-----' "$store"/entries/*.pem)" -eq 1 ] || fail "the store holds no key: the import did not run"
[ "$(wc -c <"$output")" -gt 10000 ] || fail "the output is suspiciously short"
grep -q '"module_args"' "$output" || fail "the output does not show module arguments (-vvv)"
grep -q "$PSR_THUMBPRINT" "$output" || fail "the output does not show the certificate's thumbprint: results were not captured"
grep -q '"action": "added"' "$output" || fail "the import's result is not in the output"
grep -q 'does not open with the password given' "$output" || fail "the wrong password's failure is not in the output"
grep -q 'chain=' "$output" || fail "the diff is not in the output"
planted=$(key_lines "$pki/leaf.key" | sed -n 7p)
printf 'text before %s text after\n' "$planted" | grep -q -F -f "$dir/patterns.txt" || fail "self-test: a planted key line was not found"
printf 'text before %s text after\n' "$PSR_KEY_PASSPHRASE" | grep -q -F -f "$dir/patterns.txt" \
    || fail "self-test: a planted passphrase was not found"

findings=0
# shellcheck source=tests/integration/scan-output.sh
. "$(dirname "${BASH_SOURCE[0]}")/../../../scan-output.sh"
scan_output verbose-scan "$output" "$dir/patterns.txt" "$dir"
[ "$findings" -eq 0 ] || fail "$findings finding(s) in $(wc -l <"$output") lines of output"
echo "verbose-scan: ok ($(wc -l <"$output") lines of -vvv output, $key_line_count key lines, 2 passwords; none found)"
