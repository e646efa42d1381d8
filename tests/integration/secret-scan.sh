#!/usr/bin/env bash
# Copyright (c) passwordsecure.server contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# Secret hygiene, end to end: run playbooks that use store_password at -vvv with
# diff mode, then export the certificates as PKCS#12 (to files and as content)
# and import them into two more stores, capture ALL output (stdout, stderr and
# the Ansible log file), and fail if any of these shows up in it:
#   - a store password, a wrong password that was tried, or the key passphrase
#     derived from a store password (computed here with openssl kdf);
#   - the PKCS#12 transfer password, or a wrong one that was tried;
#   - "PRIVATE KEY", or a base64 line of any private key a store held, as its
#     entry file holds it and unencrypted (as it travels inside PKCS#12);
#   - the base64 PKCS#12 an export returned (return_content), whole or any
#     64-character piece of it: the task that registers it uses no_log;
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
store_b="$work/store-b"  # imports an exported file, with a store password of its own
store_c="$work/store-c"  # imports returned content, keys unencrypted
output="$work/output.txt"

# shellcheck source=tests/integration/private-ansible-env.sh
. "$(dirname "${BASH_SOURCE[0]}")/private-ansible-env.sh"
export ANSIBLE_LOG_PATH="$work/ansible.log"

fail() { echo "secret-scan: FAIL: $*" >&2; exit 1; }

# Fresh secrets every run, so that nothing else can hold them by chance.
password="scan-$(openssl rand -hex 12)-Pässwort ✓"
wrong="wrong-$(openssl rand -hex 12)"
password_b="scan-b-$(openssl rand -hex 12)-Störe ✓"
transfer="transfer-$(openssl rand -hex 12)-Übertragung ✓"
transfer_wrong="transfer-wrong-$(openssl rand -hex 12)"
umask 077
{
    printf 'psr_scan_password: "%s"\npsr_scan_wrong: "%s"\npsr_scan_store: "%s"\n' "$password" "$wrong" "$store"
    printf 'psr_scan_password_b: "%s"\npsr_scan_store_b: "%s"\npsr_scan_store_c: "%s"\n' "$password_b" "$store_b" "$store_c"
    printf 'psr_scan_transfer: "%s"\npsr_scan_transfer_wrong: "%s"\npsr_scan_dir: "%s"\n' "$transfer" "$transfer_wrong" "$work"
} >"$work/secrets.yml"

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

cat >"$work/transfer.yml" <<'EOF'
- name: Secret scan, part 3 - export the encrypted store as PKCS#12, import it into two more stores
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Export to files, in both profiles, in diff mode; then the first again (unchanged)
      passwordsecure.server.certificate_export:
        store_path: "{{ psr_scan_store }}"
        store_password: "{{ psr_scan_password }}"
        database: "{{ item.database | default(omit) }}"
        kind: "{{ item.kind | default(omit) }}"
        path: "{{ psr_scan_dir }}/{{ item.file }}"
        password: "{{ psr_scan_transfer }}"
        encryption: "{{ item.encryption }}"
      diff: true
      loop:
        - {database: [sales], file: sales.pfx, encryption: modern}
        - {kind: master_key, file: master-keys.pfx, encryption: compatibility}
        - {database: [sales], file: sales.pfx, encryption: modern}
      register: psr_scan_exported

    - name: Show the exports' results
      ansible.builtin.debug:
        var: psr_scan_exported

    - name: Export as content, in both profiles (the content holds the keys - no_log)
      passwordsecure.server.certificate_export:
        store_path: "{{ psr_scan_store }}"
        store_password: "{{ psr_scan_password }}"
        database: [Продажи]
        return_content: true
        password: "{{ psr_scan_transfer }}"
        encryption: "{{ item }}"
      diff: true
      loop: [modern, compatibility]
      register: psr_scan_content
      no_log: true

    - name: Keep the contents for the scan, which looks for them in the output
      ansible.builtin.copy:
        content: "{{ item.content }}"
        dest: "{{ psr_scan_dir }}/content-{{ item.item }}.b64"
        mode: "0600"
      loop: "{{ psr_scan_content.results }}"
      no_log: true

    - name: Import the file into a store with its own store password, in check mode and for real
      passwordsecure.server.certificate_import:
        store_path: "{{ psr_scan_store_b }}"
        store_password: "{{ psr_scan_password_b }}"
        path: "{{ psr_scan_dir }}/sales.pfx"
        password: "{{ psr_scan_transfer }}"
      diff: true
      check_mode: "{{ item }}"
      loop: [true, false]
      register: psr_scan_imported

    - name: Show the file imports' results
      ansible.builtin.debug:
        var: psr_scan_imported

    - name: Import each content into a store without store password, in check mode and for real
      passwordsecure.server.certificate_import:
        store_path: "{{ psr_scan_store_c }}"
        content: "{{ psr_scan_content.results[item.0].content }}"
        password: "{{ psr_scan_transfer }}"
      diff: true
      check_mode: "{{ item.1 }}"
      # Indices, not the registered results: a loop item is shown in the task's result.
      loop: [[0, true], [0, false], [1, true], [1, false]]
      register: psr_scan_imported_content

    - name: Show the content imports' results
      ansible.builtin.debug:
        var: psr_scan_imported_content

    - name: A wrong transfer password, on a file and on content
      passwordsecure.server.certificate_import:
        store_path: "{{ psr_scan_store_c }}"
        path: "{{ psr_scan_dir ~ '/master-keys.pfx' if item == 'file' else omit }}"
        content: "{{ psr_scan_content.results[0].content if item == 'content' else omit }}"
        password: "{{ psr_scan_transfer_wrong }}"
      diff: true
      loop: [file, content]
      register: psr_scan_wrong_transfer
      ignore_errors: true

    - name: Show the failures
      ansible.builtin.debug:
        var: psr_scan_wrong_transfer
