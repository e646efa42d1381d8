"""Non-ASCII names of the SSL connection certificate: IDNA 2008 with UTS #46 mapping, as browsers and curl use.

The ``idna`` package's own ``idna.encode(name, uts46=True)`` is the independent reference; openssl reads the
Subject Alternative Name of a generated certificate, and Python's ``ssl`` matches a TLS client's host name
against it in a real handshake (memory BIOs, no network). A host Python without ``idna`` is simulated by
setting the module_utils' reference to None (``tests/unit/plugins/modules/test_certificate_idna.py`` runs a
module process without it).
"""

from __future__ import annotations

import shutil
import ssl
import subprocess

import idna
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from ansible_collections.passwordsecure.server.plugins.module_utils import hostnames, kinds, manage, store
from ansible_collections.passwordsecure.server.plugins.module_utils.errors import DependencyError, InvalidRequestError
from ansible_collections.passwordsecure.server.plugins.module_utils.generate import generate
from ansible_collections.passwordsecure.server.plugins.module_utils.kinds import CertRef, check_name, check_names

SSL = CertRef("ssl", None)
needs_openssl = pytest.mark.skipif(shutil.which("openssl") is None, reason="the openssl command is not installed")


def reference(name: str) -> str:
    """What the idna package makes of a name (UTS #46, non-transitional), without the root's dot."""
    encoded = idna.encode(name, uts46=True).decode("ascii")
    return encoded[:-1] if encoded.endswith(".") else encoded


# --------------------------------------------------------------------------- one name


@pytest.mark.parametrize(
    ("given_name", "stored"),
    [
        ("straße.example", "xn--strae-oqa.example"),  # IDNA 2003 made it strasse.example
        ("Straße.Example.", "xn--strae-oqa.example"),
        ("STRASSE.example", "strasse.example"),  # another name: an ASCII one
        ("bücher.example", "xn--bcher-kva.example"),
        ("ΣΟΦΟΣ.example", "xn--0xaakcn.example"),  # capitals: Σ is mapped to σ
        ("σοφος.example", "xn--0xaajbq.example"),  # the final sigma ς is kept, as browsers do (2003: σ)
        ("ｐｓｒ１。bücher．example", "psr1.xn--bcher-kva.example"),  # full-width: mapped, dots too
        ("psr_1.bücher.example", "psr_1.xn--bcher-kva.example"),  # an underscore label as in an ASCII name
        ("نامه\u200cای.example", "xn--mgba3gch31f060k.example"),  # ZWNJ kept where Persian needs it (2003: dropped)
    ],
)
def test_a_non_ascii_name_is_written_as_idna_2008_a_labels(given_name, stored):
    assert check_name(given_name) == stored
    assert check_name(stored) == stored  # an A-label is an ASCII name: no library needed again
    if "_" not in given_name:
        assert reference(given_name) == stored


def test_strasse_with_sharp_s_is_not_what_idna_2003_made_of_it():
    assert "straße.example".encode("idna") == b"strasse.example"  # the stdlib codec: IDNA 2003
    assert check_name("straße.example") != "strasse.example"


@pytest.mark.parametrize(
    ("bad", "problem"),
    [
        ("☃.example", "is not a valid internationalised domain name (IDNA 2008"),  # a symbol: 2003 took it
        ("⒈bücher.example", "is not a valid internationalised domain name (IDNA 2008"),
        ("bücher-.example", "is not a valid internationalised domain name (IDNA 2008"),
        ("x" * 64 + "ü.example", "is not a valid internationalised domain name"),
        ("bücher..example", "has an empty label"),
        ("bücher example.de", "is not a valid internationalised domain name (IDNA 2008"),
        ("bücher.psr 1", "has the label 'psr 1', which is not a DNS label"),
        # 250 characters as given, 256 as A-labels
        (".".join(["ü" * 55, "a" * 63, "b" * 63, "c" * 63, "dd"]), "is longer than the 253 characters"),
    ],
)
def test_a_bad_non_ascii_name_is_refused_naming_its_place_and_the_fix(bad, problem):
    with pytest.raises(InvalidRequestError) as caught:
        check_names(["psr1", bad])
    message = str(caught.value)
    assert message.startswith("names[1] holds ")
    assert problem in message
    assert "give the host's names and IP addresses" in message
    assert "\n" not in message and len(message) < 400


# --------------------------------------------------------------------------- against the idna package

_LABEL = st.one_of(
    st.from_regex(r"[a-z0-9](?:[a-z0-9-]{0,10}[a-z0-9])?", fullmatch=True),
    st.text(alphabet="abcXYZ019-üößéñÅ販売ЯяΣσς\u200c\u200d\u0301ｂ。．⒈ﬁ", min_size=1, max_size=12),
)
_NAME = st.builds(lambda labels, dot: ".".join(labels) + dot, st.lists(_LABEL, min_size=1, max_size=4),
                  st.sampled_from(["", "."]))


@settings(max_examples=400, deadline=None, database=None)
@given(_NAME)
def test_check_name_agrees_with_the_idna_package(name):
    assume(not name.isascii())
    try:
        expected = reference(name)
    except idna.IDNAError:
        expected = None
    try:
        found = check_name(name)
    except InvalidRequestError as exc:
        assert "\n" not in str(exc)
        found = None
    if expected is not None and len(expected) <= 253:
        assert found == expected
    elif found is not None:
        # Accepted here, refused there: only an ASCII label with hyphens at its third and fourth places
        # ("ab--c", or an "xn--" label that does not decode), which an ASCII name may hold too.
        labels = idna.uts46_remap(name, std3_rules=False, transitional=False).split(".")
        assert any(label.isascii() and label[2:4] == "--" for label in labels)


