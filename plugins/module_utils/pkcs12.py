# Copyright (c) passwordsecure.server contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Reading and writing PKCS#12 (PFX) files with any number of keys.

``cryptography`` writes and reads one private key per PKCS#12 file, so the
structure (RFC 7292) is built and parsed here with ``asn1crypto``; every cipher,
PBKDF2 and HMAC comes from ``cryptography``. The one piece no library here
exposes is the PKCS#12 key derivation of RFC 7292 appendix B.2 (``pkcs12_kdf``):
it makes the MAC key and the key and IV of the PKCS#12 password-based ciphers.

Profiles of ``write_pfx``:

``modern``
    Each key in a pkcs8ShroudedKeyBag with PBES2 (PBKDF2-HMAC-SHA256,
    AES-256-CBC), the certificates in one encryptedData SafeContents with the
    same PBES2, and an HMAC-SHA256 MAC keyed by the PKCS#12 KDF with SHA-256:
    what ``openssl pkcs12 -export`` writes by default (OpenSSL 3).
``compatibility``
    pbeWithSHAAnd3-KeyTripleDES-CBC for keys and certificates and an
    HMAC-SHA1 MAC: what Windows Server 2016 and older import.

Iterations: 2048 for the ciphers and the MAC in both profiles, OpenSSL's
PKCS12_DEFAULT_ITER. Each key is encrypted on its own (its own salt), so the
cost of a higher count is paid once per key on every read and write; the
strength of the file rests on the length of its password, which the modules
require to be long. Salts: 16 bytes in ``modern`` (NIST SP 800-132 asks for at
least 128 bits), 8 bytes in ``compatibility`` (as OpenSSL and Windows write).

Passwords are BMPString (UTF-16BE and two zero bytes) for the PKCS#12 KDF and
UTF-8 for PBKDF2, as OpenSSL does: a non-ASCII password opens in OpenSSL, while
Java 17's keytool refuses any non-ASCII PKCS#12 password (OpenSSL's files too).

Reading: keys pair with certificates by the localKeyId attribute, otherwise by
public key (read from the PKCS#8 structure; no key is loaded or validated here,
checking keys is the caller's business). RC2 (pbeWithSHAAnd40BitRC2-CBC: what
``openssl -legacy``, older Windows and Java write for certificates) has no
usable API in ``cryptography``: its RC2 takes 128-bit keys only. A certificate
SafeContents encrypted with RC2 is therefore handed, alone in a small PKCS#12
made for the purpose, to ``cryptography``'s own PKCS#12 loader
(``crypto.pkcs12_certificates``, alike on every version), which decrypts it
with OpenSSL: OpenSSL 3 through its legacy provider (cryptography 38 and newer
load it unless CRYPTOGRAPHY_OPENSSL_NO_LEGACY is set), OpenSSL 1.1.1 (in the
wheels of cryptography 3.4 and 36) by itself. Those certificates lose their
localKeyId and pair by public key. Files without a MAC are read (``openssl
pkcs12 -nomac`` writes them); the password is then checked only by the
decryption of the encrypted parts. ``MAX_PFX_SIZE`` bounds the input, and
``MAX_ITERATIONS`` any iteration count in it.

Speed (a file of 1000 keys: about 0.25 s to write or read on two cores, most of it
PBKDF2): the keys of a file are encrypted and decrypted on a thread per core
(``cryptography`` releases the GIL in PBKDF2). asn1crypto builds each kind of
SafeBag once per shape (the lengths of its variable values) with random
sentinels in place of the values; every further bag of that shape is the
template with its values put in (see "templates" below; a test checks the
result is what asn1crypto builds). Reading goes the other way: a bag equal to a
known template outside the value slots gives its values without parsing; a
template becomes known when a parsed bag is byte for byte what it makes. Only
the RFC 7292 MAC key derivation is left in Python (0.9 ms per file).

``encrypt_pkcs8``/``decrypt_pkcs8`` do the same PBES2 for a single PKCS#8 key,
as the store keeps them, without loading (and validating) the key.
"""

from __future__ import annotations

import functools
import hashlib
import os
import traceback
from hmac import compare_digest
from typing import Callable, Dict, Iterable, List, NamedTuple, Optional, Sequence, Tuple

from ansible_collections.passwordsecure.server.plugins.module_utils import crypto
from ansible_collections.passwordsecure.server.plugins.module_utils.crypto import (  # None without cryptography
    PBKDF2HMAC,
    Cipher,
    TripleDES,
    UnsupportedAlgorithm,
    algorithms,
    block_padding,
    hashes,
    hmac,
    modes,
    serialization,
)
from ansible_collections.passwordsecure.server.plugins.module_utils.errors import PasswordSecureError

try:
    from asn1crypto import algos, cms, core, keys, pkcs12, x509
except ImportError:
    HAS_ASN1CRYPTO = False
    ASN1CRYPTO_IMPORT_ERROR: Optional[str] = traceback.format_exc()
else:
    HAS_ASN1CRYPTO = True
    ASN1CRYPTO_IMPORT_ERROR = None

PROFILES = ("modern", "compatibility")
MAX_PFX_SIZE = 64 * 1024 * 1024
ITERATIONS = 2048
# Java's PKCS12KeyStore refuses more (MAX_ITERATION_COUNT): a count beyond it is damage or an attack.
MAX_ITERATIONS = 5000000

_KDF_KEY, _KDF_IV, _KDF_MAC = 1, 2, 3
# Hash name (as asn1crypto names it) -> (hashlib constructor, cryptography hash class name).
_HASHES: Dict[str, Tuple[Callable, str]] = {
    "sha1": (hashlib.sha1, "SHA1"),
    "sha224": (hashlib.sha224, "SHA224"),
    "sha256": (hashlib.sha256, "SHA256"),
    "sha384": (hashlib.sha384, "SHA384"),
    "sha512": (hashlib.sha512, "SHA512"),
}
# PBES2 ciphers: asn1crypto name -> (cipher, key length in bytes).
_PBES2_CIPHERS = {
    "aes128_cbc": ("AES", 16),
    "aes192_cbc": ("AES", 24),
    "aes256_cbc": ("AES", 32),
    "tripledes_3key": ("3DES", 24),
}
# PKCS#12 password-based ciphers (RFC 7292 appendix C): name -> (cipher, key length in bytes).
_PKCS12_PBE_CIPHERS = {
    "pkcs12_sha1_tripledes_3key": ("3DES", 24),
    "pkcs12_sha1_tripledes_2key": ("3DES", 16),
}
_RC2_PBE = ("pkcs12_sha1_rc2_40", "pkcs12_sha1_rc2_128")
_SUPPORTED_CIPHERS = (
    "PBES2 (PBKDF2 with HMAC-SHA1, -SHA224, -SHA256, -SHA384 or -SHA512; AES-128/192/256-CBC or 3DES-CBC), "
    "pbeWithSHAAnd3-KeyTripleDES-CBC, pbeWithSHAAnd2-KeyTripleDES-CBC, and for certificates also "
    "pbeWithSHAAnd40BitRC2-CBC and pbeWithSHAAnd128BitRC2-CBC"
)
_REEXPORT = (
    "export the file again with AES-256 (openssl pkcs12 -export does by default) or with 3DES "
    "(-keypbe PBE-SHA1-3DES -certpbe PBE-SHA1-3DES -macalg sha1)"
)
_WRONG_PASSWORD = "wrong password or damaged file: "
_FIX_PASSWORD = "; give the password the file was exported with, or export the file again"


class Pkcs12Error(PasswordSecureError):
    """A PKCS#12 file cannot be read. Messages follow "<file>: "."""


