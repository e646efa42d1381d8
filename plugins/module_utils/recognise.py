# Copyright (c) passwordsecure.server contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Recognising a Password Secure certificate, and its key, from the certificate alone.

An import gets certificates from outside and must tell, from each certificate
itself, whether a Password Secure server made it, of which kind it is and what
it belongs to. The certificates this collection generates are the model (see
``docs/certificate-kinds.md``): the subject is exactly ``CN=<the kind's common
name>``, ``OU=<identity>`` (none for one-per-server kinds) and ``O=Password
Secure``, and the certificate is self-signed: its issuer is its subject and
its signature verifies with its own public key. A certificate with the right
subject but issued by someone else (a CA, or another key) is somebody's own
certificate pretending to be the server's, and is refused. The identity read
from the subject passes the same checks as an identity given in a task
(``kinds.check_identity``), so a subject can't smuggle a path separator,
``..`` or a control character into the store.

**The key check is pairwise, not a full RSA validation.** ``cryptography``
validates an RSA private key when it loads it, and most of that time is the
primality tests of p and q. An import of 1,000 certificates must stay under
10 s, so ``check_key_matches`` does not load keys that way. It reads the
PKCS#8 structure (with ``cryptography`` where it can skip the validation,
``crypto.SKIPS_RSA_KEY_VALIDATION``: 39 and newer; with asn1crypto below) and
checks with integer arithmetic that

* the key's public part is the certificate's public key (RSA: n and e; EC:
  curve and point), which catches a key of another certificate;
* ``p * q == n`` with ``1 < p, q``; ``0 < d < n``; ``e * d = 1 (mod
  lcm(p - 1, q - 1))``; and the CRT values OpenSSL computes with,
  ``dP = d mod (p - 1)``, ``dQ = d mod (q - 1)``, ``qInv * q = 1 (mod p)``.
  These are OpenSSL's own ``RSA_check_key`` tests minus the primality tests,
  so they catch a damaged key just as well: a corrupted d, p, q or CRT value
  fails one of them.

The primality tests add nothing here: n comes from the certificate, which a
server makes from two primes, and ``p * q == n`` with both factors above 1
leaves only those two primes for p and q. (A certificate whose n is not a
product of two primes was not made by a server; its key could at worst fail
to decrypt, and it could not touch anything outside its own entry.)

Measured on the 2-core build machine (Python 3.11; mean per key over 3,000
checks of 10 keys, 30 loads for full validation). The pairwise figures are
whole ``check_key_matches`` calls: reading the certificate included.

=================================================  ========  ========
per key                                            2048 bit  3072 bit
=================================================  ========  ========
pairwise, asn1crypto, cryptography 50               0.14 ms   0.16 ms
pairwise, asn1crypto, cryptography 38 (Debian 12)   0.35 ms   0.38 ms
pairwise, cryptography 50 with the skip             0.07 ms   0.09 ms
full validation (``load_der_private_key``), 50     41 ms     125 ms
full validation, cryptography 38                   41 ms     124 ms
=================================================  ========  ========

