"""The SSL connection certificate (kind ssl): generated for the host's names, never moved.

generate() with names, manage.ensure() with names and ssl_regenerate, recognise(), the store's names
field, and export/import leaving it out. openssl (``x509 -noout -text``) reads the certificates as the
independent witness; an own (CA-issued) certificate is made with cryptography at test time. Debian's
/usr/bin/python3 (cryptography 38) runs generate and ensure in a subprocess.
"""

from __future__ import annotations

import base64
import datetime
import ipaddress
import json
import os
import shutil
import subprocess

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from ansible_collections.passwordsecure.server.plugins.module_utils import manage, pkcs12, store, transfer
from ansible_collections.passwordsecure.server.plugins.module_utils.errors import (
    CertificateRefusedError,
    InvalidRequestError,
    StoreDamagedError,
    StorePasswordError,
)
from ansible_collections.passwordsecure.server.plugins.module_utils.generate import generate, generate_many
from ansible_collections.passwordsecure.server.plugins.module_utils.kinds import CertRef, check_refs
from ansible_collections.passwordsecure.server.plugins.module_utils.recognise import recognise

SSL = CertRef("ssl", None)
SALES = CertRef("database", "sales")
SERVER = CertRef("server_encryption", None)
NAMES = ["psr1.example.com", "psr1", "192.0.2.10", "2001:db8::10"]
NEW_NAMES = ["psr2.example.com", "psr2", "192.0.2.20"]
PASSWORD = "Export-Pässwort-2024-long"
STORE_PASSWORD = "Store-Secret-Zq9-4711-ssl"
UTC = datetime.timezone.utc
DER = serialization.Encoding.DER

# Made once when the file is imported (RSA key generation is the slow step; ansible-test forks per test).
MADE = {SSL: generate(SSL, key_size=2048, names=NAMES), SALES: generate(SALES, key_size=2048),
        SERVER: generate(SERVER, key_size=2048)}
CA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
OWN_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
PSR8 = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "PSR8Server"),
                  x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Password Secure")])
CA_NAME = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Example Test Root CA")])
OWN_SAN = [x509.DNSName("psr1.example.com"), x509.IPAddress(ipaddress.ip_address("192.0.2.10"))]

needs_openssl = pytest.mark.skipif(shutil.which("openssl") is None, reason="the openssl command is not installed")


# --------------------------------------------------------------------------- helpers


def certificate(subject: x509.Name, key, *, issuer: x509.Name | None = None, signer=None, san=None) -> bytes:
    """DER of a certificate for ``key``: self-signed unless ``issuer``/``signer`` say otherwise."""
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer or subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(datetime.datetime(2024, 1, 1, tzinfo=UTC))
        .not_valid_after(datetime.datetime(2034, 1, 1, tzinfo=UTC))
    )
    if san:
        builder = builder.add_extension(x509.SubjectAlternativeName(san), critical=False)
        builder = builder.add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
    return builder.sign(signer or key, hashes.SHA256()).public_bytes(DER)


OWN_DER = certificate(PSR8, OWN_KEY, issuer=CA_NAME, signer=CA_KEY, san=OWN_SAN)


def der(pem: bytes) -> bytes:
    return x509.load_pem_x509_certificate(pem).public_bytes(DER)


def key_der(pem: bytes) -> bytes:
    key = serialization.load_pem_private_key(pem, None)
    return key.private_bytes(DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())


def openssl_text(certificate_der: bytes) -> dict[str, str]:
    """The lines openssl x509 -noout -text writes under each X509v3 extension, and the subject and issuer."""
    pem = store.pem(certificate_der, "CERTIFICATE")
    text = subprocess.run(["openssl", "x509", "-noout", "-text"], input=pem, capture_output=True,
                          check=True).stdout.decode("utf-8")
    lines = [line.strip() for line in text.splitlines()]
    found = {}
    for position, line in enumerate(lines):
        if line.startswith("X509v3 ") and line.endswith(":") or line.endswith(": critical"):
            found[line.split(":")[0]] = lines[position + 1]
        elif line.startswith(("Subject:", "Issuer:")):
            found[line.split(":")[0]] = line.split(":", 1)[1].strip()
    return found


def openssl_san(certificate_der: bytes) -> list[str]:
    return openssl_text(certificate_der)["X509v3 Subject Alternative Name"].split(", ")


