#!/usr/bin/env bash
# Copyright (c) passwordsecure.server contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# Secret hygiene, end to end: run playbooks that use store_password at -vvv with
# diff mode, capture ALL output (stdout, stderr and the Ansible log file), and
# fail if any of these shows up in it:
#   - the store password, a wrong password that was tried, or the key passphrase
#     derived from the store password (computed here with openssl kdf);
#   - "PRIVATE KEY", or a base64 line of any private key the store held;
#   - "********" (a value Ansible masked because a module echoed a no_log value).
#
# Environment as for run-playbooks.sh: ANSIBLE_PYTHON_INTERPRETER, COLLECTIONS_ROOT,
# ANSIBLE_PLAYBOOK. Exits non-zero on any finding. Needs openssl, grep, base64, od.
set -euo pipefail

COLLECTIONS_ROOT=${COLLECTIONS_ROOT:-/tmp/coll}
if [ -z "${ANSIBLE_PYTHON_INTERPRETER:-}" ]; then
    if [ -x /tmp/venv/bin/python ]; then ANSIBLE_PYTHON_INTERPRETER=/tmp/venv/bin/python; else ANSIBLE_PYTHON_INTERPRETER=$(command -v python3); fi
fi
ANSIBLE_PLAYBOOK=${ANSIBLE_PLAYBOOK:-$(command -v ansible-playbook || echo /tmp/venv/bin/ansible-playbook)}

work=$(mktemp -d "${TMPDIR:-/tmp}/psr-secret-scan.XXXXXX")
chmod 0700 "$work"
trap 'rm -rf -- "$work"' EXIT
store="$work/store"
output="$work/output.txt"

# shellcheck source=tests/integration/private-ansible-env.sh
. "$(dirname "${BASH_SOURCE[0]}")/private-ansible-env.sh"
export ANSIBLE_LOG_PATH="$work/ansible.log"

fail() { echo "secret-scan: FAIL: $*" >&2; exit 1; }

# Fresh secrets every run, so that nothing else can hold them by chance.
password="scan-$(openssl rand -hex 12)-Pässwort ✓"
wrong="wrong-$(openssl rand -hex 12)"
umask 077
printf 'psr_scan_password: "%s"\npsr_scan_wrong: "%s"\npsr_scan_store: "%s"\n' "$password" "$wrong" "$store" >"$work/secrets.yml"

cat >"$work/write.yml" <<'EOF'
- name: Secret scan, part 1 - write an encrypted store
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Every kind, with a store password, in diff mode
      passwordsecure.server.certificate:
        store_path: "{{ psr_scan_store }}"
        store_password: "{{ psr_scan_password }}"
        certificates:
          - {kind: database, identity: sales}
          - {kind: database, identity: Продажи}
          - {kind: master_key, identity: Corp.Example.COM}
          - {kind: discovery_service, identity: scan}
          - {kind: password_reset, identity: self-service}
          - {kind: server_encryption}
        key_size: 2048
      diff: true
      register: psr_scan_created

    - name: Show everything the module returned
      ansible.builtin.debug:
        var: psr_scan_created

    - name: One more certificate, in check mode, then for real
      passwordsecure.server.certificate:
        store_path: "{{ psr_scan_store }}"
        store_password: "{{ psr_scan_password }}"
        kind: database
        identity: to-be-removed
        key_size: 2048
      diff: true
      check_mode: "{{ item }}"
      loop: [true, false]
EOF