EOF

run() {  # run PLAYBOOK: -vvv, diff, everything appended to $output
    # shellcheck disable=SC2094 # different files
    "$ANSIBLE_PLAYBOOK" -vvv -i localhost, -c local -e "ansible_python_interpreter=$ANSIBLE_PYTHON_INTERPRETER" \
        -e "@$work/secrets.yml" "$1" >>"$output" 2>&1 || {
        tail -n 60 "$output" >&2
        fail "ansible-playbook $(basename "$1") failed"
    }
}

# passphrase_of, key_lines and plain_key_lines
# shellcheck source=tests/integration/store-keys.sh
. "$(dirname "${BASH_SOURCE[0]}")/store-keys.sh"

pfx_thumbprints() {  # pfx_thumbprints FILE: the SHA-1 thumbprints of the certificates in a PKCS#12 file
    local dir f
    dir=$(mktemp -d "$work/pfx.XXXXXX")
    PSR_TRANSFER=$transfer openssl pkcs12 -in "$1" -passin env:PSR_TRANSFER -nokeys \
        | awk -v dir="$dir" '/^-----BEGIN CERTIFICATE-----/{n++; f=sprintf("%s/%04d.pem", dir, n)} f{print > f} /^-----END CERTIFICATE-----/{close(f); f=""}'
    for f in "$dir"/*.pem; do
        openssl x509 -in "$f" -noout -fingerprint -sha1 | sed 's/.*=//; s/://g'
    done
}

run "$work/write.yml"
key_lines "$store" >"$work/key-lines.txt"
keys_after_write=$(grep -l 'PRIVATE KEY' "$store"/entries/*.pem | wc -l)
run "$work/use.yml"
key_lines "$store" >>"$work/key-lines.txt"
run "$work/transfer.yml"
cat "$ANSIBLE_LOG_PATH" >>"$output"

# The passphrase each key is encrypted with, derived from the store password.
passphrase=$(passphrase_of "$store" "$password")
passphrase_b=$(passphrase_of "$store_b" "$password_b")

# Part 3's key material: the keys of the two import stores as their entry files
# hold them, and the keys of the first two stores unencrypted, as they travel
# inside the PKCS#12 files (the third store holds its keys unencrypted).
{
    key_lines "$store_b"
    key_lines "$store_c"
    plain_key_lines "$store" "$passphrase"
    plain_key_lines "$store_b" "$passphrase_b"
} >"$work/transfer-key-lines.txt"
cat "$work/transfer-key-lines.txt" >>"$work/key-lines.txt"
[ "$(grep -l -- '-----BEGIN ENCRYPTED PRIVATE KEY-----' "$store_b"/entries/*.pem | wc -l)" -eq 5 ] \
    || fail "expected 5 encrypted keys in the store the file was imported into"
[ "$(grep -l -- '-----BEGIN PRIVATE KEY-----' "$store_c"/entries/*.pem | wc -l)" -eq 5 ] \
    || fail "expected 5 unencrypted keys in the store the content was imported into"

# The contents the export returned: whole, and in 64-character pieces.
: >"$work/content-lines.txt"
for profile in modern compatibility; do
    content_file="$work/content-$profile.b64"
    [ -s "$content_file" ] || fail "the return_content export ($profile) left no content to look for"
    base64 -d "$content_file" >"$work/content-$profile.pfx" || fail "the $profile content is not base64"
    PSR_TRANSFER=$transfer openssl pkcs12 -in "$work/content-$profile.pfx" -passin env:PSR_TRANSFER -noout \
        || fail "openssl can't open the $profile content with the transfer password: the scan would look for the wrong content"
    tr -d '\n' <"$content_file" | fold -w 64 | awk 'length($0) == 64' >>"$work/content-lines.txt"
    printf '%s\n' "$(tr -d '\n' <"$content_file")" >>"$work/content-lines.txt"
done

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
printf '%s\n%s\n%s\n%s\n' "$password_b" "$passphrase_b" "$transfer" "$transfer_wrong" >>"$work/patterns.txt"
content_line_count=$(wc -l <"$work/content-lines.txt")
[ "$content_line_count" -ge 40 ] || fail "only $content_line_count pieces of the returned contents to look for"
cat "$work/content-lines.txt" >>"$work/patterns.txt"
transfer_line_count=$(sort -u "$work/transfer-key-lines.txt" | awk 'length($0) >= 16' | wc -l)
# At least 20 distinct lines per key: the first store's 6 keys unencrypted, the second's 5 as encrypted
# (unencrypted, they are the first store's, and so are the third store's).
[ "$transfer_line_count" -ge $(((6 + 5) * 20)) ] || fail "only $transfer_line_count key lines collected in part 3"
[ "$(wc -c <"$output")" -gt 20000 ] || fail "the captured output is suspiciously short"
grep -q '"module_args"' "$output" || fail "the output does not show module arguments (-vvv)"
thumbprints=$(sed -n 's/.*"thumbprint": "\([0-9A-F]\{40\}\)".*/\1/p' "$store/index.json")
[ "$(printf '%s\n' "$thumbprints" | grep -c .)" -eq 6 ] || fail "expected 6 thumbprints in the index after part 2"
while read -r thumbprint; do
    grep -q "$thumbprint" "$output" || fail "the output does not show the thumbprint $thumbprint: results were not captured"
done <<<"$thumbprints"
grep -q 'store_password is not the password' "$output" || fail "the wrong-password failure is not in the output"
for pfx_count in sales.pfx:5 master-keys.pfx:1 content-modern.pfx:5; do
    # The exports' and imports' results must show the certificates that openssl reads from the files.
    pfx=${pfx_count%:*}
    pfx_thumbprints "$work/$pfx" >"$work/$pfx.thumbprints"
    [ "$(wc -l <"$work/$pfx.thumbprints")" -eq "${pfx_count#*:}" ] || fail "openssl did not find ${pfx_count#*:} certificates in $pfx"
    while read -r thumbprint; do
        grep -q "$thumbprint" "$output" || fail "the output does not show the thumbprint $thumbprint of $pfx"
    done <"$work/$pfx.thumbprints"
done
[ "$(grep -c 'wrong password or damaged file' "$output")" -ge 2 ] || fail "the wrong transfer password failures are not in the output"
grep -q '"action": "added"' "$output" || fail "the import results are not in the output"
grep -q 'censored' "$output" || fail "the no_log export of content does not show as censored"
cp "$output" "$work/planted.txt"
printf 'leak: %s\n' "$(printf '%s\n' "$first_key" | sed -n 5p)" >>"$work/planted.txt"
grep -q -F -f "$work/patterns.txt" "$work/planted.txt" || fail "self-test: a planted key line was not found"
# Part 3's secrets, each planted alone: a piece of returned content, an unencrypted key line that
# travelled in PKCS#12 (as the content import's store holds it), the transfer password.
for planted in "$(sed -n 7p "$work/content-lines.txt")" "$(key_lines "$store_c" | sed -n 9p)" "$transfer"; do
    [ -n "$planted" ] || fail "self-test: nothing to plant"
    printf 'text before %s text after\n' "$planted" | grep -q -F -f "$work/patterns.txt" \
        || fail "self-test: a planted part 3 secret was not found"
done

# The scan.
findings=0
# shellcheck source=tests/integration/scan-output.sh
. "$(dirname "${BASH_SOURCE[0]}")/scan-output.sh"
scan_output secret-scan "$output" "$work/patterns.txt" "$work"
for index in "$store/index.json" "$store_b/index.json" "$store_c/index.json"; do
    if grep -q -F -f <(printf '%s\n' "$password" "$passphrase" "$password_b" "$passphrase_b" "$transfer") "$index"; then
        echo "secret-scan: $index holds a password or a derived passphrase" >&2
        findings=$((findings + 1))
    fi
done

[ "$findings" -eq 0 ] || fail "$findings finding(s) in $(wc -l <"$output") lines of output"
echo "secret-scan: ok ($(wc -l <"$output") lines of -vvv output, $key_line_count key lines, $content_line_count pieces of returned content, 7 secrets; none found)"