def stored_der(path, ref: CertRef = SSL) -> bytes:
    index = store.load(str(path))
    return store.split_entry(store.read_entry(index, ref), where=ref.describe())[0]


def write(path, items) -> None:
    """A store holding ``items``: (ref, facts, certificate PEM, key PEM), written by the store's own writer."""
    with store.transaction(str(path)) as writer:
        for ref, facts, certificate_pem, key_pem in items:
            writer.add(ref, facts, certificate_pem, key_pem)
        writer.commit()


def made(ref: CertRef) -> tuple:
    return ref, MADE[ref].facts, MADE[ref].certificate_pem, MADE[ref].private_key_pem


def own_item() -> tuple:
    """The own SSL certificate as the store holds it: facts as recognise() reads them (origin own)."""
    key_pem = OWN_KEY.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption())
    return SSL, recognise(OWN_DER).facts, store.pem(OWN_DER, "CERTIFICATE"), key_pem


def ensure(path, *refs, **options):
    options.setdefault("key_size", 2048)
    return manage.ensure(str(path), refs=list(refs), **options)


def index_state(path) -> tuple[int, bytes]:
    index = path / "index.json"
    return index.stat().st_mtime_ns, index.read_bytes()


# --------------------------------------------------------------------------- generate


@needs_openssl
def test_a_generated_ssl_certificate_lists_every_name_as_a_dns_name_in_order_for_server_auth():
    item = MADE[SSL]
    assert item.facts["names"] == NAMES
    assert item.facts["origin"] == "generated" and item.facts["not_after"] == "9999-12-31T23:59:59Z"
    seen = openssl_text(der(item.certificate_pem))
    # Every name, IP addresses too, as a DNS name: what the product writes.
    assert seen["X509v3 Subject Alternative Name"] == ", ".join("DNS:%s" % name for name in NAMES)
    assert seen["X509v3 Extended Key Usage"] == "TLS Web Server Authentication"
    assert seen["Subject"] == seen["Issuer"] == "CN = PSR8Server, O = Password Secure"
    cert = x509.load_pem_x509_certificate(item.certificate_pem)
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    assert san.critical is False
    assert [type(name) for name in san.value] == [x509.DNSName] * len(NAMES)


@needs_openssl
def test_the_other_kinds_list_no_names_and_take_none():
    for ref in (SALES, SERVER):
        assert "names" not in MADE[ref].facts
        seen = openssl_text(der(MADE[ref].certificate_pem))
        assert "X509v3 Subject Alternative Name" not in seen and "X509v3 Extended Key Usage" not in seen
        with pytest.raises(ValueError, match="names go with the SSL connection certificate"):
            generate(ref, key_size=2048, names=["psr1"])


@pytest.mark.parametrize("names", [None, []])
def test_an_ssl_certificate_needs_names(names):
    with pytest.raises(ValueError, match="and it needs them"):
        generate(SSL, key_size=2048, names=names)


def test_generate_many_gives_the_names_to_the_ssl_certificate_only():
    sales, ssl = generate_many([SALES, SSL], key_size=2048, names=NEW_NAMES)
    assert "names" not in sales.facts
    assert ssl.facts["names"] == NEW_NAMES
    cert = x509.load_pem_x509_certificate(ssl.certificate_pem)
    assert cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value.get_values_for_type(
        x509.DNSName) == NEW_NAMES


# --------------------------------------------------------------------------- recognise


def test_a_generated_ssl_certificate_is_recognised_with_its_names():
    found = recognise(der(MADE[SSL].certificate_pem))
    assert found.ref == SSL
    assert found.facts == MADE[SSL].facts
    assert found.facts["origin"] == "generated" and found.facts["names"] == NAMES
    assert recognise(der(MADE[SSL].certificate_pem), kind="ssl").ref == SSL


def test_an_ip_address_general_name_is_read_as_a_name():
    self_signed = certificate(PSR8, OWN_KEY, san=OWN_SAN)
    found = recognise(self_signed)
    assert found.ref == SSL
    assert found.facts["origin"] == "generated"  # self-signed by its own key, with the server's subject
    assert found.facts["names"] == ["psr1.example.com", "192.0.2.10"]


def test_the_same_subject_issued_by_a_ca_is_your_own():
    found = recognise(OWN_DER)
    assert found.ref == SSL
    assert found.facts["origin"] == "own"
    assert found.facts["names"] == ["psr1.example.com", "192.0.2.10"]
    assert found.facts["key_size"] == 2048


