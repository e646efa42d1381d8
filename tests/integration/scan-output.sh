# shellcheck shell=bash
# Copyright (c) passwordsecure.server contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# The checks every secret scan of Ansible output makes, sourced by secret-scan.sh and the
# own_ssl_certificate target's verbose-scan.sh.
#
# scan_output NAME OUTPUT PATTERNS DIR: adds to $findings one for each kind of finding in OUTPUT,
# and says on stderr at which lines (never the text found):
#   - a line of PATTERNS (fixed strings: passwords, passphrases, key lines);
#   - "PRIVATE KEY";
#   - "********" outside the banner lines: a value Ansible masked because a module echoed a no_log value;
#   - base64 DER ("MII" and 40 more base64 characters).
# DIR holds its scratch files.
scan_output() {
    local name=$1 output=$2 patterns=$3 dir=$4
    local banner='^([0-9-]+ [0-9:,]+ .*\| )?(PLAYBOOK|PLAY|TASK|RUNNING HANDLER|PLAY RECAP)\b.*\*+$'
    if grep -n -F -f "$patterns" "$output" >"$dir/hits.txt"; then
        echo "$name: the output holds a password, a passphrase or a key line at line(s) $(cut -d: -f1 "$dir/hits.txt" | head -n 20 | tr '\n' ' ')" >&2
        findings=$((findings + 1))
    fi
    if grep -n -F -e 'PRIVATE KEY' "$output" >"$dir/pk.txt"; then
        echo "$name: the output holds 'PRIVATE KEY' at line(s) $(cut -d: -f1 "$dir/pk.txt" | head -n 5 | tr '\n' ' ')" >&2
        findings=$((findings + 1))
    fi
    if grep -n -v -E "$banner" "$output" | grep -E '(^|[^*])[*]{8}([^*]|$)' >"$dir/masked.txt"; then
        echo "$name: the output holds a masked value '********' at line(s) $(cut -d: -f1 "$dir/masked.txt" | head -n 5 | tr '\n' ' ')" >&2
        findings=$((findings + 1))
    fi
    if grep -n -E 'MII[A-Za-z0-9+/=]{40,}' "$output" >"$dir/der.txt"; then
        echo "$name: the output holds base64 DER at line(s) $(cut -d: -f1 "$dir/der.txt" | head -n 5 | tr '\n' ' ')" >&2
        findings=$((findings + 1))
    fi
}
