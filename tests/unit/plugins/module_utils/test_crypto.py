"""crypto: the one doorway to cryptography (no other file imports it or reads its version); parallel_map (the
loop's results and first error, on threads); the floors and the one message for a host below them; the bridges
over what older cryptography versions lack, each run against the newest."""

from __future__ import annotations

import ast
import datetime
import sys
import threading
import types
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.serialization import pkcs12 as pkcs12_module
from cryptography.x509.oid import NameOID, SignatureAlgorithmOID

from ansible_collections.passwordsecure.server.plugins.module_utils import crypto
from ansible_collections.passwordsecure.server.plugins.module_utils.errors import DependencyError

PLUGINS = Path(crypto.__file__).resolve().parents[1]


def _imported_modules(tree: ast.AST) -> list[str]:
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            names.append(node.module or "")
    return names


def test_crypto_is_the_only_file_that_imports_cryptography_or_reads_its_version():
    importers, version_readers = set(), set()
    for path in sorted(PLUGINS.rglob("*.py")):
        source = path.read_text(encoding="utf-8")
        name = str(path.relative_to(PLUGINS.parent))
        if any(module == "cryptography" or module.startswith("cryptography.")
               for module in _imported_modules(ast.parse(source, name))):
            importers.add(name)
        if "__version__" in source or "crypto._VERSION" in source:
            version_readers.add(name)
    assert importers == {"plugins/module_utils/crypto.py"}
    assert version_readers <= {"plugins/module_utils/crypto.py"}


def test_results_come_in_order_from_several_threads(monkeypatch):
    monkeypatch.setattr(crypto, "_cores", lambda: 4)
    seen = set()

    def square(number: int) -> int:
        seen.add(threading.get_ident())
        return number * number

    assert crypto.parallel_map(square, range(200)) == [n * n for n in range(200)]
    assert threading.get_ident() not in seen  # the work ran on the pool's threads


def test_few_items_or_one_core_run_in_the_calling_thread(monkeypatch):
    caller = threading.get_ident()
    assert crypto.parallel_map(lambda _n: threading.get_ident(), range(7), minimum=8) == [caller] * 7
    monkeypatch.setattr(crypto, "_cores", lambda: 1)
    assert crypto.parallel_map(lambda _n: threading.get_ident(), range(50)) == [caller] * 50
    assert set(crypto.parallel_map(lambda _n: threading.get_ident(), range(50), workers=3)) - {caller}


def test_the_first_failing_item_in_order_raises(monkeypatch):
    monkeypatch.setattr(crypto, "_cores", lambda: 4)

    def fail_on_odd(number: int) -> int:
        if number % 2:
            raise ValueError("item %d" % number)
        return number

    with pytest.raises(ValueError, match="^item 1$"):
        crypto.parallel_map(fail_on_odd, range(100))


# --------------------------------------------------------------------------- the floors and their message


def _fake_versions(monkeypatch, **found):
    """Make ``crypto`` see the given library versions (None: not installed)."""
    monkeypatch.setattr(crypto, "_installed", found.get)


def _os_release(monkeypatch, tmp_path, text):
    path = tmp_path / "os-release"
    if text is not None:
        path.write_text(text)
    monkeypatch.setattr(crypto, "_OS_RELEASE", str(path))


def _system_python(monkeypatch):
    monkeypatch.setattr(sys, "prefix", "/usr")
    monkeypatch.setattr(sys, "base_prefix", "/usr")


def test_the_floors_are_what_the_oldest_distributions_ship():
    assert crypto.MIN_CRYPTOGRAPHY_VERSION == (3, 4)  # Ubuntu 22.04: 3.4.8
    assert crypto.MIN_ASN1CRYPTO_VERSION == (1, 4)  # Ubuntu 22.04: 1.4.0
    crypto.require_cryptography()
    crypto.require_asn1crypto()


@pytest.mark.parametrize("text, numbers", [("3.4.8", (3, 4, 8)), ("41.0.7", (41, 0, 7)), ("3.3", (3, 3)),
                                           ("45.0.0rc1", (45, 0, 0)), ("1.5.1.post2", (1, 5, 1))])
def test_versions_are_read_as_numbers(text, numbers):
    assert crypto._version_of(text) == numbers