def test_the_other_kinds_have_no_names_in_their_facts():
    assert "names" not in recognise(der(MADE[SALES].certificate_pem)).facts


# --------------------------------------------------------------------------- ensure


def test_requested_names_from_the_option_or_the_ssl_item():
    assert manage.requested_names(certificates=None, names=None) is None
    assert manage.requested_names(certificates=None, names=["PSR1.Example.com.", "FD00:0::2", "psr1.example.com"]) \
        == ["psr1.example.com", "fd00::2"]
    items = [{"kind": "database", "identity": "sales"}, {"kind": "ssl", "names": ["B", "a", "b"]}]
    assert manage.requested_names(certificates=items, names=None) == ["b", "a"]
    with pytest.raises(InvalidRequestError, match=r"^names was given both as an option and in certificates\[1\]"):
        manage.requested_names(certificates=items, names=["psr1"])
    with pytest.raises(InvalidRequestError, match=r"^certificates\[1\]\.names\[0\] holds 'a b'"):
        manage.requested_names(certificates=[items[0], {"kind": "ssl", "names": ["a b"]}], names=None)
    with pytest.raises(InvalidRequestError, match=r"^names must be a non-empty list"):
        manage.requested_names(certificates=None, names="psr1")


def test_names_in_an_item_of_another_kind_are_refused():
    with pytest.raises(InvalidRequestError) as caught:
        check_refs([{"kind": "ssl", "names": ["psr1"]}, {"kind": "database", "identity": "x", "names": ["psr1"]}])
    assert str(caught.value).startswith("certificates[1] gives names for a database certificate")
    assert "names go with kind ssl only" in str(caught.value)


@needs_openssl
def test_create_then_rerun_unchanged_in_any_order_and_case(tmp_path, snapshot):
    path = tmp_path / "store"
    created = ensure(path, SALES, SSL, SERVER, names=NAMES)
    assert created["changed"] is True and created["warnings"] == []
    facts = {(c["kind"], c["identity"]): c for c in created["certificates"]}
    ssl = facts[("ssl", None)]
    assert ssl["changed"] is True and ssl["names"] == NAMES and ssl["origin"] == "generated"
    assert "replaced" not in ssl
    assert facts[("database", "sales")]["names"] is None and facts[("server_encryption", None)]["names"] is None
    assert store.load(str(path)).records[SSL]["names"] == NAMES
    assert openssl_san(stored_der(path)) == ["DNS:%s" % name for name in NAMES]

    before, index_before = snapshot(path), index_state(path)
    for names in (NAMES, list(reversed(NAMES)), [name.upper() for name in NAMES] + ["psr1.example.com."],
                  manage.requested_names(certificates=None, names=["PSR1", "2001:DB8:0::10", "192.0.2.10",
                                                                   "Psr1.Example.Com"])):
        again = ensure(path, SSL, names=names)
        assert again["changed"] is False and again["warnings"] == []
        assert again["certificates"][0]["thumbprint"] == ssl["thumbprint"]
        assert again["certificates"][0]["changed"] is False and "replaced" not in again["certificates"][0]
    assert snapshot(path) == before and index_state(path) == index_before


@needs_openssl
def test_other_names_make_it_anew_and_keep_the_old_one_superseded(tmp_path):
    path = tmp_path / "store"
    write(path, [made(SSL), made(SALES)])
    old = MADE[SSL].facts["thumbprint"]
    result = ensure(path, SSL, names=NEW_NAMES)
    assert result["changed"] is True and result["warnings"] == []
    facts = result["certificates"][0]
    assert facts["changed"] is True and facts["replaced"] == old
    assert facts["thumbprint"] not in (None, old)
    assert facts["names"] == NEW_NAMES and facts["origin"] == "generated"
    listed = manage.info(str(path))
    assert [(c["kind"], c["thumbprint"], c["names"]) for c in listed["certificates"]] == [
        ("database", MADE[SALES].facts["thumbprint"], None), ("ssl", facts["thumbprint"], NEW_NAMES)]
    assert [(s["thumbprint"], s["names"], s["superseded_by"]) for s in listed["superseded"]] == [
        (old, NAMES, facts["thumbprint"])]
    assert listed["counts"]["ssl"] == 1
    assert openssl_san(stored_der(path)) == ["DNS:%s" % name for name in NEW_NAMES]
    # The old certificate's file stays with its key: load() verifies it, and it still holds the old SAN.
    index = store.load(str(path))
    old_entry = (path / index.superseded[0]["file"]).read_bytes()
    assert openssl_san(store.split_entry(old_entry, where="old")[0]) == ["DNS:%s" % name for name in NAMES]
    # A subset of the names is other names too; the same ones again change nothing.
    assert ensure(path, SSL, names=NEW_NAMES[:1])["certificates"][0]["replaced"] == facts["thumbprint"]
    assert ensure(path, SSL, names=NEW_NAMES[:1])["changed"] is False


