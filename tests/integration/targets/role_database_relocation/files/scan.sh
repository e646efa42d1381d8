#!/usr/bin/env bash
# Copyright (c) passwordsecure.server contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# The secret scan of a relocation between two stores with encrypted keys:
#   scan.sh DIR SOURCE_STORE TARGET_STORE
# DIR is the controller's work dir of the run: its -vvv output (output.txt), Ansible's log, the reports and the
# backups. The secrets come through the environment, never on a command line: PSR_SCAN_TRANSFER (the transfer
# password), PSR_SCAN_SOURCE_PASSWORD and PSR_SCAN_TARGET_PASSWORD (the stores' passwords); PSR_SCAN_THUMBPRINTS
# lists the thumbprints that must show in the output (proof that the output holds the run's results).
# Every file under DIR is searched for:
#   - the three passwords and the key passphrases derived from the store passwords (as docs/store-format.md says,
#     computed here with openssl kdf, like tests/integration/secret-scan.sh);
#   - "PRIVATE KEY", and every base64 line of every private key of both stores, as the entry files hold them
#     (encrypted) and unencrypted (as the keys travel inside the PKCS#12 file);
#   - any run of 2,000 or more base64 characters: the PKCS#12 file that travels through the controller cannot be
#     known from outside, but it is far longer than that;
#   - "********" in the output and the log: Ansible's mask of a no_log value that a result echoed.
# Prints one line per finding (file and line numbers only, never the match) and exits non-zero on any.
set -euo pipefail

dir=$1
source_store=$2
target_store=$3
: "${PSR_SCAN_TRANSFER:?}" "${PSR_SCAN_SOURCE_PASSWORD:?}" "${PSR_SCAN_TARGET_PASSWORD:?}" "${PSR_SCAN_THUMBPRINTS:?}"
tmp=$(mktemp -d)
trap 'rm -rf -- "$tmp"' EXIT
output="$dir/output.txt"
base64_run='[A-Za-z0-9+/]{2000,}'

fail() { echo "scan: FAIL: $*" >&2; exit 1; }

# passphrase_of, key_lines and plain_key_lines, shared with tests/integration/secret-scan.sh
# shellcheck source=tests/integration/store-keys.sh
. "$(dirname "${BASH_SOURCE[0]}")/../../../store-keys.sh"

# What to look for.
source_passphrase=$(passphrase_of "$source_store" "$PSR_SCAN_SOURCE_PASSWORD")
target_passphrase=$(passphrase_of "$target_store" "$PSR_SCAN_TARGET_PASSWORD")
{
    key_lines "$source_store"
    key_lines "$target_store"
    plain_key_lines "$source_store" "$source_passphrase"
    plain_key_lines "$target_store" "$target_passphrase"
} | awk 'length($0) >= 16' | sort -u >"$tmp/key-lines"
keys=$(cat "$source_store"/entries/*.pem "$target_store"/entries/*.pem | grep -c -- '-----BEGIN ENCRYPTED PRIVATE KEY-----')
[ "$keys" -ge 10 ] || fail "only $keys encrypted keys in the two stores"
[ "$(wc -l <"$tmp/key-lines")" -ge $((keys * 2 * 20)) ] || fail "only $(wc -l <"$tmp/key-lines") key lines for $keys keys"
cp "$tmp/key-lines" "$tmp/patterns"
printf '%s\n' "$PSR_SCAN_TRANSFER" "$PSR_SCAN_SOURCE_PASSWORD" "$PSR_SCAN_TARGET_PASSWORD" \
    "$source_passphrase" "$target_passphrase" >>"$tmp/patterns"

# The output must be the real thing: long, -vvv, and showing the run's results.
[ "$(wc -c <"$output")" -gt 50000 ] || fail "the output is suspiciously short"
grep -q '"module_args"' "$output" || fail "the output does not show module arguments (-vvv)"
grep -q 'censored' "$output" || fail "the output shows no censored (no_log) result"
for thumbprint in $PSR_SCAN_THUMBPRINTS; do
    grep -q "$thumbprint" "$output" || fail "the output does not show the thumbprint $thumbprint"
done

# The scan must be able to fail: each kind of secret, planted, is found.
for planted in "$(sed -n 7p "$tmp/key-lines")" "$(plain_key_lines "$target_store" "$target_passphrase" | sed -n 3p)" \
    "$PSR_SCAN_TRANSFER" "$PSR_SCAN_SOURCE_PASSWORD" "$PSR_SCAN_TARGET_PASSWORD" "$target_passphrase"; do
    [ -n "$planted" ] || fail "self-test: nothing to plant"
    printf 'text before %s text after\n' "$planted" | grep -q -F -f "$tmp/patterns" || fail "self-test: a planted secret was not found"
done
head -c 1600 /dev/urandom | base64 -w 0 | grep -q -E "$base64_run" || fail "self-test: a long base64 run was not found"

findings=0
finding() { echo "scan: $1: $2 at line(s) $(cut -d: -f1 "$tmp/hits" | head -n 5 | tr '\n' ' ')" >&2; findings=$((findings + 1)); }
files=0
while IFS= read -r -d '' file; do
    files=$((files + 1))
    if grep -a -n -F -f "$tmp/patterns" "$file" >"$tmp/hits"; then finding "$file" "a password, a derived passphrase or a key line"; fi
    if grep -a -n -F 'PRIVATE KEY' "$file" >"$tmp/hits"; then finding "$file" "'PRIVATE KEY'"; fi
    if grep -a -n -E "$base64_run" "$file" >"$tmp/hits"; then finding "$file" "a run of 2000 or more base64 characters"; fi
done < <(find "$dir" -type f -print0)
[ "$files" -ge 5 ] || fail "only $files files under $dir: the output, the log, two reports and a backup were expected"
# Ansible's mask for a no_log value, outside the banner lines (TASK [...] ****...).
banner='^([0-9-]+ [0-9:,]+ .*\| )?(PLAYBOOK|PLAY|TASK|RUNNING HANDLER|PLAY RECAP)\b.*\*+$'
for file in "$output" "$dir/ansible.log"; do
    if grep -n -v -E "$banner" "$file" | grep -E '(^|[^*])[*]{8}([^*]|$)' >"$tmp/hits"; then finding "$file" "a masked value '********'"; fi
done

[ "$findings" -eq 0 ] || fail "$findings finding(s)"
echo "scan: ok ($files files, $(wc -l <"$output") lines of -vvv output, $(wc -l <"$tmp/key-lines") key lines of $keys keys, 5 secrets; none found)"