cat >"$work/use.yml" <<'EOF'
- name: Secret scan, part 2 - use, fail on and shrink the encrypted store
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Rerun with the password
      passwordsecure.server.certificate:
        store_path: "{{ psr_scan_store }}"
        store_password: "{{ psr_scan_password }}"
        certificates:
          - {kind: database, identity: sales}
          - {kind: master_key, identity: corp.example.com}
        key_size: 2048
      diff: true
      register: psr_scan_rerun

    - name: Show the rerun's result
      ansible.builtin.debug:
        var: psr_scan_rerun

    - name: A wrong password, a missing password, and a password given to certificate_info
      block:
        - name: Wrong password
          passwordsecure.server.certificate:
            store_path: "{{ psr_scan_store }}"
            store_password: "{{ psr_scan_wrong }}"
            kind: database
            identity: new
            key_size: 2048
          diff: true
          ignore_errors: true
          register: psr_scan_wrong_result

        - name: Show the failure
          ansible.builtin.debug:
            var: psr_scan_wrong_result

        - name: Missing password
          passwordsecure.server.certificate:
            store_path: "{{ psr_scan_store }}"
            kind: database
            identity: new
            key_size: 2048
          ignore_errors: true

        - name: Report with a password given
          passwordsecure.server.certificate_info:
            store_path: "{{ psr_scan_store }}"
            store_password: "{{ psr_scan_password }}"
          register: psr_scan_info

        - name: Show the report
          ansible.builtin.debug:
            var: psr_scan_info

    - name: Remove one certificate with its key
      passwordsecure.server.certificate:
        store_path: "{{ psr_scan_store }}"
        store_password: "{{ psr_scan_password }}"
        kind: database
        identity: to-be-removed
        state: absent
      diff: true

    - name: Exclusive, in check mode
      passwordsecure.server.certificate:
        store_path: "{{ psr_scan_store }}"
        store_password: "{{ psr_scan_password }}"
        certificates:
          - {kind: database, identity: sales}
        exclusive: true
      diff: true
      check_mode: true
EOF

run() {  # run PLAYBOOK: -vvv, diff, everything appended to $output
    # shellcheck disable=SC2094 # different files
    "$ANSIBLE_PLAYBOOK" -vvv -i localhost, -c local -e "ansible_python_interpreter=$ANSIBLE_PYTHON_INTERPRETER" \
        -e "@$work/secrets.yml" "$1" >>"$output" 2>&1 || {
        tail -n 60 "$output" >&2
        fail "ansible-playbook $(basename "$1") failed"
    }
}