So 1,000 keys take 0.07 to 0.35 s to check instead of 41 s (2048) or 125 s
(3072). ``cryptography`` with the skip reads the key where it can (39 and
newer: twice as fast as asn1crypto); asn1crypto reads it on older versions
(3.4 to 38). Both readers feed the same arithmetic, and the tests run each.
Without asn1crypto, cryptography before 39 has to validate fully (correct, only
slow; every module that checks keys needs asn1crypto anyway). EC
keys are loaded with ``cryptography`` (its EC check only confirms the point,
well under a millisecond) and compared by curve and point.
"""

from __future__ import annotations

import datetime
import unicodedata
from math import gcd
from typing import Any, NamedTuple

from ansible_collections.passwordsecure.server.plugins.module_utils import crypto
from ansible_collections.passwordsecure.server.plugins.module_utils.errors import (
    CertificateRefusedError,
    InvalidRequestError,
)
from ansible_collections.passwordsecure.server.plugins.module_utils.kinds import (
    GENERATED_ORGANIZATION,
    KINDS,
    NAMED_KINDS,
    CertRef,
    KindProfile,
    check_identity,
    profile_of,
)

try:
    from asn1crypto import keys as asn1_keys
except ImportError:
    HAS_ASN1CRYPTO = False
    asn1_keys = None  # type: ignore[assignment]
else:
    HAS_ASN1CRYPTO = True

_BY_COMMON_NAME = {profile.common_name: profile for profile in KINDS.values()}
_SUBJECT_SHOWN_MAX = 200


class Recognised(NamedTuple):
    """A certificate recognised as a Password Secure certificate."""

    ref: CertRef  # kind and normalised identity
    facts: dict  # the fields generate() records, origin "generated"
    expired: bool
    # The certificate's public key as cryptography read it: give it to check_key_matches(public_key=...)
    # so that the key is not read a second time (a 3072-bit RSA key takes 0.13 ms on cryptography 38).
    public_key: Any = None


# --------------------------------------------------------------------------- showing a certificate


def _printable(text: str) -> str:
    """Text for a message: control, format and unassigned characters escaped, long text shortened."""
    out = []
    for char in text:
        if unicodedata.category(char) in ("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"):
            out.append("\\u%04X" % ord(char) if ord(char) <= 0xFFFF else "\\U%08X" % ord(char))
        else:
            out.append(char)
    shown = "".join(out)
    if len(shown) > _SUBJECT_SHOWN_MAX:
        shown = shown[:150] + "..." + shown[-40:]
    return shown


def name_text(name: Any) -> str:
    try:
        return name.rfc4514_string()
    except (ValueError, TypeError, AttributeError):
        return "(an unreadable name)"


def shown_name(name: Any) -> str:
    """A name (subject or issuer) for a message: RFC 4514, control characters escaped, long ones shortened."""
    return _printable(name_text(name))


def _describe(cert: Any, der: bytes) -> str:
    try:
        subject = _printable(name_text(cert.subject)) or "(an empty subject)"
    except ValueError:
        subject = "(an unreadable subject)"
    return "%s (thumbprint %s)" % (subject, crypto.fingerprints(der)[0])


class _Shown:
    """How messages name a certificate (``_describe``), worked out when a message is made."""

    def __init__(self, cert: Any, der: bytes):
        self._cert, self._der, self._text = cert, der, None

    def __str__(self) -> str:
        if self._text is None:
            self._text = _describe(self._cert, self._der)
        return self._text


def load_certificate(der: bytes, fix: str = "export it again from the Password Secure server") -> Any:
    """The certificate, or CertificateRefusedError (saying ``fix``) when it is not readable X.509 DER."""
    crypto.require_cryptography()
    try:
        return crypto.load_der_x509_certificate(der)
    except (ValueError, TypeError) as exc:  # its reason reads the same on every cryptography version
        raise CertificateRefusedError(
            "the certificate with thumbprint %s is not a readable X.509 certificate (%s); %s"
            % (crypto.fingerprints(bytes(der))[0], exc, fix)
        ) from exc


# --------------------------------------------------------------------------- the subject


def _attributes(cert: Any, shown: object) -> tuple[list[Any], bool]:
    """The subject's attributes in order, and whether any RDN holds more than one."""
    try:
        rdns = list(cert.subject.rdns)  # cryptography decodes every value here: a bad string fails now
    except ValueError as exc:
        raise CertificateRefusedError(
            "%s has a subject that can't be read (%s); it is not a Password Secure certificate: "
            "export the certificate from a Password Secure server" % (shown, exc)
        ) from exc
    return [attribute for rdn in rdns for attribute in rdn], any(len(rdn) > 1 for rdn in rdns)


def _attribute_text(attribute: Any) -> str:
    try:
        return _printable(attribute.rfc4514_string())
    except (ValueError, TypeError, AttributeError):
        return "%s=%s" % (attribute.oid.dotted_string, _printable(repr(attribute.value)))


