# Copyright (c) passwordsecure.server contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Making the certificates a Password Secure server makes itself.

Key generation is the only expensive step of ensuring a server's certificate
set (45 ms for an RSA-2048 key, 175 ms for 3072 on the build machines, against
well under a millisecond to sign a certificate), so ``generate_many`` runs it
on every core: ``cryptography`` releases the GIL while OpenSSL searches for
primes, which makes threads enough.
"""

from __future__ import annotations

import datetime
from typing import Iterable, NamedTuple

from ansible_collections.passwordsecure.server.plugins.module_utils import crypto
from ansible_collections.passwordsecure.server.plugins.module_utils.crypto import (
    hashes,
    rsa,
    serialization,
    x509,
)
from ansible_collections.passwordsecure.server.plugins.module_utils.kinds import (
    GENERATED_ORGANIZATION,
    KINDS,
    NAMED_KINDS,
    NO_EXPIRY,
    CertRef,
)


class Generated(NamedTuple):
    """A freshly made certificate: its PEM and the facts the index records."""

    ref: CertRef
    certificate_pem: bytes
    private_key_pem: bytes
    facts: dict


def subject_for(ref: CertRef) -> x509.Name:
    profile = KINDS[ref.kind]
    attributes = [x509.NameAttribute(crypto.NameOID.COMMON_NAME, profile.common_name)]
    if ref.identity is not None:
        attributes.append(x509.NameAttribute(crypto.NameOID.ORGANIZATIONAL_UNIT_NAME, ref.identity))
    attributes.append(x509.NameAttribute(crypto.NameOID.ORGANIZATION_NAME, GENERATED_ORGANIZATION))
    return x509.Name(attributes)


def friendly_name_for(ref: CertRef) -> str:
    return KINDS[ref.kind].friendly_name.format(identity=ref.identity)


def subject_text(ref: CertRef) -> str:
    return subject_for(ref).rfc4514_string()


def generate(
    ref: CertRef,
    *,
    key_size: int,
    key_passphrase: bytes | None = None,
    not_before: datetime.datetime | None = None,
    not_after: datetime.datetime | None = None,
    names: list[str] | None = None,
) -> Generated:
    """Make one self-signed certificate with a new RSA key.

    ``names`` (checked by ``kinds.check_names``) go into the SSL connection certificate's Subject
    Alternative Name, every one as a DNS name, IP addresses too, as the product does; that kind
    needs them and no other kind takes them. ``not_before`` and ``not_after`` exist for tests
    (expired certificates); the modules never set them: a server's certificates never expire.
    """
    if (ref.kind in NAMED_KINDS) != bool(names):
        raise ValueError("names go with the SSL connection certificate, and it needs them: %s, %r" % (ref, names))
    key = rsa.generate_private_key(public_exponent=65537, key_size=key_size)
    now = datetime.datetime.now(crypto.UTC).replace(microsecond=0)
    start = not_before or now
    end = not_after or datetime.datetime(*NO_EXPIRY, tzinfo=crypto.UTC)
    name = subject_for(ref)
    public_key = key.public_key()
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=True,
                data_encipherment=True,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
    )
    if names:
        cert = cert.add_extension(
            x509.SubjectAlternativeName([x509.DNSName(name) for name in names]), critical=False
        ).add_extension(x509.ExtendedKeyUsage([crypto.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
    cert = cert.sign(key, hashes.SHA256())
    der = cert.public_bytes(serialization.Encoding.DER)
    thumbprint, sha256 = crypto.fingerprints(der)
    encryption = (
        serialization.BestAvailableEncryption(key_passphrase)
        if key_passphrase
        else serialization.NoEncryption()
    )
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption)
    facts = {
        "kind": ref.kind,
        "identity": ref.identity,
        "friendly_name": friendly_name_for(ref),
        "subject": name.rfc4514_string(),
        "thumbprint": thumbprint,
        "sha256": sha256,
        "serial_number": "%X" % cert.serial_number,
        "not_before": crypto.iso(start),
        "not_after": crypto.iso(end),
        "key_type": "RSA",
        "key_size": key_size,
        "origin": "generated",
    }
    if names:
        facts["names"] = list(names)
    return Generated(ref, cert.public_bytes(serialization.Encoding.PEM), key_pem, facts)


def generate_many(refs: Iterable[CertRef], *, key_size: int, key_passphrase: bytes | None = None,
                  names: list[str] | None = None) -> list[Generated]:
    """Generate certificates for ``refs`` on every available core, in order; ``names`` for the SSL
    connection certificate among them."""
    refs = list(refs)

    def one(ref: CertRef) -> Generated:
        return generate(ref, key_size=key_size, key_passphrase=key_passphrase,
                        names=names if ref.kind in NAMED_KINDS else None)

    return crypto.parallel_map(one, refs)
