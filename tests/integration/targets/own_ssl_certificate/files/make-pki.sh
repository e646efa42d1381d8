#!/usr/bin/env bash
# Copyright (c) passwordsecure.server contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# A small PKI made with the openssl CLI alone, for the own_ssl_certificate target:
#   make-pki.sh DIR
# The leaf key's passphrase comes through the environment (PSR_KEY_PASSPHRASE), never a command line.
# Writes into DIR (which must exist):
#   root.key, root.crt         Test Root CA (self-signed, CA:TRUE)
#   int.key, int.crt           Test Intermediate CA, issued by the root (CA:TRUE, pathlen 0)
#   leaf.key, leaf.crt         psr.example.com, issued by the intermediate: SAN DNS psr.example.com and psr,
#                              EKU serverAuth; leaf.key is unencrypted PKCS#8
#   leaf-enc.key               the same key as encrypted PKCS#8 (AES-256, the passphrase)
#   leaf-legacy.key            the same key as PKCS#1 with OpenSSL's legacy Proc-Type encryption (the passphrase)
#   other.key, other.crt       Unrelated CA (self-signed), which issued nothing here
#   fake-int.crt               a self-signed certificate with the intermediate's name and another key
#   expired.key, expired.crt   expired.example.com, issued by the intermediate, valid 2020-01-01 to 2021-01-01
#                              (openssl ca -startdate/-enddate: `openssl x509 -req` has no -not_before before 3.4)
#   bundle.pem                 leaf, intermediate, root, then the leaf's key (what a CA hands out, in one file)
#   chain.pem                  root, leaf, intermediate (any order), no key
#   cachain.pem                intermediate, root
#   short-chain.pem            leaf, intermediate (no root), no key
#   bad-chain.pem              the leaf, intermediate, root, the unrelated CA and the leaf's key
#   fake-chain.pem             the leaf, fake-int.crt and the leaf's key
#   expired-bundle.pem         the expired leaf, intermediate, root, and its key
#   own.pfx                    `openssl pkcs12 -export -certfile cachain.pem` of the leaf and its key, with the
#                              password PSR_PFX_PASSWORD
#   done                       written last
set -euo pipefail
: "${PSR_KEY_PASSPHRASE:?}" "${PSR_PFX_PASSWORD:?}"
cd "$1"
umask 077

key() { openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$1" 2>/dev/null; }
printf 'basicConstraints=critical,CA:TRUE,pathlen:0\nkeyUsage=critical,keyCertSign,cRLSign\n' >int.ext
printf 'subjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid,issuer\n' >>int.ext
{
    printf 'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\n'
    printf 'extendedKeyUsage=serverAuth\nsubjectAltName=DNS:psr.example.com,DNS:psr\n'
    printf 'subjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid,issuer\n'
} >leaf.ext

for name in root int leaf other expired; do key "$name.key"; done
openssl req -x509 -new -key root.key -subj "/CN=Test Root CA/O=Example PKI" -days 3650 -sha256 \
    -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign -out root.crt
openssl req -new -key int.key -subj "/CN=Test Intermediate CA/O=Example PKI" -out int.csr
openssl x509 -req -in int.csr -CA root.crt -CAkey root.key -set_serial 0x1001 -days 3650 -sha256 \
    -extfile int.ext -out int.crt 2>/dev/null
openssl req -new -key leaf.key -subj "/CN=psr.example.com/O=Example" -out leaf.csr
openssl x509 -req -in leaf.csr -CA int.crt -CAkey int.key -set_serial 0x2001 -days 365 -sha256 \
    -extfile leaf.ext -out leaf.crt 2>/dev/null
openssl req -x509 -new -key other.key -subj "/CN=Unrelated CA/O=Elsewhere" -days 3650 -sha256 \
    -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign -out other.crt
# The intermediate's name, another key (the unrelated CA's): a same-named issuer that did not sign the leaf.
openssl req -x509 -new -key other.key -subj "/CN=Test Intermediate CA/O=Example PKI" -days 3650 -sha256 \
    -addext basicConstraints=critical,CA:TRUE -out fake-int.crt

openssl pkcs8 -topk8 -in leaf.key -v2 aes-256-cbc -passout env:PSR_KEY_PASSPHRASE -out leaf-enc.key
openssl rsa -in leaf.key -traditional -aes256 -passout env:PSR_KEY_PASSPHRASE -out leaf-legacy.key 2>/dev/null

# The expired leaf: openssl ca takes a start and an end date.
mkdir -p ca
: >ca/index.txt
echo 3001 >ca/serial
cat >ca.cnf <<'EOF'
[ca]
default_ca = test_ca
[test_ca]
database = ca/index.txt
new_certs_dir = ca
serial = ca/serial
default_md = sha256
policy = anything
unique_subject = no
[anything]
commonName = supplied
organizationName = optional
[expired_leaf]
basicConstraints = critical,CA:FALSE
extendedKeyUsage = serverAuth
subjectAltName = DNS:expired.example.com
authorityKeyIdentifier = keyid,issuer
EOF
openssl req -new -key expired.key -subj "/CN=expired.example.com/O=Example" -out expired.csr
openssl ca -batch -notext -config ca.cnf -cert int.crt -keyfile int.key -in expired.csr -out expired.crt \
    -startdate 20200101000000Z -enddate 20210101000000Z -extensions expired_leaf 2>/dev/null

cat leaf.crt int.crt root.crt leaf.key >bundle.pem
cat root.crt leaf.crt int.crt >chain.pem
cat int.crt root.crt >cachain.pem
cat leaf.crt int.crt >short-chain.pem
cat leaf.crt int.crt root.crt other.crt leaf.key >bad-chain.pem
cat leaf.crt fake-int.crt leaf.key >fake-chain.pem
cat expired.crt int.crt root.crt expired.key >expired-bundle.pem
openssl pkcs12 -export -in leaf.crt -inkey leaf.key -certfile cachain.pem -name "psr.example.com" \
    -passout env:PSR_PFX_PASSWORD -out own.pfx
echo finished >"done"