def test_cryptography_below_the_floor_names_the_python_its_versions_and_the_debian_package(monkeypatch, tmp_path):
    _fake_versions(monkeypatch, cryptography="3.3.2", asn1crypto="1.4.0")
    _os_release(monkeypatch, tmp_path, 'PRETTY_NAME="Debian GNU/Linux 11 (bullseye)"\nID=debian\n')
    _system_python(monkeypatch)
    with pytest.raises(DependencyError) as caught:
        crypto.require_cryptography()
    message = str(caught.value)
    assert message.startswith("this collection needs the Python library 'cryptography' 3.4 or newer on the "
                              "managed host, and the Python that runs this module (%s: Python %s; cryptography "
                              "3.3.2, asn1crypto 1.4.0) has 3.3.2; install it from the distribution (Debian and "
                              "Ubuntu: apt-get install python3-cryptography (Debian 12, Ubuntu 22.04 and newer ship "
                              "one that fits)) or with pip (%s -m pip install 'cryptography>=3.4')"
                              % (sys.executable, sys.version.split()[0], sys.executable))
    assert message.endswith("or point ansible_python_interpreter at a Python that has it")
    assert "dnf" not in message


def test_missing_asn1crypto_on_rhel_names_epel(monkeypatch, tmp_path):
    _fake_versions(monkeypatch, cryptography="36.0.1")
    _os_release(monkeypatch, tmp_path, 'NAME="Rocky Linux"\nID="rocky"\nID_LIKE="rhel centos fedora"\n')
    _system_python(monkeypatch)
    with pytest.raises(DependencyError) as caught:
        crypto.require_asn1crypto()
    message = str(caught.value)
    assert ("exporting and importing certificates (PKCS#12) needs the Python library 'asn1crypto' 1.4 or newer"
            in message)
    assert "; cryptography 36.0.1, asn1crypto not installed) does not have it" in message
    assert ("RHEL and its rebuilds: dnf install python3-asn1crypto (from EPEL: enable the EPEL repository first)"
            in message)
    assert "-m pip install 'asn1crypto>=1.4'" in message
    assert "apt-get" not in message


def test_rhel_takes_cryptography_from_the_os_and_fedora_needs_no_epel(monkeypatch, tmp_path):
    _fake_versions(monkeypatch, cryptography="3.2.1", asn1crypto="1.2.0")
    _system_python(monkeypatch)
    _os_release(monkeypatch, tmp_path, 'ID="rhel"\nID_LIKE="fedora"\nVERSION_ID="8.9"\n')
    with pytest.raises(DependencyError, match=r"dnf install python3-cryptography \(from the OS; RHEL 9 and newer"):
        crypto.require_cryptography()
    _os_release(monkeypatch, tmp_path, "ID=fedora\n")
    with pytest.raises(DependencyError) as caught:
        crypto.require_asn1crypto()
    assert "Fedora: dnf install python3-asn1crypto) or with pip" in str(caught.value)
    assert "EPEL" not in str(caught.value)


def test_an_unknown_distribution_gets_apt_and_dnf_and_pip(monkeypatch, tmp_path):
    _fake_versions(monkeypatch, cryptography="2.8", asn1crypto="1.4.0")
    _system_python(monkeypatch)
    _os_release(monkeypatch, tmp_path, None)  # no /etc/os-release
    with pytest.raises(DependencyError) as caught:
        crypto.require_cryptography()
    message = str(caught.value)
    assert "Debian and Ubuntu: apt-get install python3-cryptography" in message
    assert "RHEL and its rebuilds: dnf install python3-cryptography" in message
    assert "-m pip install 'cryptography>=3.4'" in message


def test_a_virtual_environment_is_told_pip_first(monkeypatch, tmp_path):
    _fake_versions(monkeypatch, cryptography="51.0.0", asn1crypto="1.3.0")
    _os_release(monkeypatch, tmp_path, "ID=ubuntu\nID_LIKE=debian\n")
    monkeypatch.setattr(sys, "prefix", "/srv/venv")
    monkeypatch.setattr(sys, "base_prefix", "/usr")
    with pytest.raises(DependencyError) as caught:
        crypto.require_asn1crypto()
    assert ("has 1.3.0; install it into that virtual environment (%s -m pip install 'asn1crypto>=1.4'), or use the "
            "system's Python with the distribution's package (Debian and Ubuntu: apt-get install python3-asn1crypto)"
            % sys.executable) in str(caught.value)