def _subject_problems(profile: KindProfile, attributes: list[Any], multi_valued: bool) -> list[str]:
    oid = crypto.NameOID
    common_names = [a for a in attributes if a.oid == oid.COMMON_NAME]
    units = [a for a in attributes if a.oid == oid.ORGANIZATIONAL_UNIT_NAME]
    organisations = [a for a in attributes if a.oid == oid.ORGANIZATION_NAME]
    known = (oid.COMMON_NAME, oid.ORGANIZATIONAL_UNIT_NAME, oid.ORGANIZATION_NAME)
    others = [a for a in attributes if a.oid not in known]
    wanted_o = "O=%s" % GENERATED_ORGANIZATION
    problems = []
    if len(common_names) > 1:
        problems.append("has %d common names (CN) where it has one" % len(common_names))
    if not organisations:
        problems.append("has no %s" % wanted_o)
    elif len(organisations) > 1:
        problems.append("has %d organisations (O) where it has one, %s" % (len(organisations), wanted_o))
    elif organisations[0].value != GENERATED_ORGANIZATION:
        problems.append("has %s where it has %s" % (_attribute_text(organisations[0]), wanted_o))
    if profile.singleton:
        if units:
            problems.append(
                "has %s, but the %s has no identity and so no OU"
                % (", ".join(_attribute_text(a) for a in units), profile.label)
            )
    elif not units:
        problems.append("has no OU holding %s" % profile.identity_name)
    elif len(units) > 1:
        problems.append("has %d OU attributes where it has one, holding %s" % (len(units), profile.identity_name))
    if others:
        problems.append("has the extra attribute(s) %s" % ", ".join(_attribute_text(a) for a in others))
    if multi_valued:
        problems.append("joins several attributes into one RDN (written with '+')")
    return problems


def _kind_of(attributes: list[Any], multi_valued: bool, shown: object) -> tuple[KindProfile, str | None]:
    """The kind the subject names, and the identity it holds (as written, not yet checked)."""
    common_names = [a.value for a in attributes if a.oid == crypto.NameOID.COMMON_NAME]
    profile = next((_BY_COMMON_NAME[cn] for cn in common_names if cn in _BY_COMMON_NAME), None)
    if profile is None:
        raise CertificateRefusedError(
            "%s is not a Password Secure certificate (no known kind has this subject: a Password Secure "
            "certificate's subject is CN=<one of %s>, OU=<identity> (none for the %s), O=%s); export it from a "
            "Password Secure server, or import it with kind: ssl (a file of its own) if it is your own SSL connection "
            "certificate"
            % (
                shown,
                ", ".join(repr(cn) for cn in _BY_COMMON_NAME),
                " and the ".join(p.label for p in KINDS.values() if p.singleton),
                GENERATED_ORGANIZATION,
            )
        )
    problems = _subject_problems(profile, attributes, multi_valued)
    if problems:
        raise CertificateRefusedError(
            "%s is not a %s: a %s's subject is exactly %s, and this one %s; export the certificate from "
            "a Password Secure server, which makes it with that subject"
            % (shown, profile.label, profile.label, _model_subject(profile), "; it ".join(problems))
        )
    units = [a.value for a in attributes if a.oid == crypto.NameOID.ORGANIZATIONAL_UNIT_NAME]
    return profile, (units[0] if units else None)


def _model_subject(profile: KindProfile) -> str:
    if profile.singleton:
        return "CN=%s, O=%s" % (profile.common_name, GENERATED_ORGANIZATION)
    return "CN=%s, OU=<%s>, O=%s" % (profile.common_name, profile.identity_name, GENERATED_ORGANIZATION)


# --------------------------------------------------------------------------- self-signed


def signature_problem(cert: Any, public_key: Any) -> str | None:
    """None when the certificate's signature verifies with ``public_key``, its own, else why not."""
    try:
        hash_algorithm, rsa_padding = crypto.signature_parameters(cert)  # PKCS#1 v1.5 or PSS, on every version
        if isinstance(public_key, crypto.rsa.RSAPublicKey):
            public_key.verify(cert.signature, cert.tbs_certificate_bytes, rsa_padding, hash_algorithm)
        elif isinstance(public_key, crypto.ec.EllipticCurvePublicKey):
            public_key.verify(cert.signature, cert.tbs_certificate_bytes, crypto.ec.ECDSA(hash_algorithm))
        elif isinstance(public_key, (crypto.ed25519.Ed25519PublicKey, crypto.ed448.Ed448PublicKey)):
            public_key.verify(cert.signature, cert.tbs_certificate_bytes)
        else:
            key_type = crypto.key_description(public_key)[0]
            return "its %s key is of a type a Password Secure server does not use" % key_type
    except crypto.InvalidSignature:
        return "its signature does not verify with its own public key, so another key signed it"
    except (crypto.UnsupportedAlgorithm, ValueError, TypeError) as exc:
        return "its signature algorithm (%s) can't be checked (%s)" % (cert.signature_algorithm_oid.dotted_string, exc)
    return None