class Pkcs12FormatError(Pkcs12Error):
    """The data is empty, truncated, too large or not PKCS#12 at all."""


class Pkcs12PasswordError(Pkcs12Error):
    """The MAC does not match or decryption failed: wrong password or damaged file."""


class Pkcs12UnsupportedError(Pkcs12Error):
    """The file uses an algorithm or a structure this reader does not support."""


class PfxEntry(NamedTuple):
    certificate_der: bytes
    private_key_der: Optional[bytes]  # unencrypted PKCS#8 DER; None: the file has no key for it
    friendly_name: Optional[str]


class PfxContents(NamedTuple):
    entries: List[PfxEntry]  # in file order of the certificates
    keys_without_certificate: int  # keys in the file that no certificate pairs with


class _Bag(NamedTuple):
    der: bytes  # certificate DER or PKCS#8 DER
    local_key_id: Optional[bytes]
    friendly_name: Optional[str]


# ---------------------------------------------------------------------------------------------- dependencies


def require_pkcs12() -> None:
    """Raise DependencyError unless cryptography and asn1crypto are usable (the floors: ``crypto``)."""
    crypto.require_cryptography()
    crypto.require_asn1crypto(usable=HAS_ASN1CRYPTO, import_error=ASN1CRYPTO_IMPORT_ERROR)


# ---------------------------------------------------------------------------------------------- key derivation


def bmp_password(password: str) -> bytes:
    """The password as the PKCS#12 KDF takes it: BMPString (UTF-16BE) with two zero bytes."""
    return password.encode("utf-16-be") + b"\x00\x00"