def test_check_mode_reports_the_replacement_and_writes_nothing(tmp_path, snapshot):
    path = tmp_path / "store"
    write(path, [made(SSL)])
    before = snapshot(path)
    result = ensure(path, SSL, names=NEW_NAMES, check_mode=True, want_diff=True)
    assert result["changed"] is True
    facts = result["certificates"][0]
    assert facts["changed"] is True and facts["replaced"] == MADE[SSL].facts["thumbprint"]
    assert facts["names"] == NEW_NAMES and facts["thumbprint"] is None
    assert MADE[SSL].facts["thumbprint"] in result["diff"]["before"]
    assert snapshot(path) == before


def test_a_replacement_in_a_password_store_needs_the_password_and_encrypts_the_new_key(tmp_path, snapshot):
    path = tmp_path / "store"
    ensure(path, SSL, names=NAMES, store_password=STORE_PASSWORD)
    before = snapshot(path)
    assert ensure(path, SSL, names=NAMES)["changed"] is False  # keeping it writes no key: no password needed
    with pytest.raises(StorePasswordError, match="give store_password"):
        ensure(path, SSL, names=NEW_NAMES)
    assert snapshot(path) == before
    result = ensure(path, SSL, names=NEW_NAMES, store_password=STORE_PASSWORD)
    assert result["certificates"][0]["replaced"] is not None
    index = store.load(str(path))
    for record in (index.records[SSL], index.superseded[0]):
        entry = (path / record["file"]).read_bytes()
        assert b"-----BEGIN ENCRYPTED PRIVATE KEY-----" in entry and b"-----BEGIN PRIVATE KEY-----" not in entry


def test_ssl_regenerate_never_keeps_it_and_warns_once_naming_both_lists(tmp_path, snapshot):
    path = tmp_path / "store"
    write(path, [made(SSL)])
    before = snapshot(path)
    for check_mode in (True, False):
        result = ensure(path, SSL, names=NEW_NAMES, ssl_regenerate="never", check_mode=check_mode)
        assert result["changed"] is False
        facts = result["certificates"][0]
        assert facts["changed"] is False and "replaced" not in facts
        assert facts["thumbprint"] == MADE[SSL].facts["thumbprint"] and facts["names"] == NAMES
        assert len(result["warnings"]) == 1
        warning = result["warnings"][0]
        assert ", ".join(NAMES) in warning and ", ".join(NEW_NAMES) in warning
        assert "ssl_regenerate is never" in warning
    assert snapshot(path) == before
    # The same names need no warning.
    assert ensure(path, SSL, names=NAMES, ssl_regenerate="never")["warnings"] == []


@pytest.mark.parametrize("regenerate", ["names_differ", "never"])
def test_your_own_ssl_certificate_is_never_replaced(tmp_path, snapshot, regenerate):
    path = tmp_path / "store"
    write(path, [own_item()])
    before = snapshot(path)
    own_thumbprint = recognise(OWN_DER).facts["thumbprint"]
    result = ensure(path, SSL, names=NEW_NAMES, ssl_regenerate=regenerate)
    assert result["changed"] is False
    facts = result["certificates"][0]
    assert facts["origin"] == "own" and facts["thumbprint"] == own_thumbprint and "replaced" not in facts
    assert facts["names"] == ["psr1.example.com", "192.0.2.10"]
    assert len(result["warnings"]) == 1
    assert "is your own certificate, and it is kept" in result["warnings"][0]
    assert "psr1.example.com, 192.0.2.10" in result["warnings"][0] and ", ".join(NEW_NAMES) in result["warnings"][0]
    assert snapshot(path) == before
    assert ensure(path, SSL, names=["192.0.2.10", "PSR1.example.com"])["warnings"] == []
    assert manage.info(str(path))["superseded"] == []