def _public_key(cert: Any, shown: object) -> Any:
    """The certificate's public key, or CertificateRefusedError when its key field can't be read."""
    try:
        return cert.public_key()
    except (ValueError, TypeError, crypto.UnsupportedAlgorithm):
        # No detail from the parser: a message about a key's bytes helps nobody here.
        raise CertificateRefusedError(
            "%s holds a public key that can't be read (damaged, or of a type cryptography does not know); a "
            "Password Secure server never makes such a certificate, so export it again from the server" % shown
        ) from None


def _check_self_signed(cert: Any, profile: KindProfile, shown: object) -> Any:
    """Refuse a certificate that is not self-signed; return its public key if the check read it, else None.

    The key is read only where the check needs it, as before: a certificate issued by someone
    else is refused by its issuer alone."""
    if profile.own_certificate_allowed:
        return None
    if cert.issuer != cert.subject:
        problem = "is issued by %s" % (_printable(name_text(cert.issuer)) or "(an empty issuer)")
    else:
        public_key = _public_key(cert, shown)
        problem = signature_problem(cert, public_key)
        if problem is None:
            return public_key
        problem = "names itself as its issuer, but %s" % problem
    raise CertificateRefusedError(
        "the %s can't be replaced by your own certificate: %s %s; only the certificate the Password Secure "
        "server generated can be imported: export that one from the server" % (profile.label, shown, problem)
    )


# --------------------------------------------------------------------------- recognise


def recognise(
    certificate_der: bytes,
    *,
    kind: str | None = None,
    identity: str | None = None,
    now: datetime.datetime | None = None,
) -> Recognised:
    """Tell kind and identity of a Password Secure certificate from the certificate alone.

    Raise CertificateRefusedError when it is not one, or not the kind and
    identity the caller gave (``kind``, ``identity``: optional, only checked).
    An expired certificate is recognised; ``expired`` says so. ``public_key`` is the
    certificate's public key, read once here for the signature and the facts: pass it on to
    ``check_key_matches``.
    """
    cert = load_certificate(certificate_der)
    shown = _Shown(cert, certificate_der)
    attributes, multi_valued = _attributes(cert, shown)
    own = _own_kind(kind, attributes)
    if own is not None:  # your own certificate may have any subject
        profile, written_identity = own, None
    else:
        profile, written_identity = _kind_of(attributes, multi_valued, shown)
    public_key = _check_self_signed(cert, profile, shown)
    try:
        normalised = check_identity(profile.name, written_identity, where="the OU")
    except InvalidRequestError as exc:
        reason = str(exc).rsplit("; ", 1)[0]  # drop check_identity's fix: the subject can't be edited
        raise CertificateRefusedError(
            "%s can't be imported: the identity in its subject is refused (%s); a Password Secure server "
            "never makes such a certificate, so use one exported from the server" % (shown, reason)
        ) from exc
    ref = CertRef(profile.name, normalised)
    _check_given(ref, shown, kind, identity)
    if public_key is None:
        public_key = _public_key(cert, shown)
    facts = _facts(ref, cert, certificate_der, public_key)
    moment = crypto.utc(now) if now is not None else datetime.datetime.now(crypto.UTC)
    return Recognised(ref, facts, crypto.not_valid_after(cert) < moment, public_key)


def _own_kind(kind: str | None, attributes: list[Any]) -> KindProfile | None:
    """The kind a task gives when it is one that may be your own certificate (ssl) and the subject names no
    other kind: then any subject is accepted. None otherwise (the subject decides, as for every kind)."""
    if kind is None:
        return None
    profile = profile_of(kind, where="kind")
    if not profile.own_certificate_allowed:
        return None
    named = {_BY_COMMON_NAME[a.value] for a in attributes
             if a.oid == crypto.NameOID.COMMON_NAME and a.value in _BY_COMMON_NAME}
    return profile if named <= {profile} else None


