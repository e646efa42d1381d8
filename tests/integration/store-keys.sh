# shellcheck shell=bash
# Copyright (c) passwordsecure.server contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# A store's private keys, read without the collection's code, for the secret scans
# (tests/integration/secret-scan.sh and the relocation target's files/scan.sh). Source this file;
# the caller defines fail MESSAGE. Passwords reach openssl and Python through the environment only,
# never a command line.

passphrase_of() {  # passphrase_of STORE PASSWORD: the passphrase of the store's keys, PBKDF2-HMAC-SHA256 of
    # the password over the index's salt and iterations, in hex (docs/store-format.md), with Python's hashlib
    PSR_STORE_PASSWORD=$2 python3 -c '
import base64, hashlib, json, os, sys
protection = json.load(open(sys.argv[1], encoding="utf-8")).get("key_protection") or {}
salt, iterations = base64.b64decode(protection["salt"]), int(protection["iterations"])
password = os.environ["PSR_STORE_PASSWORD"].encode("utf-8")
print(hashlib.pbkdf2_hmac("sha256", password, salt, iterations, 32).hex())
' "$1/index.json" || fail "the index of $1 has no key_protection salt and iterations"
}

key_lines() {  # key_lines STORE: the base64 body lines of every private key, as the entry files hold them
    sed -n '/-----BEGIN .*PRIVATE KEY-----/,/-----END .*PRIVATE KEY-----/{/-----/d;p}' "$1"/entries/*.pem
}

plain_key_lines() {  # plain_key_lines STORE [PASSPHRASE]: the base64 lines of each key as unencrypted PKCS#8,
    # as a PKCS#12 file carries it inside its encryption
    local f
    for f in "$1"/entries/*.pem; do
        PSR_PASSPHRASE=${2:-} openssl pkey -in "$f" -passin env:PSR_PASSPHRASE \
            || fail "openssl can't open the key in $f: the scan would look for the wrong key lines"
    done | sed '/-----/d'
}