# --------------------------------------------------------------------------- without the idna package


def test_without_idna_a_non_ascii_name_gets_a_clear_error_and_ascii_names_work(monkeypatch):
    monkeypatch.setattr(kinds, "_idna", None)
    assert check_names(["PSR1.Example.com.", "psr_1", "xn--strae-oqa.example", "192.0.2.10"]) == [
        "psr1.example.com", "psr_1", "xn--strae-oqa.example", "192.0.2.10"]
    with pytest.raises(DependencyError) as caught:
        check_names(["psr1", "straße.example"], where="certificates[0].names")
    message = str(caught.value)
    assert message.startswith("certificates[0].names[1] holds 'straße.example', which is not ASCII")
    for words in ("needs the Python library 'idna'", "apt-get install python3-idna", "dnf install python3-idna",
                  "pip install idna", "give the name as its A-label (xn--...)"):
        assert words in message
    with pytest.raises(DependencyError):
        hostnames.host_names("psr1", "psr1.straße.example", [])


# --------------------------------------------------------------------------- names found on the host


def test_the_hosts_names_go_the_same_way():
    assert hostnames.host_names("psr1", "PSR1.Straße.Example.", ["192.0.2.10"]) == [
        "psr1.xn--strae-oqa.example", "psr1", "192.0.2.10"]
    # A fully qualified host name in its U-label and A-label spelling is one name.
    assert hostnames.host_names("psr1.bücher.example", "psr1.xn--bcher-kva.example", []) == [
        "psr1.xn--bcher-kva.example", "psr1"]


# --------------------------------------------------------------------------- the certificate


def _openssl_san(certificate_pem: bytes) -> str:
    text = subprocess.run(["openssl", "x509", "-noout", "-ext", "subjectAltName"], input=certificate_pem,
                          capture_output=True, check=True).stdout.decode("ascii")
    return text.splitlines()[-1].strip()


@needs_openssl
def test_openssl_reads_the_a_labels_in_the_subject_alternative_name():
    made = generate(SSL, key_size=2048, names=check_names(["straße.example", "bücher.example", "psr1"]))
    assert _openssl_san(made.certificate_pem) == "DNS:xn--strae-oqa.example, DNS:xn--bcher-kva.example, DNS:psr1"
    assert made.facts["names"] == ["xn--strae-oqa.example", "xn--bcher-kva.example", "psr1"]


def _handshake(certificate_pem: bytes, key_pem: bytes, server_hostname: str, tmp_path) -> None:
    """A TLS handshake in memory: a client that trusts the certificate and checks the host name, as curl does."""
    (tmp_path / "cert.pem").write_bytes(certificate_pem)
    (tmp_path / "key.pem").write_bytes(key_pem)
    server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_context.load_cert_chain(str(tmp_path / "cert.pem"), str(tmp_path / "key.pem"))
    client_context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # check_hostname and CERT_REQUIRED
    client_context.load_verify_locations(cadata=certificate_pem.decode("ascii"))
    client_in, client_out, server_in, server_out = (ssl.MemoryBIO() for _bio in range(4))
    client = client_context.wrap_bio(client_in, client_out, server_hostname=server_hostname)
    server = server_context.wrap_bio(server_in, server_out, server_side=True)
    done = {client: False, server: False}
    for _round in range(10):
        for end in (client, server):
            if not done[end]:
                try:
                    end.do_handshake()
                    done[end] = True
                except ssl.SSLWantReadError:
                    pass
            server_in.write(client_out.read())
            client_in.write(server_out.read())
        if all(done.values()):
            return
    raise AssertionError("the handshake did not finish")


def test_a_tls_client_that_looks_up_the_idna_2008_name_accepts_the_certificate(tmp_path):
    made = generate(SSL, key_size=2048, names=check_names(["straße.example"]))
    _handshake(made.certificate_pem, made.private_key_pem, idna.encode("straße.example", uts46=True).decode(),
               tmp_path)
    # Python's ssl turns a U-label host name into IDNA 2003 (strasse.example): the mismatch users saw.
    with pytest.raises(ssl.SSLCertVerificationError) as caught:
        _handshake(made.certificate_pem, made.private_key_pem, "straße.example", tmp_path)
    assert "Hostname mismatch" in str(caught.value)


# --------------------------------------------------------------------------- a certificate made before


def test_a_certificate_made_for_the_idna_2003_spelling_is_made_anew_for_the_idna_2008_one(tmp_path):
    path = str(tmp_path / "store")
    old = generate(SSL, key_size=2048, names=["psr1", "strasse.example"])  # what the collection wrote before
    with store.transaction(path) as writer:
        writer.add(SSL, old.facts, old.certificate_pem, old.private_key_pem)
        writer.commit()
    result = manage.ensure(path, refs=[SSL], names=check_names(["psr1", "straße.example"]), key_size=2048)
    assert result["changed"] is True
    index = store.load(path)
    assert index.records[SSL]["names"] == ["psr1", "xn--strae-oqa.example"]
    assert [record["thumbprint"] for record in index.superseded] == [old.facts["thumbprint"]]
    # A name without ß, ς, ZWJ or ZWNJ is written as before: its certificate stays.
    again = manage.ensure(path, refs=[SSL], names=check_names(["psr1", "Straße.example"]), key_size=2048)
    assert again["changed"] is False