def _check_given(ref: CertRef, shown: object, kind: str | None, identity: str | None) -> None:
    if kind is not None:
        given = profile_of(kind, where="kind")
        if given.name != ref.kind:
            raise CertificateRefusedError(
                "%s is %s by its subject, but the task says kind %r (%s); give kind: %s, or leave kind out "
                "to take it from the certificate" % (shown, ref.describe(), kind, given.label, ref.kind)
            )
    if identity is None:
        return
    profile = KINDS[ref.kind]
    if profile.singleton:
        raise CertificateRefusedError(
            "%s is %s, which has no identity, but the task gives identity %s; leave identity out"
            % (shown, ref.describe(), _printable(repr(identity)))
        )
    try:
        wanted = check_identity(ref.kind, identity, where="identity")
    except InvalidRequestError as exc:
        raise CertificateRefusedError("%s is %s by its subject, and %s" % (shown, ref.describe(), exc)) from exc
    if wanted != ref.identity:
        raise CertificateRefusedError(
            "%s is %s by its subject, but the task gives identity %s; give identity: %s, or leave identity "
            "out to take it from the certificate"
            % (shown, ref.describe(), _printable(repr(identity)), _printable(repr(ref.identity)))
        )


def san_names(cert: Any) -> list[str]:
    """The DNS names and IP addresses of a certificate's Subject Alternative Name, in its order."""
    try:
        extension = cert.extensions.get_extension_for_class(crypto.x509.SubjectAlternativeName)
    except crypto.x509.ExtensionNotFound:
        return []
    names = []
    for general_name in extension.value:
        if isinstance(general_name, (crypto.x509.DNSName, crypto.x509.IPAddress)):
            names.append(str(general_name.value))
    return names


def _origin(cert: Any, profile: KindProfile, public_key: Any) -> str:
    """``generated`` for a certificate a server made (self-signed by its own key; its subject was checked
    already), ``own`` for one of the kinds that may be your own and is not."""
    if not profile.own_certificate_allowed:
        return "generated"  # anything else was refused by _check_self_signed
    attributes, multi_valued = _attributes(cert, "")
    common_names = [a.value for a in attributes if a.oid == crypto.NameOID.COMMON_NAME]
    if (common_names == [profile.common_name] and not _subject_problems(profile, attributes, multi_valued)
            and cert.issuer == cert.subject and signature_problem(cert, public_key) is None):
        return "generated"
    return "own"


def _facts(ref: CertRef, cert: Any, der: bytes, public_key: Any) -> dict:
    thumbprint, sha256 = crypto.fingerprints(der)
    key_type, key_size = crypto.key_description(public_key)
    profile = KINDS[ref.kind]
    facts = {
        "kind": ref.kind,
        "identity": ref.identity,
        "friendly_name": KINDS[ref.kind].friendly_name.format(identity=ref.identity),
        "subject": cert.subject.rfc4514_string(),
        "thumbprint": thumbprint,
        "sha256": sha256,
        "serial_number": "%X" % cert.serial_number,
        "not_before": crypto.iso(crypto.not_valid_before(cert)),
        "not_after": crypto.iso(crypto.not_valid_after(cert)),
        "key_type": key_type,
        "key_size": key_size,
        "origin": _origin(cert, profile, public_key),
    }
    if ref.kind in NAMED_KINDS:
        facts["names"] = san_names(cert)
        if facts["origin"] == "own":
            facts["issuer"] = cert.issuer.rfc4514_string()
    return facts


# --------------------------------------------------------------------------- the key


class _RsaKey(NamedTuple):
    n: int
    e: int
    d: int
    p: int
    q: int
    dp: int
    dq: int
    qinv: int


KEY_FIX = "import the certificate together with its own private key, exported again from the Password Secure server"
OWN_KEY_FIX = "give the private key that was made together with the certificate (with its certificate request)"


def check_key_matches(certificate_der: bytes, private_key_der: bytes, *, public_key: Any = None,
                      fix: str = KEY_FIX) -> None:
    """Raise CertificateRefusedError unless ``private_key_der`` (unencrypted PKCS#8 DER) is the
    certificate's own, undamaged private key. A pairwise check: see the module's docstring.

    ``public_key``: the certificate's public key if the caller has it already (``Recognised.public_key``
    of this certificate); it is then not read from the certificate again. ``fix``: what the message tells
    the user to do (``OWN_KEY_FIX`` for your own certificate)."""
    cert = load_certificate(certificate_der)  # also names the certificate in messages
    shown = _Shown(cert, certificate_der)
    if public_key is None:
        public_key = _public_key(cert, shown)
    if isinstance(public_key, crypto.rsa.RSAPublicKey):
        key = _read_rsa_key(private_key_der, shown)
        problem = _rsa_problem(key, public_key.public_numbers())
    elif isinstance(public_key, crypto.ec.EllipticCurvePublicKey):
        problem = _ec_problem(_load_with_cryptography(private_key_der, shown), public_key)
    else:
        raise CertificateRefusedError(
            "%s holds a %s key, which a Password Secure server does not use; use a certificate with an RSA or EC "
            "key" % (shown, crypto.key_description(public_key)[0])
        )
    if problem:
        raise CertificateRefusedError("the private key given with %s %s; %s" % (shown, problem, fix))