key_lines() {  # the base64 body lines of every private key in the store
    sed -n '/-----BEGIN .*PRIVATE KEY-----/,/-----END .*PRIVATE KEY-----/{/-----/d;p}' "$store"/entries/*.pem
}

run "$work/write.yml"
key_lines >"$work/key-lines.txt"
keys_after_write=$(grep -l 'PRIVATE KEY' "$store"/entries/*.pem | wc -l)
run "$work/use.yml"
key_lines >>"$work/key-lines.txt"
cat "$ANSIBLE_LOG_PATH" >>"$output"

# The passphrase each key is encrypted with, derived from the store password
# with openssl, as docs/store-format.md describes.
salt=$(sed -n 's/.*"salt": "\([^"]*\)".*/\1/p' "$store/index.json" | base64 -d | od -An -v -tx1 | tr -d ' \n')
iterations=$(sed -n 's/.*"iterations": \([0-9]*\).*/\1/p' "$store/index.json")
if [ -z "$salt" ] || [ -z "$iterations" ]; then fail "the store's index has no key_protection salt and iterations"; fi
passphrase=$(openssl kdf -keylen 32 -kdfopt digest:SHA256 -kdfopt "pass:$password" -kdfopt "hexsalt:$salt" \
    -kdfopt "iter:$iterations" PBKDF2 | tr -d ':\n' | tr 'A-F' 'a-f')

# The scan must be able to fail: make sure there is something to look for.
sort -u "$work/key-lines.txt" | awk 'length($0) >= 16' >"$work/patterns.txt"
key_line_count=$(wc -l <"$work/patterns.txt")
[ "$keys_after_write" -eq 7 ] || fail "expected 7 keys in the store after part 1, found $keys_after_write"
[ "$key_line_count" -ge $((7 * 20)) ] || fail "only $key_line_count key lines collected from the store"
entry_files=("$store"/entries/*.pem)
first_key=$(sed -n '/-----BEGIN .*PRIVATE KEY-----/,/-----END .*PRIVATE KEY-----/{/-----/d;p}' "${entry_files[0]}")
PSR_PASSPHRASE=$passphrase openssl pkey -in "${entry_files[0]}" -passin env:PSR_PASSPHRASE -noout 2>/dev/null \
    || fail "the derived passphrase does not open a key of the store: the scan would look for the wrong secret"
[ -n "$first_key" ] || fail "no key found in the store's entry files"
printf '%s\n%s\n%s\n' "$password" "$wrong" "$passphrase" >>"$work/patterns.txt"
[ "$(wc -c <"$output")" -gt 20000 ] || fail "the captured output is suspiciously short"
grep -q '"module_args"' "$output" || fail "the output does not show module arguments (-vvv)"
thumbprints=$(sed -n 's/.*"thumbprint": "\([0-9A-F]\{40\}\)".*/\1/p' "$store/index.json")
[ "$(printf '%s\n' "$thumbprints" | grep -c .)" -eq 6 ] || fail "expected 6 thumbprints in the index after part 2"
while read -r thumbprint; do
    grep -q "$thumbprint" "$output" || fail "the output does not show the thumbprint $thumbprint: results were not captured"
done <<<"$thumbprints"
grep -q 'store_password is not the password' "$output" || fail "the wrong-password failure is not in the output"
cp "$output" "$work/planted.txt"
printf 'leak: %s\n' "$(printf '%s\n' "$first_key" | sed -n 5p)" >>"$work/planted.txt"
grep -q -F -f "$work/patterns.txt" "$work/planted.txt" || fail "self-test: a planted key line was not found"

# The scan.
findings=0
if grep -n -F -f "$work/patterns.txt" "$output" >"$work/hits.txt"; then
    echo "secret-scan: the output holds a password, the derived passphrase or a key line (line numbers only):" >&2
    cut -d: -f1 "$work/hits.txt" | head -n 20 >&2
    findings=$((findings + 1))
fi
if grep -n -F -e 'PRIVATE KEY' "$output" >"$work/pk.txt"; then
    echo "secret-scan: the output holds 'PRIVATE KEY' at line(s) $(cut -d: -f1 "$work/pk.txt" | head -n 5 | tr '\n' ' ')" >&2
    findings=$((findings + 1))
fi
# Ansible's mask for a no_log value, outside the banner lines (TASK [...] ****...).
banner='^([0-9-]+ [0-9:,]+ .*\| )?(PLAYBOOK|PLAY|TASK|RUNNING HANDLER|PLAY RECAP)\b.*\*+$'
if grep -n -v -E "$banner" "$output" | grep -E '(^|[^*])[*]{8}([^*]|$)' >"$work/masked.txt"; then
    echo "secret-scan: the output holds a masked value '********' at line(s) $(cut -d: -f1 "$work/masked.txt" | head -n 5 | tr '\n' ' ')" >&2
    findings=$((findings + 1))
fi
if grep -n -E 'MII[A-Za-z0-9+/=]{40,}' "$output" >"$work/der.txt"; then
    echo "secret-scan: the output holds base64 DER (line(s) $(cut -d: -f1 "$work/der.txt" | head -n 5 | tr '\n' ' '))" >&2
    findings=$((findings + 1))
fi
if grep -q -F -f <(printf '%s\n%s\n' "$password" "$passphrase") "$store/index.json"; then
    echo "secret-scan: the store's index holds the password or the derived passphrase" >&2
    findings=$((findings + 1))
fi

[ "$findings" -eq 0 ] || fail "$findings finding(s) in $(wc -l <"$output") lines of output"
echo "secret-scan: ok ($(wc -l <"$output") lines of -vvv output, $key_line_count key lines, 3 secrets; none found)"