def test_names_a_certificate_lists_in_another_spelling_are_the_same_names(tmp_path, snapshot):
    # One the server made elsewhere and imported: its SAN says PSR1.Example.COM and holds an IP address entry.
    listed = [x509.DNSName("PSR1.Example.COM"), x509.IPAddress(ipaddress.ip_address("2001:db8::10"))]
    self_signed = certificate(PSR8, OWN_KEY, san=listed)
    facts = recognise(self_signed).facts
    assert facts["origin"] == "generated" and facts["names"] == ["PSR1.Example.COM", "2001:db8::10"]
    path = tmp_path / "store"
    write(path, [(SSL, facts, store.pem(self_signed, "CERTIFICATE"), own_item()[3])])
    before = snapshot(path)
    result = ensure(path, SSL, names=["2001:DB8::10", "psr1.example.com"])
    assert result["changed"] is False and result["warnings"] == []
    assert snapshot(path) == before


def test_state_absent_removes_it_without_names(tmp_path):
    path = tmp_path / "store"
    write(path, [made(SSL), made(SALES)])
    result = ensure(path, SSL, state="absent")
    assert result["changed"] is True
    assert [(c["kind"], c["state"], c["changed"], c["names"]) for c in result["certificates"]] == [
        ("ssl", "absent", True, NAMES)]
    listed = manage.info(str(path))
    assert listed["counts"]["ssl"] == 0 and listed["counts"]["database"] == 1
    assert ensure(path, SSL, state="absent")["changed"] is False


@pytest.mark.parametrize(
    ("refs", "options", "words"),
    [
        ([SALES], {"names": ["psr1"]}, "names were given, but no SSL connection certificate was asked for"),
        ([SSL], {}, "the SSL connection certificate needs the host's names and IP addresses"),
        ([SSL, SALES], {"names": None}, "give names"),
        ([SSL], {"names": ["psr1"], "ssl_regenerate": "always"},
         "ssl_regenerate 'always' is not one of names_differ, never"),
    ],
)
def test_contradictory_ssl_options_are_refused_before_anything_happens(tmp_path, refs, options, words):
    path = tmp_path / "store"
    with pytest.raises(InvalidRequestError) as caught:
        ensure(path, *refs, **options)
    assert words in str(caught.value)
    assert not path.exists()


# --------------------------------------------------------------------------- store


def _put_names(path, names, section="entries") -> None:
    document = json.loads((path / "index.json").read_text("utf-8"))
    document[section][0]["names"] = names
    (path / "index.json").write_text(json.dumps(document), "utf-8")


@pytest.mark.parametrize("names", ["psr1", [1], ["psr1", None], {"psr1": True}, 5])
def test_a_record_whose_names_are_not_a_list_of_text_is_damage(tmp_path, snapshot, names):
    path = tmp_path / "store"
    write(path, [made(SSL)])
    _put_names(path, names)
    before = snapshot(path)
    with pytest.raises(StoreDamagedError) as caught:
        store.load(str(path))
    assert "entry 0 of index.json has names that are not a list of text" in str(caught.value)
    with pytest.raises(StoreDamagedError):
        ensure(path, SSL, names=NAMES)
    assert snapshot(path) == before


def test_a_superseded_record_with_bad_names_is_damage(tmp_path):
    path = tmp_path / "store"
    write(path, [made(SSL)])
    ensure(path, SSL, names=NEW_NAMES)
    _put_names(path, "psr1", section="superseded")
    with pytest.raises(StoreDamagedError, match="superseded entry 0 of index.json has names that are not a list"):
        store.load(str(path))


def test_a_record_without_names_loads_and_reads_as_none(tmp_path):
    path = tmp_path / "store"
    write(path, [made(SALES), made(SSL)])
    document = json.loads((path / "index.json").read_text("utf-8"))
    assert [("names" in record) for record in document["entries"]] == [False, True]
    del document["entries"][1]["names"]  # an SSL record written without them
    (path / "index.json").write_text(json.dumps(document), "utf-8")
    assert store.load(str(path)).records[SSL].get("names") is None
    assert [c["names"] for c in manage.info(str(path))["certificates"]] == [None, None]
    # Without names it lists none of the host's: it is made anew for them.
    assert ensure(path, SSL, names=NAMES)["certificates"][0]["replaced"] == MADE[SSL].facts["thumbprint"]


# --------------------------------------------------------------------------- export and import