def _fill(data: bytes, block: int) -> bytes:
    """``data`` repeated to the next multiple of ``block`` bytes (empty stays empty)."""
    if not data:
        return b""
    length = block * -(-len(data) // block)
    return (data * (length // len(data) + 1))[:length]


def pkcs12_kdf(hash_name: str, password: bytes, salt: bytes, iterations: int, purpose: int, length: int) -> bytes:
    """RFC 7292 appendix B.2; ``password`` as ``bmp_password`` makes it, ``purpose`` 1 key, 2 IV, 3 MAC."""
    new = _hash_pair(hash_name)[0]
    v = new().block_size
    diversifier = bytes([purpose]) * v
    i_block = bytearray(_fill(salt, v) + _fill(password, v))
    out = b""
    while len(out) < length:
        a = new(diversifier + bytes(i_block)).digest()
        for _round in range(iterations - 1):
            a = new(a).digest()
        out += a
        b = int.from_bytes(_fill(a, v), "big") + 1
        for j in range(0, len(i_block), v):
            chunk = (int.from_bytes(i_block[j : j + v], "big") + b) % (1 << (8 * v))
            i_block[j : j + v] = chunk.to_bytes(v, "big")
    return out[:length]


def _hash_pair(name: str) -> Tuple[Callable, str]:
    if name not in _HASHES:
        raise Pkcs12UnsupportedError(
            "uses the hash %s, which is not supported; supported: SHA-1, SHA-224, SHA-256, SHA-384 and "
            "SHA-512; %s" % (name, _REEXPORT)
        )
    return _HASHES[name]


def _cryptography_hash(name: str):
    return getattr(hashes, _hash_pair(name)[1])()


def _check_iterations(count: int) -> int:
    if not 1 <= count <= MAX_ITERATIONS:
        raise Pkcs12UnsupportedError(
            "asks for %d iterations, outside the supported 1 to %d; %s" % (count, MAX_ITERATIONS, _REEXPORT)
        )
    return count


# ---------------------------------------------------------------------------------------------- ciphers


def _block_cipher(name: str, key: bytes):
    if name == "AES":
        return algorithms.AES(key)
    return TripleDES(key + key[:8] if len(key) == 16 else key)  # two-key 3DES is K1 K2 K1


def _crypt(name: str, key: bytes, iv: bytes, data: bytes, encrypt: bool) -> bytes:
    algorithm = _block_cipher(name, key)
    cipher = Cipher(algorithm, modes.CBC(iv))
    if encrypt:
        padder = block_padding.PKCS7(algorithm.block_size).padder()
        encryptor = cipher.encryptor()
        return encryptor.update(padder.update(data) + padder.finalize()) + encryptor.finalize()
    decryptor = cipher.decryptor()
    padded = decryptor.update(data) + decryptor.finalize()
    unpadder = block_padding.PKCS7(algorithm.block_size).unpadder()
    return unpadder.update(padded) + unpadder.finalize()


def _unsupported_cipher(algorithm, what: str) -> Pkcs12UnsupportedError:
    oid = algorithm["algorithm"].dotted
    name = algorithm["algorithm"].native
    label = oid if name == oid else "%s (%s)" % (name, oid)
    return Pkcs12UnsupportedError(
        "encrypts %s with %s, which is not supported; supported: %s; %s" % (what, label, _SUPPORTED_CIPHERS, _REEXPORT)
    )


def _pbes2_key(params, password: str, what: str) -> Tuple[str, bytes, bytes]:
    """(cipher, key, iv) of PBES2 parameters."""
    kdf, scheme = params["key_derivation_func"], params["encryption_scheme"]
    if kdf["algorithm"].native != "pbkdf2":
        raise Pkcs12UnsupportedError(
            "derives the key of %s with %s, which is not supported; supported: PBKDF2; %s"
            % (what, kdf["algorithm"].dotted, _REEXPORT)
        )
    if scheme["algorithm"].native not in _PBES2_CIPHERS:
        raise _unsupported_cipher(scheme, what)
    pbkdf2 = kdf["parameters"]
    if pbkdf2["salt"].name != "specified":
        raise Pkcs12UnsupportedError("derives the key of %s from a salt source that is not supported" % what)
    return _pbes2_secret(password, pbkdf2["salt"].chosen.native, pbkdf2["iteration_count"].native,
                         pbkdf2["prf"]["algorithm"].native, scheme["algorithm"].native, scheme["parameters"].native)


def _pbes2_secret(password: str, salt: bytes, iterations: int, prf: str, cipher: str, iv: bytes
                  ) -> Tuple[str, bytes, bytes]:
    name, key_length = _PBES2_CIPHERS[cipher]
    key = PBKDF2HMAC(
        algorithm=_cryptography_hash(prf), length=key_length, salt=salt, iterations=_check_iterations(iterations)
    ).derive(password.encode("utf-8"))
    return name, key, iv


def _open_pbes2(password: str, salt: bytes, iv: bytes, encrypted: bytes, iterations: int, prf: str,
                cipher: str) -> bytes:
    """A private key of a known template (``_recall``): its PBES2 values without the structure."""
    name, key, iv = _pbes2_secret(password, salt, iterations, prf, cipher, iv)
    try:
        return _crypt(name, key, iv, encrypted, encrypt=False)
    except ValueError as exc:
        raise Pkcs12PasswordError(_WRONG_PASSWORD + "a private key did not decrypt" + _FIX_PASSWORD) from exc


def _pkcs12_pbe_key(name: str, params, password: str) -> Tuple[str, bytes, bytes]:
    """(cipher, key, iv) of a PKCS#12 password-based cipher."""
    return _pkcs12_pbe_secret(name, params["salt"].native, _check_iterations(params["iterations"].native), password)


def _pkcs12_pbe_secret(name: str, salt: bytes, count: int, password: str) -> Tuple[str, bytes, bytes]:
    cipher, key_length = _PKCS12_PBE_CIPHERS[name]
    secret = bmp_password(password)
    key = pkcs12_kdf("sha1", secret, salt, count, _KDF_KEY, key_length)
    return cipher, key, pkcs12_kdf("sha1", secret, salt, count, _KDF_IV, 8)


def _decrypt(algorithm, data: bytes, password: str, what: str) -> bytes:
    name = algorithm["algorithm"].native
    if name == "pbes2":
        cipher, key, iv = _pbes2_key(algorithm["parameters"], password, what)
    elif name in _PKCS12_PBE_CIPHERS:
        cipher, key, iv = _pkcs12_pbe_key(name, algorithm["parameters"], password)
    else:
        raise _unsupported_cipher(algorithm, what)
    try:
        return _crypt(cipher, key, iv, data, encrypt=False)
    except ValueError as exc:
        raise Pkcs12PasswordError(_WRONG_PASSWORD + "%s did not decrypt%s" % (what, _FIX_PASSWORD)) from exc


# ---------------------------------------------------------------------------------------------- MAC


def _mac(hash_name: str, password: str, salt: bytes, iterations: int, data: bytes) -> bytes:
    new = _hash_pair(hash_name)[0]
    key = pkcs12_kdf(hash_name, bmp_password(password), salt, iterations, _KDF_MAC, new().digest_size)
    signer = hmac.HMAC(key, _cryptography_hash(hash_name))
    signer.update(data)
    return signer.finalize()


def _mac_data(hash_name: str, salt: bytes, iterations: int, digest: bytes):
    """The MacData of a computed MAC (``_mac``)."""
    return _frozen(pkcs12.MacData, {
        "mac": {"digest_algorithm": {"algorithm": hash_name}, "digest": digest},
        "mac_salt": salt,
        "iterations": iterations,
    })


def _verify_mac(mac_data, password: str, data: bytes) -> None:
    digest_algorithm = mac_data["mac"]["digest_algorithm"]["algorithm"]
    if digest_algorithm.native not in _HASHES:
        raise Pkcs12UnsupportedError(
            "is protected by the MAC algorithm %s, which is not supported; supported: HMAC with SHA-1, "
            "SHA-224, SHA-256, SHA-384 or SHA-512; %s" % (digest_algorithm.dotted, _REEXPORT)
        )
    iterations = _check_iterations(mac_data["iterations"].native)
    expected = _mac(digest_algorithm.native, password, mac_data["mac_salt"].native, iterations, data)
    if not compare_digest(expected, mac_data["mac"]["digest"].native):
        raise Pkcs12PasswordError(_WRONG_PASSWORD + "the integrity check (MAC) does not match" + _FIX_PASSWORD)


# ---------------------------------------------------------------------------------------------- writing


class _Profile(NamedTuple):
    name: str
    mac_hash: str
    salt_length: int
    seal: Callable[[bytes, str], Tuple[Tuple[bytes, ...], bytes]]  # plaintext, password -> (parameters, ciphertext)
    algorithm: Callable[..., object]  # parameters -> the EncryptionAlgorithm that names them
    key_bag: Callable[..., bytes]  # (parameters..., ciphertext, localKeyId, friendlyName) -> SafeBag DER


def _frozen(spec, value):
    """``spec(value)`` as if read from a file.

    asn1crypto re-encodes a freshly built structure at every level above it, over and over (a
    key bag built in one go costs 1.4 ms, built level by level from frozen parts 0.3 ms), so
    each level is encoded once and loaded back before it goes into the next.
    """
    return spec.load(spec(value).dump())


# ---------------------------------------------------------------------------------------------- templates
#
# Every SafeBag is built by asn1crypto, but not every SafeBag from scratch: building one costs
# about 0.3 ms, ten times its key's PBKDF2 share on two cores. A bag built once with random
# sentinels in place of its variable values (salt, IV, ciphertext, localKeyId, certificate,
# friendlyName) is a template: each further bag whose values have the same lengths is the
# template with the sentinels replaced, byte for byte what asn1crypto builds (a test compares
# them). Same lengths, same DER lengths: no header changes.


class _Template(NamedTuple):
    der: bytes
    slots: Tuple[Tuple[int, int], ...]  # (offset, length) of each variable value, in the order of the values


_MIN_SLOT = 4  # shorter values (and None) are no slot: they are part of the template's key
_MAX_SLOT = 64 * 1024
_TEMPLATES: Dict[tuple, Optional[_Template]] = {}
_MAX_TEMPLATES = 4096  # beyond: each bag is built from scratch


def _text_sentinel(length: int) -> str:
    """Random CJK text whose UTF-16BE (a BMPString) is ``length`` bytes."""
    return _Text("".join(chr(0x4E00 + int.from_bytes(os.urandom(2), "big") % 0x5000) for _i in range(length // 2)))


def _der_length(length: int) -> bytes:
    if length < 0x80:
        return bytes([length])
    octets = length.to_bytes((length.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(octets)]) + octets


def _der_sentinel(length: int) -> bytes:
    """``length`` bytes of DER: a SEQUENCE around an OCTET STRING of random bytes (a certificate's stand-in:
    asn1crypto checks that a CertBag's value is a SEQUENCE)."""
    for inner in range(length - 2, -1, -1):
        octets = b"\x04" + _der_length(inner) + os.urandom(inner)
        der = b"\x30" + _der_length(len(octets)) + octets
        if len(der) == length:
            return der
    return os.urandom(length)  # no DER has this length; the template fails and each bag is built


def _bytes_sentinel(value: bytes) -> bytes:
    return _der_sentinel(len(value)) if value[:1] == b"\x30" else os.urandom(len(value))


def _encoded(value) -> bytes:
    return value.encode("utf-16-be") if isinstance(value, _Text) else value


class _Text(str):
    """Text a template holds in a slot, as a BMPString's UTF-16BE (a friendlyName); other text is fixed."""


def _text(value: Optional[str]) -> Optional[str]:
    return None if value is None else _Text(value)


def _shape(value) -> tuple:
    if isinstance(value, bytes) and len(value) >= _MIN_SLOT:
        return ("bytes", len(value))
    if isinstance(value, _Text) and len(value) * 2 >= _MIN_SLOT:
        return ("text", len(value.encode("utf-16-be")))
    return ("fixed", value)


def _make_template(build: Callable[..., bytes], values: Sequence) -> Optional[_Template]:
    """``build`` run once on sentinels of the shapes of ``values``; None if a sentinel is not unique."""
    sentinels, encoded = [], []
    for value in values:
        kind = _shape(value)[0]
        sentinel = _bytes_sentinel(value) if kind == "bytes" else _text_sentinel(len(_encoded(value))) \
            if kind == "text" else value
        sentinels.append(sentinel)
        encoded.append(_encoded(sentinel) if kind != "fixed" else None)
    der = build(*sentinels)
    slots = []
    for piece in encoded:
        if piece is None:
            continue
        offset = der.find(piece)
        if offset < 0 or der.find(piece, offset + 1) >= 0:
            return None  # not found once: astronomically unlikely with random sentinels; build each bag
        slots.append((offset, len(piece)))
    ordered = sorted(slots)
    if any(a + la > b for (a, la), (b, _lb) in zip(ordered, ordered[1:])):
        return None
    return _Template(der, tuple(slots))


def _template(build: Callable[..., bytes], values: Sequence) -> Tuple[tuple, Optional[_Template]]:
    key = (build,) + tuple(_shape(value) for value in values)
    if any(isinstance(value, bytes) and len(value) > _MAX_SLOT for value in values):
        return key, None  # one large structure (one file of many keys): built once, no template to reuse
    if key not in _TEMPLATES:
        if len(_TEMPLATES) >= _MAX_TEMPLATES:
            return key, None
        _TEMPLATES[key] = _make_template(build, values)
    return key, _TEMPLATES[key]


def _templated(build: Callable[..., bytes], *values) -> bytes:
    """``build(*values)``, from a template of ``build`` for values of these shapes."""
    _key, template = _template(build, values)
    if template is None:
        return build(*values)
    filled = sorted(
        (offset, length, _encoded(value))
        for (offset, length), value in zip(template.slots, (v for v in values if _shape(v)[0] != "fixed"))
    )
    pieces, position = [], 0
    for offset, length, value in filled:
        pieces += [template.der[position:offset], value]
        position = offset + length
    pieces.append(template.der[position:])
    return b"".join(pieces)


# Reading goes the other way: a SafeBag that is a known template outside its slots has, for
# values, the bytes in its slots, with no parsing. A template becomes known when a bag parsed
# by asn1crypto is byte for byte what the template makes of that bag's values.
_KNOWN: Dict[int, List[tuple]] = {}  # DER length -> keys of _TEMPLATES
_MAX_KNOWN = 16  # per length: bounds the comparisons a crafted file can cause


def _learn(build: Callable[..., bytes], values: Sequence, der: bytes) -> None:
    """Make the template of ``build`` for ``values`` known if it gives back ``der``."""
    try:
        key, template = _template(build, values)
        if template is None or key in _KNOWN.get(len(der), ()) or len(_KNOWN.get(len(der), ())) >= _MAX_KNOWN:
            return
        if _templated(build, *values) == der:
            _KNOWN.setdefault(len(der), []).append(key)
    except (ValueError, TypeError, UnicodeError):
        return  # values no template holds: this bag is parsed, as any other


def _recall(der: bytes) -> Optional[Tuple[Callable[..., bytes], list]]:
    """(build, values) of a known template that gives ``der``, or None."""
    for key in _KNOWN.get(len(der), ()):
        template = _TEMPLATES[key]
        position, pieces = 0, []
        for offset, length in sorted(template.slots):
            if der[position:offset] != template.der[position:offset]:
                break
            pieces.append((offset, der[offset:offset + length]))
            position = offset + length
        else:
            if der[position:] != template.der[position:]:
                continue
            by_offset = dict(pieces)
            slot_values = iter(by_offset[offset] for offset, _length in template.slots)
            values = []
            try:
                for kind, detail in key[1:]:
                    value = detail if kind == "fixed" else next(slot_values)
                    if kind == "text":
                        value = value.decode("utf-16-be")
                    elif isinstance(value, _Text):
                        value = str(value)  # a short name the key holds: plain text, as parsing gives it
                    values.append(value)
            except UnicodeDecodeError:
                continue
            return key[0], values
    return None


# ---------------------------------------------------------------------------------------------- encryption


def _derive_pbkdf2(password: str, salt: bytes) -> bytes:
    return PBKDF2HMAC(algorithm=hashes.SHA256(), length=32, salt=salt, iterations=ITERATIONS).derive(
        password.encode("utf-8")
    )


def _seal_pbes2(data: bytes, password: str) -> Tuple[Tuple[bytes, bytes], bytes]:
    """PBES2 (PBKDF2-HMAC-SHA256, AES-256-CBC) with a fresh 16-byte salt and IV: ((salt, iv), ciphertext)."""
    salt, iv = os.urandom(16), os.urandom(16)
    return (salt, iv), _crypt("AES", _derive_pbkdf2(password, salt), iv, data, encrypt=True)


def _pbes2_algorithm(salt: bytes, iv: bytes, iterations: int = ITERATIONS, prf: str = "sha256",
                     cipher: str = "aes256_cbc"):
    prf_algorithm = _frozen(algos.HmacAlgorithm, {"algorithm": prf, "parameters": core.Null()})
    salt_choice = algos.Pbkdf2Salt(name="specified", value=salt)
    kdf_params = _frozen(algos.Pbkdf2Params, {"salt": salt_choice, "iteration_count": iterations, "prf": prf_algorithm})
    kdf = _frozen(algos.KdfAlgorithm, {"algorithm": "pbkdf2", "parameters": kdf_params})
    scheme = _frozen(algos.EncryptionAlgorithm, {"algorithm": cipher, "parameters": core.OctetString(iv)})
    params = _frozen(algos.Pbes2Params, {"key_derivation_func": kdf, "encryption_scheme": scheme})
    return _frozen(algos.EncryptionAlgorithm, {"algorithm": "pbes2", "parameters": params})


_3DES = "pkcs12_sha1_tripledes_3key"


def _seal_3des(data: bytes, password: str) -> Tuple[Tuple[bytes], bytes]:
    """pbeWithSHAAnd3-KeyTripleDES-CBC with a fresh 8-byte salt: ((salt,), ciphertext)."""
    salt = os.urandom(8)
    cipher, key, iv = _pkcs12_pbe_secret(_3DES, salt, ITERATIONS, password)
    return (salt,), _crypt(cipher, key, iv, data, encrypt=True)


def _3des_algorithm(salt: bytes):
    params = _frozen(algos.Pbes1Params, {"salt": salt, "iterations": ITERATIONS})
    return _frozen(algos.EncryptionAlgorithm, {"algorithm": _3DES, "parameters": params})


def _encrypt_pbes2(data: bytes, password: str):
    """(EncryptionAlgorithm, ciphertext) of PBES2 with PBKDF2-HMAC-SHA256 and AES-256-CBC."""
    (salt, iv), encrypted = _seal_pbes2(data, password)
    return _pbes2_algorithm(salt, iv), encrypted


# ---------------------------------------------------------------------------------------------- bags


def _attributes(local_key_id: Optional[bytes], friendly_name: Optional[str]):
    attributes = []
    if friendly_name is not None:
        attributes.append(_frozen(pkcs12.Attribute, {"type": "friendly_name", "values": [friendly_name]}))
    if local_key_id is not None:
        attributes.append(_frozen(pkcs12.Attribute, {"type": "local_key_id", "values": [local_key_id]}))
    return _frozen(pkcs12.Attributes, attributes) if attributes else None


def _safe_bag_der(bag_id: str, value, local_key_id: Optional[bytes], friendly_name: Optional[str]) -> bytes:
    bag = {"bag_id": bag_id, "bag_value": value}
    attributes = _attributes(local_key_id, friendly_name)
    if attributes is not None:
        bag["bag_attributes"] = attributes
    return pkcs12.SafeBag(bag).dump()


def _shrouded_key_bag_der(algorithm, encrypted: bytes, local_key_id: Optional[bytes],
                          friendly_name: Optional[str]) -> bytes:
    value = _frozen(keys.EncryptedPrivateKeyInfo, {"encryption_algorithm": algorithm, "encrypted_data": encrypted})
    return _safe_bag_der("pkcs8_shrouded_key_bag", value, local_key_id, friendly_name)


def _pbes2_key_bag_der(salt: bytes, iv: bytes, encrypted: bytes, local_key_id: Optional[bytes],
                       friendly_name: Optional[str], iterations: int = ITERATIONS, prf: str = "sha256",
                       cipher: str = "aes256_cbc") -> bytes:
    algorithm = _pbes2_algorithm(salt, iv, iterations, prf, cipher)
    return _shrouded_key_bag_der(algorithm, encrypted, local_key_id, friendly_name)


def _3des_key_bag_der(salt: bytes, encrypted: bytes, local_key_id: Optional[bytes],
                      friendly_name: Optional[str]) -> bytes:
    return _shrouded_key_bag_der(_3des_algorithm(salt), encrypted, local_key_id, friendly_name)


def _cert_bag_der(certificate_der: bytes, local_key_id: Optional[bytes], friendly_name: Optional[str]) -> bytes:
    value = _frozen(pkcs12.CertBag, {"cert_id": "x509", "cert_value": core.ParsableOctetString(certificate_der)})
    return _safe_bag_der("cert_bag", value, local_key_id, friendly_name)


_PROFILES = {
    "modern": _Profile("modern", "sha256", 16, _seal_pbes2, _pbes2_algorithm, _pbes2_key_bag_der),
    "compatibility": _Profile("compatibility", "sha1", 8, _seal_3des, _3des_algorithm, _3des_key_bag_der),
}


def _check_pkcs8(entry: PfxEntry) -> bytes:
    if not isinstance(entry.private_key_der, bytes) or not _is_pkcs8(entry.private_key_der):
        raise ValueError("private_key_der of %r is not PKCS#8 DER" % (entry.friendly_name,))
    return entry.private_key_der


def _sealed_key_bag(profile: _Profile, sealed: tuple, local_key_id: Optional[bytes], friendly_name: Optional[str]):
    """The shrouded key bag (a SafeBag) of a key ``profile.seal`` encrypted: ``sealed`` is its result."""
    parameters, encrypted = sealed
    return pkcs12.SafeBag.load(_templated(profile.key_bag, *parameters, encrypted, local_key_id, _text(friendly_name)))


def _key_bag(entry: PfxEntry, local_key_id: Optional[bytes], password: str, profile: _Profile):
    """One shrouded key bag (a SafeBag), its key encrypted now."""
    return _sealed_key_bag(profile, profile.seal(_check_pkcs8(entry), password), local_key_id, entry.friendly_name)


def _is_pkcs8(der: bytes) -> bool:
    """Whether ``der`` has the outline of a PrivateKeyInfo (INTEGER, SEQUENCE, OCTET STRING), any algorithm."""
    try:
        outline = core.Sequence.load(der, strict=True)
        kinds = (core.Integer, core.Sequence, core.OctetString)
        return len(outline) >= 3 and all(isinstance(outline[i], kind) for i, kind in enumerate(kinds))
    except (ValueError, TypeError):
        return False


def _cert_bag(entry: PfxEntry, local_key_id: Optional[bytes]):
    return pkcs12.SafeBag.load(_templated(_cert_bag_der, entry.certificate_der, local_key_id,
                                          _text(entry.friendly_name)))


def _safe_contents(bags: list) -> bytes:
    return pkcs12.SafeContents(bags).dump()


def _encrypted_safe_der(profile: str, encrypted: bytes, *parameters: bytes) -> bytes:
    info = {"content_type": "data", "content_encryption_algorithm": _PROFILES[profile].algorithm(*parameters),
            "encrypted_content": encrypted}
    content = _frozen(cms.EncryptedData, {"version": "v0", "encrypted_content_info": info})
    return cms.ContentInfo({"content_type": "encrypted_data", "content": content}).dump()


def _encrypted_safe(bags: list, password: str, profile: _Profile):
    parameters, encrypted = profile.seal(_safe_contents(bags), password)
    return cms.ContentInfo.load(_templated(_encrypted_safe_der, profile.name, encrypted, *parameters))


def _data_safe(bags: list):
    content = core.OctetString(_safe_contents(bags))
    return _frozen(cms.ContentInfo, {"content_type": "data", "content": content})


def _pfx_der(auth_safe: bytes, mac_hash: str, mac_salt: bytes, iterations: int, digest: bytes) -> bytes:
    mac_data = _mac_data(mac_hash, mac_salt, iterations, digest)
    content_info = _frozen(cms.ContentInfo, {"content_type": "data", "content": core.OctetString(auth_safe)})
    return pkcs12.Pfx({"version": "v3", "auth_safe": content_info, "mac_data": mac_data}).dump()


def _pfx(safes: list, password: str, mac_hash: str, salt_length: int, iterations: int) -> bytes:
    auth_safe = pkcs12.AuthenticatedSafe(safes).dump()
    salt = os.urandom(salt_length)
    digest = _mac(mac_hash, password, salt, iterations, auth_safe)
    return _templated(_pfx_der, auth_safe, mac_hash, salt, iterations, digest)


def write_pfx(entries: Sequence[PfxEntry], password: str, *, profile: str = "modern") -> bytes:
    """A PKCS#12 file holding every entry: certificates in one encrypted SafeContents, each key shrouded.

    A key and its certificate carry the same localKeyId (the certificate's SHA-1, as OpenSSL
    writes it) and the entry's friendlyName. The keys are encrypted on every core (PBKDF2
    releases the GIL). Raises ValueError on a programming error.
    """
    require_pkcs12()
    if profile not in _PROFILES:
        raise ValueError("profile must be one of %s, not %r" % (", ".join(PROFILES), profile))
    chosen = _PROFILES[profile]
    cert_bags, keyed, seen = [], [], set()
    for entry in entries:
        local_key_id = hashlib.sha1(entry.certificate_der).digest()
        if local_key_id in seen:
            raise ValueError("the certificate of %r is given twice" % (entry.friendly_name,))
        seen.add(local_key_id)
        if entry.private_key_der is None:
            cert_bags.append(_cert_bag(entry, None))
            continue
        _check_pkcs8(entry)
        cert_bags.append(_cert_bag(entry, local_key_id))
        keyed.append((entry, local_key_id))
    sealed = crypto.parallel_map(lambda item: chosen.seal(item[0].private_key_der, password), keyed, minimum=8)
    key_bags = [
        _sealed_key_bag(chosen, one, local_key_id, entry.friendly_name)
        for (entry, local_key_id), one in zip(keyed, sealed)
    ]
    safes = [_encrypted_safe(cert_bags, password, chosen)]
    if key_bags:
        safes.append(_data_safe(key_bags))
    return _pfx(safes, password, chosen.mac_hash, chosen.salt_length, ITERATIONS)


def encrypt_pkcs8(private_key_der: bytes, passphrase: bytes) -> bytes:
    """PKCS#8 DER encrypted as cryptography's BestAvailableEncryption does it (PBES2: PBKDF2-HMAC-SHA256,
    2048 iterations, AES-256-CBC), without loading the key; ``passphrase`` is UTF-8 text."""
    require_pkcs12()
    if not _is_pkcs8(private_key_der):
        raise ValueError("private_key_der is not PKCS#8 DER")
    algorithm, encrypted = _encrypt_pbes2(private_key_der, passphrase.decode("utf-8"))
    return keys.EncryptedPrivateKeyInfo({"encryption_algorithm": algorithm, "encrypted_data": encrypted}).dump()


def decrypt_pkcs8(encrypted_der: bytes, passphrase: bytes) -> bytes:
    """The PKCS#8 DER inside an EncryptedPrivateKeyInfo, without loading the key (no RSA validation).

    Raises Pkcs12PasswordError (wrong passphrase or damaged), Pkcs12UnsupportedError or
    Pkcs12FormatError, phrased like read_pfx's errors.
    """
    require_pkcs12()
    try:
        info = keys.EncryptedPrivateKeyInfo.load(encrypted_der, strict=True)
        algorithm, encrypted = info["encryption_algorithm"], info["encrypted_data"].native
        algorithm["algorithm"].native  # noqa: B018 (parse now: damage here is a format error)
    except (ValueError, TypeError, KeyError) as exc:
        raise Pkcs12FormatError("holds an encrypted private key that does not parse as PKCS#8") from exc
    return _checked_pkcs8(_decrypt(algorithm, encrypted, passphrase.decode("utf-8"), "a private key"), False)


# ---------------------------------------------------------------------------------------------- reading


def _load_pfx(data: bytes):
    if len(data) > MAX_PFX_SIZE:
        raise Pkcs12FormatError(
            "is %d bytes, larger than the %d bytes (%d MiB) a PKCS#12 file may have here; give the right "
            "file, or split the export into several files" % (len(data), MAX_PFX_SIZE, MAX_PFX_SIZE >> 20)
        )
    if not data:
        raise Pkcs12FormatError("is empty; give a PKCS#12 (.pfx or .p12) file")
    if data.lstrip()[:11] == b"-----BEGIN ":
        raise Pkcs12FormatError(
            "is PEM text, not a PKCS#12 (.pfx or .p12) file; set format: pem to import a certificate with its key "
            "as PEM, or give a PKCS#12 file: make one from the PEM files (openssl pkcs12 -export)"
        )
    try:
        pfx = pkcs12.Pfx.load(data, strict=True)
        version = pfx["version"].native
        content_type = pfx["auth_safe"]["content_type"].native
        content = pfx["auth_safe"]["content"]
        octets = content.native if content_type == "data" else None
        mac_data = pfx["mac_data"]
        if isinstance(mac_data, pkcs12.MacData):
            mac_data.native  # noqa: B018 (parse it all now: damage here is a format error)
    except (ValueError, TypeError, KeyError) as exc:
        raise Pkcs12FormatError(
            "is not a PKCS#12 (.pfx or .p12) file, or it is truncated or damaged (it does not parse as "
            "PKCS#12); give a complete PKCS#12 file"
        ) from exc
    if version != "v3":
        raise Pkcs12UnsupportedError("is PKCS#12 version %r; only version 3 is supported; %s" % (version, _REEXPORT))
    if content_type != "data" or not isinstance(octets, bytes):
        raise Pkcs12UnsupportedError(
            "uses the integrity mode %s (public-key integrity), which is not supported; supported: "
            "password integrity (HMAC); %s" % (pfx["auth_safe"]["content_type"].dotted, _REEXPORT)
        )
    return pfx, octets


def _safe_contents_of(content_info, password: str, has_mac: bool) -> Iterable:
    """The SafeBags of one ContentInfo of the AuthenticatedSafe."""
    content_type = content_info["content_type"].native
    if content_type == "data":
        return _parse_safe_contents(content_info["content"].native, trusted=True)
    if content_type == "encrypted_data":
        info = content_info["content"]["encrypted_content_info"]
        algorithm = info["content_encryption_algorithm"]
        if algorithm["algorithm"].native in _RC2_PBE:
            return _rc2_safe_contents(content_info, algorithm["algorithm"].native, password, has_mac)
        encrypted = info["encrypted_content"].native
        if not isinstance(encrypted, bytes):
            raise Pkcs12FormatError("holds an encrypted part without content; export the file again")
        return _parse_safe_contents(_decrypt(algorithm, encrypted, password, "certificates"), trusted=has_mac)
    raise Pkcs12UnsupportedError(
        "protects a part with %s (public-key privacy), which is not supported; supported: password privacy; "
        "%s" % (content_info["content_type"].dotted, _REEXPORT)
    )


def _parse_safe_contents(octets: bytes, trusted: bool) -> list:
    """SafeBags of DER; ``trusted``: the MAC vouched for the bytes, so damage is not a wrong password."""
    try:
        return list(pkcs12.SafeContents.load(octets, strict=True))
    except (ValueError, TypeError) as exc:
        if trusted:
            raise Pkcs12FormatError(
                "holds a part that does not parse as PKCS#12 SafeContents; export the file again"
            ) from exc
        raise Pkcs12PasswordError(_WRONG_PASSWORD + "the certificates do not decrypt" + _FIX_PASSWORD) from exc


def _rc2_safe_contents(content_info, name: str, password: str, has_mac: bool) -> List[_Bag]:
    """Certificates of an RC2-encrypted SafeContents, decrypted by cryptography's PKCS#12 loader.

    The part goes alone into a PKCS#12 made for the purpose (password and MAC as the file's).
    """
    alone = _pfx([content_info], password, "sha1", 8, 1)
    try:
        has_key, certificates = crypto.pkcs12_certificates(alone, password.encode("utf-8"))
    except Exception as exc:  # cryptography raises ValueError or UnsupportedAlgorithm: both mean "cannot"
        if not has_mac:
            raise Pkcs12PasswordError(_WRONG_PASSWORD + "the certificates do not decrypt" + _FIX_PASSWORD) from exc
        raise Pkcs12UnsupportedError(
            "encrypts its certificates with RC2 (%s, what openssl -legacy and older Windows and Java write), "
            "which the cryptography library on the managed host cannot decrypt: it needs OpenSSL's legacy "
            "provider (not loaded, or CRYPTOGRAPHY_OPENSSL_NO_LEGACY is set); make it available, or %s"
            % (name, _REEXPORT)
        ) from exc
    if has_key:
        raise Pkcs12UnsupportedError(
            "keeps a private key inside an RC2-encrypted part, which is not supported; %s" % _REEXPORT
        )
    return [_Bag(der, None, friendly_name) for der, friendly_name in certificates]


def _attributes_of(bag) -> Tuple[Optional[bytes], Optional[str]]:
    local_key_id, friendly_name = None, None
    attributes = bag["bag_attributes"]
    for attribute in attributes if isinstance(attributes, pkcs12.Attributes) else ():
        kind = attribute["type"].native
        if kind == "local_key_id" and len(attribute["values"]):
            local_key_id = attribute["values"][0].native
        elif kind == "friendly_name" and len(attribute["values"]):
            friendly_name = attribute["values"][0].native
    return local_key_id, friendly_name


class _PendingKey(NamedTuple):
    open: Callable[[], bytes]  # its PKCS#8 DER, decrypted when called
    local_key_id: Optional[bytes]
    friendly_name: Optional[str]


def _collect(bags: Iterable, password: str, has_mac: bool, certs: List[_Bag], pending: List[_PendingKey]) -> None:
    """Sort SafeBags into certificates and keys to decrypt, recursing into nested SafeContents.

    A bag of a known template (``_recall``) is read from its slots; any other is parsed, and
    teaches its template (``_learn``) to the bags after it.
    """
    for bag in bags:
        if isinstance(bag, _Bag):  # a certificate the RC2 path decoded
            certs.append(bag)
            continue
        der = bag.dump()
        recalled = _recall(der)
        if recalled is not None:
            build, values = recalled
            if build is _cert_bag_der:
                certs.append(_Bag(*values))
            else:  # _pbes2_key_bag_der
                salt, iv, encrypted, local_key_id, friendly_name, iterations, prf, cipher = values
                opener = functools.partial(_open_pbes2, password, salt, iv, encrypted, iterations, prf, cipher)
                pending.append(_PendingKey(opener, local_key_id, friendly_name))
            continue
        kind = bag["bag_id"].native
        value = bag["bag_value"]
        if kind == "safe_contents":
            _collect(list(value), password, has_mac, certs, pending)
            continue
        local_key_id, friendly_name = _attributes_of(bag)
        if kind == "cert_bag" and value["cert_id"].native == "x509":
            certificate = bytes(value["cert_value"])
            certs.append(_Bag(certificate, local_key_id, friendly_name))
            _learn(_cert_bag_der, [certificate, local_key_id, _text(friendly_name)], der)
        elif kind == "pkcs8_shrouded_key_bag":
            algorithm, encrypted = value["encryption_algorithm"], value["encrypted_data"].native
            opener = functools.partial(_decrypt, algorithm, encrypted, password, "a private key")
            pending.append(_PendingKey(opener, local_key_id, friendly_name))
            _learn_key_bag(algorithm, encrypted, local_key_id, friendly_name, der)
        elif kind == "key_bag":
            opener = functools.partial(_checked_pkcs8, value.untag().dump(), True)
            pending.append(_PendingKey(opener, local_key_id, friendly_name))


def _learn_key_bag(algorithm, encrypted: bytes, local_key_id: Optional[bytes], friendly_name: Optional[str],
                   der: bytes) -> None:
    try:
        if algorithm["algorithm"].native != "pbes2":
            return
        kdf, scheme = algorithm["parameters"]["key_derivation_func"], algorithm["parameters"]["encryption_scheme"]
        pbkdf2 = kdf["parameters"]
        if kdf["algorithm"].native != "pbkdf2" or pbkdf2["salt"].name != "specified":
            return
        values = [pbkdf2["salt"].chosen.native, scheme["parameters"].native, encrypted, local_key_id,
                  _text(friendly_name), pbkdf2["iteration_count"].native, pbkdf2["prf"]["algorithm"].native,
                  scheme["algorithm"].native]
    except (ValueError, TypeError, KeyError):
        return  # not the structure of a template: the decryption reports what is wrong
    if all(isinstance(v, bytes) for v in values[:3]) and values[6] in _HASHES and values[7] in _PBES2_CIPHERS:
        _learn(_pbes2_key_bag_der, values, der)


def _decrypt_keys(pending: List[_PendingKey], has_mac: bool) -> List[_Bag]:
    """The keys, decrypted on every core (PBKDF2 releases the GIL)."""
    ders = crypto.parallel_map(lambda item: _checked_pkcs8(item.open(), has_mac), pending, minimum=8)
    return [_Bag(der, item.local_key_id, item.friendly_name) for der, item in zip(ders, pending)]


def _checked_pkcs8(der: bytes, has_mac: bool) -> bytes:
    if _is_pkcs8(der):
        return der
    if has_mac:
        raise Pkcs12FormatError("holds a private key that does not parse as PKCS#8; export the file again")
    raise Pkcs12PasswordError(_WRONG_PASSWORD + "a private key did not decrypt" + _FIX_PASSWORD)


# ---------------------------------------------------------------------------------------------- pairing


def _spki_identity(spki) -> tuple:
    algorithm = spki["algorithm"]["algorithm"].native
    if algorithm in ("rsa", "rsassa_pss"):
        numbers = spki["public_key"].parsed
        return ("rsa", numbers["modulus"].native, numbers["public_exponent"].native)
    if algorithm == "ec":
        return ("ec", spki["public_key"].native)
    return ("other", spki.dump())


def _key_identity(der: bytes) -> tuple:
    """The public key of a PKCS#8 key, read from the structure; loaded only for key types that lack it."""
    try:
        return _read_key_identity(der)
    except (ValueError, TypeError, KeyError, UnsupportedAlgorithm):  # damaged, or an unknown algorithm
        return ("unusable", der)


def _read_key_identity(der: bytes) -> tuple:
    info = keys.PrivateKeyInfo.load(der)
    algorithm = info["private_key_algorithm"]["algorithm"].native
    if algorithm in ("rsa", "rsassa_pss"):
        numbers = info["private_key"].parsed
        return ("rsa", numbers["modulus"].native, numbers["public_exponent"].native)
    if algorithm == "ec" and info["private_key"].parsed["public_key"].native is not None:
        return ("ec", info["private_key"].parsed["public_key"].native)
    # Not RSA: loading does no expensive validation.
    public = serialization.load_der_private_key(der, password=None).public_key()
    spki = public.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return _spki_identity(keys.PublicKeyInfo.load(spki))


def _cert_identity(der: bytes) -> tuple:
    try:
        return _spki_identity(x509.Certificate.load(der)["tbs_certificate"]["subject_public_key_info"])
    except (ValueError, TypeError, KeyError):
        return ("unusable", der)


def _pair_by_local_key_id(certs: List[_Bag], private_keys: List[_Bag]) -> Dict[int, int]:
    """certificate index -> key index, for certificates and keys that share a localKeyId."""
    by_id: Dict[bytes, int] = {}
    for index, key in enumerate(private_keys):
        if key.local_key_id is not None:
            by_id.setdefault(key.local_key_id, index)
    paired = {}
    for index, cert in enumerate(certs):
        key_index = by_id.pop(cert.local_key_id, None) if cert.local_key_id is not None else None
        if key_index is not None:
            paired[index] = key_index
    return paired


def _pair_by_public_key(certs: List[_Bag], private_keys: List[_Bag], paired: Dict[int, int]) -> None:
    """Add to ``paired`` the certificates and keys left over that hold the same public key."""
    taken = set(paired.values())
    by_public: Dict[tuple, int] = {}
    for index, key in enumerate(private_keys):
        if index not in taken:
            by_public.setdefault(_key_identity(key.der), index)
    for index, cert in enumerate(certs):
        if index not in paired and by_public:
            key_index = by_public.pop(_cert_identity(cert.der), None)
            if key_index is not None:
                paired[index] = key_index


def _pair(certs: List[_Bag], private_keys: List[_Bag]) -> PfxContents:
    paired = _pair_by_local_key_id(certs, private_keys)
    if len(paired) < min(len(certs), len(private_keys)):
        _pair_by_public_key(certs, private_keys, paired)
    entries = []
    for index, cert in enumerate(certs):
        key = private_keys[paired[index]] if index in paired else None
        name = cert.friendly_name if cert.friendly_name is not None or key is None else key.friendly_name
        entries.append(PfxEntry(cert.der, key.der if key is not None else None, name))
    return PfxContents(entries, len(private_keys) - len(paired))


# The cipher ``write_pfx`` uses for every key and encrypted part, by profile.
_PROFILE_CIPHERS = {"modern": "pbes2", "compatibility": "pkcs12_sha1_tripledes_3key"}


def matches_profile(data: bytes, profile: str) -> bool:
    """Whether a PKCS#12 file uses the MAC hash and ciphers ``write_pfx`` uses for ``profile``.

    Reads only the unencrypted structure (no password): the MAC's hash, the cipher of each
    encrypted part and of each shrouded key. An export compares this as well as the content,
    so that a change of ``encryption`` rewrites a file that holds the right certificates.
    """
    require_pkcs12()
    ciphers = set()
    try:
        pfx, octets = _load_pfx(data)
        mac_data = pfx["mac_data"]
        if not isinstance(mac_data, pkcs12.MacData):
            return False
        mac_hash = mac_data["mac"]["digest_algorithm"]["algorithm"].native
        for content_info in pkcs12.AuthenticatedSafe.load(octets, strict=True):
            content_type = content_info["content_type"].native
            if content_type == "encrypted_data":
                info = content_info["content"]["encrypted_content_info"]
                ciphers.add(info["content_encryption_algorithm"]["algorithm"].native)
            elif content_type == "data":
                for bag in pkcs12.SafeContents.load(content_info["content"].native, strict=True):
                    if bag["bag_id"].native == "pkcs8_shrouded_key_bag":
                        ciphers.add(bag["bag_value"]["encryption_algorithm"]["algorithm"].native)
                    elif bag["bag_id"].native == "key_bag":
                        ciphers.add("none")
            else:
                return False
    except (Pkcs12Error, ValueError, TypeError, KeyError):
        return False
    return mac_hash == _PROFILES[profile].mac_hash and ciphers == {_PROFILE_CIPHERS[profile]}


def read_pfx(data: bytes, password: str) -> PfxContents:
    """Every certificate of a PKCS#12 file, each with its unencrypted PKCS#8 key if the file has one."""
    require_pkcs12()
    pfx, octets = _load_pfx(data)
    has_mac = isinstance(pfx["mac_data"], pkcs12.MacData)
    if has_mac:
        _verify_mac(pfx["mac_data"], password, octets)
    try:
        safes = list(pkcs12.AuthenticatedSafe.load(octets, strict=True))
    except (ValueError, TypeError) as exc:
        raise Pkcs12FormatError("does not hold a readable PKCS#12 AuthenticatedSafe; export the file again") from exc
    certs: List[_Bag] = []
    pending: List[_PendingKey] = []
    try:
        for content_info in safes:
            _collect(_safe_contents_of(content_info, password, has_mac), password, has_mac, certs, pending)
        private_keys = _decrypt_keys(pending, has_mac)
    except (ValueError, TypeError, KeyError) as exc:
        if has_mac:
            raise Pkcs12FormatError("holds a part that does not parse as PKCS#12; export the file again") from exc
        raise Pkcs12PasswordError(_WRONG_PASSWORD + "its content did not decrypt" + _FIX_PASSWORD) from exc
    return _pair(certs, private_keys)