def _unreadable(shown: object) -> CertificateRefusedError:
    # No detail from the parser: its message could quote bytes of the key.
    return CertificateRefusedError(
        "the private key given with %s can't be read as an unencrypted PKCS#8 private key, or it is damaged; "
        "export the certificate with its private key again from the Password Secure server" % shown
    )


def _reads_with_asn1crypto() -> bool:
    """Whether RSA keys are read with asn1crypto: where cryptography can't skip the primality tests."""
    return HAS_ASN1CRYPTO and not crypto.SKIPS_RSA_KEY_VALIDATION


def _read_rsa_key(der: bytes, shown: object) -> _RsaKey | str:
    """The RSA key's numbers, or the name of the key type when it is not RSA."""
    if not _reads_with_asn1crypto():
        key = _load_with_cryptography(der, shown, skip_rsa_validation=True)
        if not isinstance(key, crypto.rsa.RSAPrivateKey):
            return crypto.key_description(key.public_key())[0]
        numbers = key.private_numbers()
        public = numbers.public_numbers
        return _RsaKey(public.n, public.e, numbers.d, numbers.p, numbers.q, numbers.dmp1, numbers.dmq1, numbers.iqmp)
    try:
        info = asn1_keys.PrivateKeyInfo.load(bytes(der), strict=True)
        algorithm = info["private_key_algorithm"]["algorithm"].native
        if algorithm not in ("rsa", "rsassa_pss"):
            return {"ec": "EC", "dsa": "DSA", "ed25519": "Ed25519", "ed448": "Ed448"}.get(algorithm, "non-RSA")
        fields = info["private_key"].parsed.native
        if fields["version"] != "two-prime" or fields.get("other_prime_infos"):
            return "multi-prime RSA"
        return _RsaKey(
            fields["modulus"],
            fields["public_exponent"],
            fields["private_exponent"],
            fields["prime1"],
            fields["prime2"],
            fields["exponent1"],
            fields["exponent2"],
            fields["coefficient"],
        )
    except (ValueError, TypeError, KeyError, AttributeError):
        raise _unreadable(shown) from None


def _load_with_cryptography(der: bytes, shown: object, skip_rsa_validation: bool = False) -> Any:
    try:
        return crypto.load_der_private_key(bytes(der), skip_rsa_validation=skip_rsa_validation)
    except (ValueError, TypeError, crypto.UnsupportedAlgorithm):
        raise _unreadable(shown) from None


def _rsa_problem(key: _RsaKey | str, public: Any) -> str | None:
    if isinstance(key, str):
        return "is of type %s, but the certificate holds an RSA public key" % key
    if key.n != public.n or key.e != public.e:
        return "belongs to another certificate: its public key (modulus and exponent) is not the certificate's"
    # OpenSSL's RSA_check_key without the primality tests (see the module's docstring).
    if not (1 < key.p < key.n and 1 < key.q < key.n) or key.p * key.q != key.n:
        return "is damaged: its primes p and q do not multiply to the certificate's modulus"
    p1, q1 = key.p - 1, key.q - 1
    lcm = p1 // gcd(p1, q1) * q1
    if not 0 < key.d < key.n or (key.e * key.d) % lcm != 1:
        return "is damaged: its private exponent d does not invert the public exponent"
    if key.dp != key.d % p1 or key.dq != key.d % q1 or (key.qinv * key.q) % key.p != 1:
        return "is damaged: its CRT values (dP, dQ, qInv) do not fit its primes and private exponent"
    return None


def _ec_problem(key: Any, public_key: Any) -> str | None:
    if not isinstance(key, crypto.ec.EllipticCurvePrivateKey):
        return "is of type %s, but the certificate holds an EC public key" % crypto.key_description(key.public_key())[0]
    mine, theirs = key.public_key().public_numbers(), public_key.public_numbers()
    if mine.curve.name != theirs.curve.name or (mine.x, mine.y) != (theirs.x, theirs.y):
        return "belongs to another certificate: its public key (curve and point) is not the certificate's"
    return None