def test_both_checks_use_the_one_message(monkeypatch):
    _fake_versions(monkeypatch, cryptography="3.4.8", asn1crypto="1.4.0")
    crypto.require_cryptography()
    crypto.require_asn1crypto()
    with pytest.raises(DependencyError) as caught:
        crypto.require_asn1crypto(usable=False, import_error="Traceback ...\nImportError: cannot import name 'cms'")
    assert str(caught.value) == str(crypto.dependency_error(
        "asn1crypto", "exporting and importing certificates (PKCS#12)", broken="ImportError: cannot import name 'cms'"))
    assert "has 1.4.0, which fails to import (ImportError: cannot import name 'cms')" in str(caught.value)
    # Installed at a version that fits, but a name the collection needs does not import: say what.
    monkeypatch.setattr(crypto, "HAS_CRYPTOGRAPHY", False)
    monkeypatch.setattr(crypto, "CRYPTOGRAPHY_IMPORT_ERROR", "Traceback ...\nImportError: libssl.so.3: not found\n")
    with pytest.raises(DependencyError, match=r"has 3\.4\.8, which fails to import \(ImportError: libssl.so.3"):
        crypto.require_cryptography()


# --------------------------------------------------------------------------- bridges


def _self_signed(key, *, rsa_padding=None, unit="sales") -> bytes:
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "psrDatabaseKey"),
                         x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, unit)])
    start = datetime.datetime(2024, 1, 1, tzinfo=datetime.timezone.utc)
    builder = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
               .serial_number(1).not_valid_before(start).not_valid_after(start + datetime.timedelta(days=1)))
    options = {"rsa_padding": rsa_padding} if rsa_padding is not None else {}
    return builder.sign(key, hashes.SHA256() if rsa_padding is None else rsa_padding._mgf._algorithm,
                        **options).public_bytes(serialization.Encoding.DER)


KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
GOOD = _self_signed(KEY)


class _Before41:
    """A certificate as cryptography before 41 shows it: no signature_algorithm_parameters, and no hash
    algorithm for an RSA-PSS signature."""

    def __init__(self, der: bytes):
        self._cert = x509.load_der_x509_certificate(der)

    def __getattr__(self, name):
        if name == "signature_algorithm_parameters":
            raise AttributeError(name)
        pss = self._cert.signature_algorithm_oid == SignatureAlgorithmOID.RSASSA_PSS
        if name == "signature_hash_algorithm" and pss:
            raise UnsupportedAlgorithm("Signature algorithm OID: 1.2.840.113549.1.1.10 not recognized")
        return getattr(self._cert, name)


@pytest.mark.parametrize("pss", [
    padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32),
    padding.PSS(mgf=padding.MGF1(hashes.SHA384()), salt_length=padding.PSS.MAX_LENGTH),
    padding.PSS(mgf=padding.MGF1(hashes.SHA512()), salt_length=padding.PSS.DIGEST_LENGTH),
], ids=["sha256-32", "sha384-max", "sha512-digest"])
def test_rsa_pss_parameters_are_read_alike_before_41(pss):
    der = _self_signed(KEY, rsa_padding=pss)
    newest = crypto.signature_parameters(x509.load_der_x509_certificate(der))
    bridged = crypto.signature_parameters(_Before41(der))
    for hash_algorithm, rsa_padding in (newest, bridged):
        assert isinstance(rsa_padding, padding.PSS)
        cert = x509.load_der_x509_certificate(der)
        KEY.public_key().verify(cert.signature, cert.tbs_certificate_bytes, rsa_padding, hash_algorithm)
    assert bridged[0].name == newest[0].name == pss._mgf._algorithm.name
    assert bridged[1]._mgf._algorithm.name == newest[1]._mgf._algorithm.name
    assert bridged[1]._salt_length == newest[1]._salt_length