def export(path, **options) -> tuple[dict, dict[str, pkcs12.PfxEntry]]:
    result, writes = transfer.export(str(path), password=PASSWORD, return_content=True, **options)
    assert writes == []
    entries = pkcs12.read_pfx(base64.b64decode(result["content"]), PASSWORD).entries
    return result, {x509.load_der_x509_certificate(e.certificate_der).fingerprint(hashes.SHA1()).hex().upper(): e
                    for e in entries}


def thumbprints(*refs: CertRef) -> set[str]:
    return {MADE[ref].facts["thumbprint"] for ref in refs}


def test_an_export_without_a_selection_leaves_the_ssl_certificate_out_and_says_so(tmp_path):
    path = tmp_path / "store"
    write(path, [made(SSL), made(SALES), made(SERVER)])
    left_out = [{"kind": "ssl", "identity": None, "thumbprint": MADE[SSL].facts["thumbprint"],
                 "reason": transfer.LEFT_OUT_REASON}]
    result, held = export(path)
    assert set(held) == thumbprints(SALES, SERVER)
    assert [c["kind"] for c in result["certificates"]] == ["database", "server_encryption"]
    assert result["left_out"] == left_out
    assert "never moved" in left_out[0]["reason"] and "kind: ssl" in left_out[0]["reason"]

    by_database, held = export(path, databases=["sales"])
    assert set(held) == thumbprints(SALES, SERVER) and by_database["left_out"] == left_out

    asked, held = export(path, kind="ssl")
    assert set(held) == thumbprints(SSL) and asked["left_out"] == []
    assert held[MADE[SSL].facts["thumbprint"]].private_key_der == key_der(MADE[SSL].private_key_pem)


def test_an_export_of_a_store_without_it_leaves_nothing_out(tmp_path):
    path = tmp_path / "store"
    write(path, [made(SALES)])
    assert export(path)[0]["left_out"] == []


def pfx(*refs: CertRef) -> bytes:
    return pkcs12.write_pfx([pkcs12.PfxEntry(der(MADE[ref].certificate_pem), key_der(MADE[ref].private_key_pem),
                                             MADE[ref].facts["friendly_name"]) for ref in refs], PASSWORD)


def test_an_import_leaves_the_ssl_certificate_out_and_imports_the_rest(tmp_path):
    path = tmp_path / "store"
    result = transfer.import_(str(path), [("server.pfx", pfx(SALES, SSL, SERVER))], password=PASSWORD)
    assert result["changed"] is True
    assert [(c["kind"], c["action"]) for c in result["certificates"]] == [("database", "added"),
                                                                          ("server_encryption", "added")]
    assert result["not_imported"] == [{"thumbprint": MADE[SSL].facts["thumbprint"],
                                       "reason": transfer.IMPORT_LEFT_OUT_REASON}]
    assert "never moved" in transfer.IMPORT_LEFT_OUT_REASON and "kind: ssl" in transfer.IMPORT_LEFT_OUT_REASON
    assert set(store.load(str(path)).records) == {SALES, SERVER}


def test_an_import_of_the_ssl_certificate_alone_needs_kind_ssl(tmp_path):
    path = tmp_path / "store"
    data = pfx(SSL)
    with pytest.raises(CertificateRefusedError) as caught:
        transfer.import_(str(path), [("ssl.pfx", data)], password=PASSWORD)
    assert str(caught.value) == "ssl.pfx: holds no certificate to import: %s" % transfer.IMPORT_LEFT_OUT_REASON
    assert not (path / "index.json").exists()

    result = transfer.import_(str(path), [("ssl.pfx", data)], password=PASSWORD, kind="ssl")
    assert result["not_imported"] == []
    assert [(c["kind"], c["identity"], c["action"]) for c in result["certificates"]] == [("ssl", None, "added")]
    record = store.load(str(path)).records[SSL]
    assert record["names"] == NAMES and record["origin"] == "generated"
    assert record["thumbprint"] == MADE[SSL].facts["thumbprint"]
    # Imported with its names, it is the one ensure keeps for them.
    assert ensure(path, SSL, names=NAMES)["changed"] is False


