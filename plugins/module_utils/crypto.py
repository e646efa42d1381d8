# Copyright (c) passwordsecure.server contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The collection's one doorway to ``cryptography``.

Modules run on the managed host's Python, whose ``cryptography`` may be as old
as 38 (Debian 12). Everything version-dependent is settled here once, and the
import is guarded so that a host without the library gets a clear message
instead of a traceback.
"""

from __future__ import annotations

import datetime
import hashlib
import os
import traceback
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, Iterable, TypeVar

from ansible_collections.passwordsecure.server.plugins.module_utils.errors import DependencyError

MIN_CRYPTOGRAPHY_VERSION = (38, 0)

_In = TypeVar("_In")
_Out = TypeVar("_Out")

# Re-exported: the rest of the collection imports cryptography's names from here.
__all__ = [
    "HAS_CRYPTOGRAPHY",
    "PBKDF2HMAC",
    "UnsupportedAlgorithm",
    "ExtendedKeyUsageOID",
    "NameOID",
    "hashes",
    "rsa",
    "serialization",
    "x509",
]

try:
    import cryptography
    from cryptography import x509
    from cryptography.exceptions import UnsupportedAlgorithm
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
except ImportError:
    HAS_CRYPTOGRAPHY = False
    CRYPTOGRAPHY_IMPORT_ERROR: str | None = traceback.format_exc()
    x509 = hashes = serialization = rsa = PBKDF2HMAC = NameOID = ExtendedKeyUsageOID = None  # type: ignore[assignment]
    UnsupportedAlgorithm = None  # type: ignore[assignment,misc]
else:
    HAS_CRYPTOGRAPHY = True
    CRYPTOGRAPHY_IMPORT_ERROR = None


def cryptography_version() -> tuple[int, ...]:
    parts = []
    for part in cryptography.__version__.split(".")[:2]:
        digits = "".join(ch for ch in part if ch.isdigit())
        parts.append(int(digits or 0))
    return tuple(parts)


def require_cryptography() -> None:
    """Raise DependencyError unless a usable ``cryptography`` is importable."""
    wanted = ".".join(str(p) for p in MIN_CRYPTOGRAPHY_VERSION)
    if not HAS_CRYPTOGRAPHY:
        raise DependencyError(
            "the Python library 'cryptography' (%s or newer) is not installed for the Python "
            "that runs this module; install it on the managed host (Debian/Ubuntu: apt-get install "
            "python3-cryptography; elsewhere: pip install 'cryptography>=%s') or point "
            "ansible_python_interpreter at a Python that has it" % (wanted, wanted)
        )
    if cryptography_version() < MIN_CRYPTOGRAPHY_VERSION:
        raise DependencyError(
            "the Python library 'cryptography' on the managed host is version %s, and this "
            "collection needs %s or newer; upgrade it (pip install 'cryptography>=%s')"
            % (cryptography.__version__, wanted, wanted)
        )


UTC = datetime.timezone.utc


def utc(moment: datetime.datetime) -> datetime.datetime:
    """A timezone-aware UTC datetime (cryptography < 42 returns naive UTC)."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def iso(moment: datetime.datetime) -> str:
    """ISO 8601 in UTC with a ``Z``: the one date format the collection writes."""
    return utc(moment).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_iso(text: str) -> datetime.datetime:
    return datetime.datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


def not_valid_before(cert: x509.Certificate) -> datetime.datetime:
    return utc(getattr(cert, "not_valid_before_utc", None) or cert.not_valid_before)


def not_valid_after(cert: x509.Certificate) -> datetime.datetime:
    return utc(getattr(cert, "not_valid_after_utc", None) or cert.not_valid_after)


def fingerprints(cert_der: bytes) -> tuple[str, str]:
    """(SHA-1 thumbprint as Windows shows it, SHA-256 fingerprint), both upper-case hex."""
    return hashlib.sha1(cert_der).hexdigest().upper(), hashlib.sha256(cert_der).hexdigest().upper()


def key_description(public_key) -> tuple[str, int]:
    """(key type, key size in bits) of a public key."""
    name = type(public_key).__name__
    if "RSA" in name:
        return "RSA", public_key.key_size
    if "EllipticCurve" in name:
        return "EC", public_key.curve.key_size
    return name.replace("PublicKey", "").lstrip("_") or "unknown", getattr(public_key, "key_size", 0)


def _cores() -> int:
    """The cores this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def parallel_map(function: Callable[[_In], _Out], items: Iterable[_In], *, minimum: int = 2,
                 workers: int | None = None) -> list[_Out]:
    """``[function(item) for item in items]`` on a thread per core, in order.

    For work that ``cryptography`` does with the GIL released: RSA key generation, PBKDF2
    (cryptography 38 to 50 release it for both; two threads derive 1000 PBKDF2 keys in 0.21 s
    instead of 0.32 s on the 2-core build machine). Fewer than ``minimum`` items, or a single
    core, run in the calling thread; ``workers`` sets the number of threads instead of the
    cores (for work that waits on the disk). An exception is raised for the first failing
    item in order, as the loop would raise it.
    """
    items = list(items)
    count = _cores() if workers is None else workers
    if count == 1 or len(items) < max(2, minimum):
        return [function(item) for item in items]
    with ThreadPoolExecutor(max_workers=min(count, len(items))) as pool:
        return list(pool.map(function, items))