def test_pkcs1_signatures_and_unsupported_ones():
    hash_algorithm, rsa_padding = crypto.signature_parameters(_Before41(GOOD))
    assert hash_algorithm.name == "sha256" and isinstance(rsa_padding, padding.PKCS1v15)
    unsupported = _Before41(GOOD)
    unsupported._cert = type("Cert", (), {
        "signature_algorithm_oid": SignatureAlgorithmOID.RSA_WITH_SHA256,
        "signature_hash_algorithm": property(
            lambda self: (item for item in ()).throw(UnsupportedAlgorithm("version text"))),
    })()
    with pytest.raises(UnsupportedAlgorithm, match="^the cryptography library does not support it$"):
        crypto.signature_parameters(unsupported)


def _names_patched(der: bytes, tagged: bytes) -> bytes:
    at = der.index(b"\x0c\x05sales")  # the issuer's OU: it comes before the subject's
    return der[:at] + tagged + der[at + 7:]


@pytest.mark.parametrize("der, reason", [
    (b"", "empty"),
    (GOOD[:-10], "truncated"),
    (GOOD[:3], "truncated"),
    (GOOD + b"\x00", "1 byte after its end"),
    (GOOD + b"\x00\x00\x00", "3 bytes after its end"),
    (b"\x30\x03\x02\x01\x00", "damaged, or not an X.509 certificate"),
    (b"\x04\x03abc", "damaged, or not an X.509 certificate"),
    (b"\x30\x80" + GOOD[4:] + b"\x00\x00", "damaged, or not an X.509 certificate"),  # BER, not DER
    (_names_patched(GOOD, b"\x1e\x05sales"), "damaged, or not an X.509 certificate"),  # odd-length BMPString
    (_names_patched(GOOD, b"\x13\x05sa*es"), "damaged, or not an X.509 certificate"),  # '*' in a PrintableString
], ids=["empty", "truncated", "header-only", "1-trailing", "3-trailing", "tiny", "octet-string", "indefinite",
        "bmp-odd", "printable-star"])
def test_certificates_that_are_not_one_readable_der_certificate_are_refused_with_a_reason(der, reason):
    with pytest.raises(ValueError) as caught:
        crypto.load_der_x509_certificate(der)
    assert str(caught.value) == reason


def test_a_good_certificate_loads_with_its_names_decoded():
    cert = crypto.load_der_x509_certificate(bytearray(GOOD))
    assert cert.public_bytes(serialization.Encoding.DER) == GOOD
    printable = _names_patched(GOOD, b"\x13\x05sa-es")  # PrintableString without a forbidden character
    assert crypto.load_der_x509_certificate(printable).issuer.rfc4514_string() == "OU=sa-es,CN=psrDatabaseKey"


def test_pkcs12_certificates_without_load_pkcs12_gives_the_certificates_without_names(monkeypatch):
    second = _self_signed(KEY, unit="hr")
    certs = [x509.load_der_x509_certificate(der) for der in (GOOD, second)]
    data = pkcs12_module.serialize_key_and_certificates(
        None, None, None, [pkcs12_module.PKCS12Certificate(certs[0], b"first"), certs[1]],
        serialization.BestAvailableEncryption(b"pw"))
    assert crypto.pkcs12_certificates(data, b"pw") == (False, [(GOOD, "first"), (second, None)])
    before_36 = types.SimpleNamespace(load_key_and_certificates=pkcs12_module.load_key_and_certificates)
    monkeypatch.setattr(crypto, "_pkcs12", before_36)
    assert crypto.pkcs12_certificates(data, b"pw") == (False, [(GOOD, None), (second, None)])
    with pytest.raises(ValueError):
        crypto.pkcs12_certificates(data, b"wrong")


def test_rsa_keys_load_without_validation_where_cryptography_can(monkeypatch):
    der = KEY.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    assert crypto.SKIPS_RSA_KEY_VALIDATION  # the newest can
    assert crypto.load_der_private_key(der, skip_rsa_validation=True).private_numbers() == KEY.private_numbers()
    with crypto.fast_rsa_loading() as options:
        assert options == {"unsafe_skip_rsa_key_validation": True}
    monkeypatch.setattr(crypto, "SKIPS_RSA_KEY_VALIDATION", False)  # as before 39: validated fully, same key
    assert crypto.load_der_private_key(der, skip_rsa_validation=True).private_numbers() == KEY.private_numbers()
    monkeypatch.setattr(crypto, "_openssl_backend", lambda: None)  # and before 36: no backend flag either
    with crypto.fast_rsa_loading() as options:
        assert options == {}