def test_in_an_import_of_several_files_a_file_holding_only_the_ssl_certificate_is_left_out(tmp_path):
    # kind can't be given with several files, so such a file must not fail the whole import.
    path = tmp_path / "store"
    sources = [("ssl.pfx", pfx(SSL)), ("sales.pfx", pfx(SALES))]
    result = transfer.import_(str(path), sources, password=PASSWORD, from_files=True)
    assert [(c["kind"], c["path"]) for c in result["certificates"]] == [("database", "sales.pfx")]
    assert result["not_imported"] == [{"thumbprint": MADE[SSL].facts["thumbprint"],
                                       "reason": transfer.IMPORT_LEFT_OUT_REASON, "path": "ssl.pfx"}]
    assert set(store.load(str(path)).records) == {SALES}
    with pytest.raises(CertificateRefusedError, match="none of the 2 files holds a certificate to import: the SSL"):
        transfer.import_(str(tmp_path / "other"), [("a.pfx", pfx(SSL)), ("b.pfx", pfx(SSL))], password=PASSWORD)
    assert not (tmp_path / "other").exists()


# --------------------------------------------------------------------------- Debian's Python, cryptography 38

SYSTEM_CHECK = r"""
import json, sys
from ansible_collections.passwordsecure.server.plugins.module_utils import manage, store
from ansible_collections.passwordsecure.server.plugins.module_utils.generate import generate
from ansible_collections.passwordsecure.server.plugins.module_utils.kinds import CertRef
import cryptography
path = sys.argv[1]
ssl = CertRef("ssl", None)
made = generate(ssl, key_size=2048, names=["psr1.example.com", "192.0.2.10"])
out = {"cryptography": cryptography.__version__, "facts_names": made.facts["names"]}
options = dict(refs=[ssl], key_size=2048)
first = manage.ensure(path, names=["psr1.example.com", "192.0.2.10"], **options)
again = manage.ensure(path, names=["192.0.2.10", "psr1.example.com"], **options)
other = manage.ensure(path, names=["psr2.example.com"], **options)
out["runs"] = [[r["changed"], r["certificates"][0]["thumbprint"], r["certificates"][0].get("replaced"),
                r["certificates"][0]["names"]] for r in (first, again, other)]
out["superseded"] = [s["thumbprint"] for s in manage.info(path)["superseded"]]
out["generated_pem"] = made.certificate_pem.decode("ascii")
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from ansible_collections.passwordsecure.server.plugins.module_utils.recognise import recognise
found = recognise(x509.load_pem_x509_certificate(made.certificate_pem).public_bytes(serialization.Encoding.DER))
out["recognised"] = [found.ref.kind, found.facts["origin"], found.facts["names"], found.facts == made.facts]
print(json.dumps(out))
"""


def system_python_has_cryptography() -> bool:
    return os.access("/usr/bin/python3", os.X_OK) and subprocess.run(
        ["/usr/bin/python3", "-c", "import cryptography, asn1crypto"], capture_output=True, check=False
    ).returncode == 0


@needs_openssl
@pytest.mark.skipif(not system_python_has_cryptography(), reason="/usr/bin/python3 has no cryptography")
def test_debians_python_generates_and_ensures_the_ssl_certificate(tmp_path):
    path = tmp_path / "store"
    run = subprocess.run(["/usr/bin/python3", "-c", SYSTEM_CHECK, str(path)], capture_output=True, check=False,
                         env=dict(os.environ, PYTHONPATH=os.environ.get("PYTHONPATH", "")))
    assert run.returncode == 0, run.stderr.decode()
    out = json.loads(run.stdout)
    assert out["facts_names"] == ["psr1.example.com", "192.0.2.10"]
    (first_changed, first, _none, first_names), again, other = out["runs"]
    assert first_changed is True and first_names == ["psr1.example.com", "192.0.2.10"]
    assert again == [False, first, None, first_names]
    assert other[0] is True and other[2] == first and other[3] == ["psr2.example.com"]
    assert out["superseded"] == [first]
    assert out["recognised"] == ["ssl", "generated", ["psr1.example.com", "192.0.2.10"], True]
    seen = openssl_text(der(out["generated_pem"].encode("ascii")))
    assert seen["X509v3 Subject Alternative Name"] == "DNS:psr1.example.com, DNS:192.0.2.10"
    assert seen["X509v3 Extended Key Usage"] == "TLS Web Server Authentication"
    # What Debian's Python wrote, this Python reads: the store and the SAN.
    assert openssl_san(stored_der(path)) == ["DNS:psr2.example.com"]
    assert store.load(str(path)).records[SSL]["names"] == ["psr2.example.com"]
