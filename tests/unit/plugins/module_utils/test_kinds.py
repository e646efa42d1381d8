"""The certificate kinds' profiles and the rules for identities."""

from __future__ import annotations

import importlib
import re
import unicodedata
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from ansible_collections.passwordsecure.server.plugins.module_utils import kinds
from ansible_collections.passwordsecure.server.plugins.module_utils.errors import (
    InvalidRequestError,
    PasswordSecureError,
)
from ansible_collections.passwordsecure.server.plugins.module_utils.kinds import CertRef, check_identity, check_refs

NAMED_KINDS = ("database", "master_key", "discovery_service", "password_reset")

# What the product documentation says (docs/certificate-kinds.md, reference/password-secure-certificates.md).
EXPECTED_PROFILES = {
    "database": ("psrDatabaseKey", "psrDatabaseKey (sales)"),
    "master_key": ("Active Directory Master Key", "Active Directory: Domain: sales"),
    "discovery_service": ("Discovery Service", "Discovery Service: sales"),
    "password_reset": ("Password Reset", "Password Reset: sales"),
    "server_encryption": ("Password Secure Server Encryption Certificate",
                          "Password Secure Server Encryption Certificate"),
}


# --------------------------------------------------------------------------- profiles


def test_the_kinds_are_the_five_that_travel_and_the_ssl_connection_certificate():
    assert tuple(EXPECTED_PROFILES) + ("ssl",) == kinds.KIND_NAMES
    assert tuple(EXPECTED_PROFILES) == kinds.TRAVELLING_KINDS
    assert kinds.NAMED_KINDS == ("ssl",)
    assert kinds.GENERATED_ORGANIZATION == "Password Secure"
    assert kinds.NO_EXPIRY == (9999, 12, 31, 23, 59, 59)
    assert kinds.KEY_SIZES == (2048, 3072, 4096)
    assert kinds.DEFAULT_KEY_SIZE == 3072


@pytest.mark.parametrize("kind", list(EXPECTED_PROFILES))
def test_profile(kind):
    profile = kinds.profile_of(kind)
    common_name, friendly = EXPECTED_PROFILES[kind]
    assert profile.name == kind
    assert profile.common_name == common_name
    assert profile.friendly_name.format(identity="sales") == friendly
    # None of these may be an administrator's own certificate, and all must move with the databases.
    assert profile.own_certificate_allowed is False
    assert profile.travels_with_database is True
    assert profile.singleton is (kind == "server_encryption")
    assert (profile.identity_name is None) is profile.singleton
    assert profile.label.endswith("certificate")


def test_the_ssl_connection_certificate_may_be_your_own_and_stays():
    profile = kinds.profile_of("ssl")
    assert profile.name == "ssl"
    assert profile.label == "SSL connection certificate"
    assert profile.common_name == profile.friendly_name == "PSR8Server"
    # The only kind that may be a CA-issued certificate, and the only one that never moves with a database.
    assert profile.own_certificate_allowed is True
    assert profile.travels_with_database is False
    assert profile.singleton is True and profile.identity_name is None
    assert check_identity("ssl", None) is None
    with pytest.raises(InvalidRequestError, match="has no identity"):
        check_identity("ssl", "main")


@pytest.mark.parametrize("kind", ["tls", "webserver", "SSL", "Database", "", None, 3, ["database"]])
def test_unknown_kind_is_refused_and_the_message_lists_the_kinds(kind):
    with pytest.raises(InvalidRequestError) as caught:
        kinds.profile_of(kind)
    assert "is not a certificate kind" in str(caught.value)
    for name in kinds.KIND_NAMES:
        assert name in str(caught.value)
    with pytest.raises(InvalidRequestError):
        check_identity(kind, "sales")


def test_errors_form_one_hierarchy():
    assert issubclass(InvalidRequestError, PasswordSecureError)


# --------------------------------------------------------------------------- identities


@pytest.mark.parametrize("kind", NAMED_KINDS)
def test_missing_identity_is_refused_and_says_what_to_give(kind):
    with pytest.raises(InvalidRequestError) as caught:
        check_identity(kind, None)
    message = str(caught.value)
    assert "missing" in message
    assert kinds.KINDS[kind].identity_name in message


def test_server_encryption_takes_no_identity():
    assert check_identity("server_encryption", None) is None
    with pytest.raises(InvalidRequestError) as caught:
        check_identity("server_encryption", "main")
    assert "has no identity" in str(caught.value)
    assert "'main'" in str(caught.value)


@pytest.mark.parametrize(
    ("identity", "problem"),
    [
        ("", "is empty"),
        ("a" * 256, "over the limit of 255"),
        ("sales/2024", "path separator"),
        ("sales\\2024", "path separator"),
        ("/", "path separator"),
        ("..", "'..'"),
        ("sales..old", "'..'"),
        ("sales\x00", "NUL"),
        ("sa\x07les", "control character U+0007"),
        ("sales\n", "control character U+000A"),
        ("sa\rles", "control character U+000D"),
        ("sales\x7f", "control character U+007F"),
        ("sa\u2028les", "control character U+2028"),
        ("sa\u2029les", "control character U+2029"),
        ("sales\u202egpj.exe", "control character U+202E"),
        ("\u2066sales\u2069", "control character U+2066"),
        ("sales\u200f", "control character U+200F"),
        (" sales", "white space"),
        ("sales ", "white space"),
        ("sales\u00a0", "white space"),
        ("\u3000販売", "white space"),
    ],
)
@pytest.mark.parametrize("kind", NAMED_KINDS)
def test_bad_identities_are_refused_with_the_reason(kind, identity, problem):
    with pytest.raises(InvalidRequestError) as caught:
        check_identity(kind, identity)
    message = str(caught.value)
    assert problem in message
    assert kinds.KINDS[kind].label in message
    # A message is one line, whatever the identity holds.
    assert "\n" not in message and "\r" not in message and "\x00" not in message
    assert len(message) < 400


def test_joiners_that_scripts_need_are_accepted():
    # ZWNJ (U+200C) is how Persian writes "می‌خواهم"; ZWJ (U+200D) shapes Indic conjuncts.
    for name in ("می\u200cخواهم", "क\u094d\u200dष"):
        assert check_identity("database", name) == name


@pytest.mark.parametrize("identity", [5, b"sales", ["sales"]])
def test_identity_must_be_text(identity):
    with pytest.raises(InvalidRequestError, match="not text"):
        check_identity("database", identity)


def test_a_255_character_identity_is_accepted():
    assert check_identity("database", "a" * 255) == "a" * 255
    assert check_identity("database", "販" * 255) == "販" * 255


@pytest.mark.parametrize("identity", ["Müller", "販売", "Продажи", "مبيعات", "Ελληνικά", "財務-2024 (Q1)", ".hidden",
                                      "a.b", "x", "名前 with spaces"])
@pytest.mark.parametrize("kind", ["database", "discovery_service", "password_reset"])
def test_letters_of_every_language_are_accepted_unchanged(kind, identity):
    assert check_identity(kind, identity) == identity


def test_identities_are_normalised_to_nfc():
    decomposed = "Mu\u0308ller"
    composed = "M\u00fcller"
    assert decomposed != composed
    assert check_identity("database", decomposed) == composed
    assert check_identity("database", composed) == composed
    # One name, one spelling: the two forms are one certificate.
    with pytest.raises(InvalidRequestError, match="asks again"):
        check_refs([{"kind": "database", "identity": decomposed}, {"kind": "database", "identity": composed}])


def test_nfc_applies_before_the_length_limit():
    # 255 decomposed letters are 510 code points but 255 after NFC.
    assert check_identity("database", "u\u0308" * 255) == "\u00fc" * 255


@pytest.mark.parametrize(
    ("given", "stored"),
    [
        ("corp.example.com", "corp.example.com"),
        ("Corp.Example.COM", "corp.example.com"),
        ("CORP", "corp"),
        ("xn--mller-kva.example", "xn--mller-kva.example"),
        ("Müller.Example", "müller.example"),
        ("a-b.c1", "a-b.c1"),
    ],
)
def test_master_key_domains_are_lower_cased(given, stored):
    assert check_identity("master_key", given) == stored


@pytest.mark.parametrize(
    "domain",
    ["-corp.example.com", "corp-.example.com", "corp..example.com", "corp.example.com.", ".corp", "corp_x.com",
     "corp example.com", "a" * 64 + ".com", ".".join(["a" * 63] * 4) + "a", "corp.exa$mple.com"],
)
def test_master_key_must_be_a_dns_domain(domain):
    with pytest.raises(InvalidRequestError) as caught:
        check_identity("master_key", domain)
    assert "DNS domain name" in str(caught.value)


def test_master_key_label_of_63_characters_is_accepted():
    assert check_identity("master_key", "a" * 63 + ".com") == "a" * 63 + ".com"


def test_database_names_keep_their_case():
    assert check_identity("database", "Sales") == "Sales"
    refs = check_refs([{"kind": "database", "identity": "Sales"}, {"kind": "database", "identity": "sales"}])
    assert refs == [CertRef("database", "Sales"), CertRef("database", "sales")]


# --------------------------------------------------------------------------- lists


def test_check_refs_normalises_and_keeps_order():
    refs = check_refs(
        [
            {"kind": "server_encryption"},
            {"kind": "master_key", "identity": "Corp.Example.com"},
            {"kind": "database", "identity": "Mu\u0308ller"},
        ]
    )
    assert refs == [
        CertRef("server_encryption", None),
        CertRef("master_key", "corp.example.com"),
        CertRef("database", "M\u00fcller"),
    ]


@pytest.mark.parametrize(
    "items",
    [
        [{"kind": "database", "identity": "sales"}, {"kind": "database", "identity": "sales"}],
        [{"kind": "master_key", "identity": "Corp.Example.com"},
         {"kind": "master_key", "identity": "corp.example.com"}],
        [{"kind": "server_encryption"}, {"kind": "server_encryption", "identity": None}],
    ],
)
def test_duplicates_are_refused_even_after_normalisation(items):
    with pytest.raises(InvalidRequestError) as caught:
        check_refs(items)
    message = str(caught.value)
    assert "certificates[1] asks again for" in message
    assert "certificates[0]" in message


def test_same_identity_in_different_kinds_is_no_duplicate():
    refs = check_refs([{"kind": "database", "identity": "sales"}, {"kind": "password_reset", "identity": "sales"}])
    assert len(refs) == 2


@pytest.mark.parametrize(
    ("items", "words"),
    [
        (["database"], "not a dictionary"),
        ([{"kind": "database", "identity": "x", "certificate": "PEM"}], "unknown key(s) certificate"),
        ([{"identity": "x"}], "certificates[0].kind None is not a certificate kind"),
        ([{"kind": "database", "identity": "ok"}, {"kind": "database", "identity": "a/b"}],
         "certificates[1].identity 'a/b'"),
    ],
)
def test_check_refs_names_the_faulty_item(items, words):
    with pytest.raises(InvalidRequestError) as caught:
        check_refs(items)
    assert words in str(caught.value)


def test_describe_and_sort_key():
    assert CertRef("database", "sales").describe() == "the database certificate 'sales'"
    assert CertRef("server_encryption", None).describe() == "the server encryption certificate"
    refs = [CertRef("server_encryption", None), CertRef("database", "b"), CertRef("master_key", "a"),
            CertRef("database", "a")]
    assert sorted(refs, key=CertRef.sort_key) == [
        CertRef("database", "a"), CertRef("database", "b"), CertRef("master_key", "a"),
        CertRef("server_encryption", None),
    ]


def test_long_identities_are_shortened_in_messages():
    with pytest.raises(InvalidRequestError) as caught:
        check_identity("database", "x" * 5000)
    assert len(str(caught.value)) < 400


# --------------------------------------------------------------------------- property


_FORBIDDEN = {"Cc", "Cs", "Zl", "Zp"}

identities = st.one_of(
    st.text(max_size=300),
    st.text(alphabet=st.characters(codec="utf-8"), min_size=1, max_size=40),
    st.text(alphabet="aAzZ09-._/\\ \t\u0308\u00fcUİßΣς販", max_size=30),
    st.from_regex(r"[A-Za-z0-9\u00c0-\u024f\u0400-\u04ff-]{1,20}(\.[A-Za-z0-9\u00c0-\u024f-]{1,20}){0,3}",
                  fullmatch=True),
)


@settings(max_examples=400, deadline=None, database=None)
@given(kind=st.sampled_from(NAMED_KINDS), identity=identities)
def test_accepted_identities_are_safe_and_stable(kind, identity):
    try:
        accepted = check_identity(kind, identity)
    except InvalidRequestError as exc:
        assert "\n" not in str(exc)
        return
    assert isinstance(accepted, str)
    assert "/" not in accepted and "\\" not in accepted and ".." not in accepted
    assert not any(unicodedata.category(ch) in _FORBIDDEN for ch in accepted)
    assert "\x00" not in accepted
    assert accepted == accepted.strip()
    assert 1 <= len(accepted) <= kinds.IDENTITY_MAX_LENGTH
    assert accepted == unicodedata.normalize("NFC", accepted)
    # Idempotent: what was accepted once is accepted again, unchanged (the store relies on this).
    assert check_identity(kind, accepted) == accepted
    if kind == "master_key":
        assert accepted == accepted.lower()


# --------------------------------------------------------------------------- the table, and every copy of it
# ansible-doc needs static `choices:` lists, so the modules' documentation repeats the kinds; these checks fail
# when a copy (a module's documentation, a role's argument spec, docs/certificate-kinds.md) disagrees with KINDS.

_REPO = Path(kinds.__file__).resolve().parents[2]


def _kind_choices(options: dict, where: str) -> list[tuple[str, list]]:
    """Every `choices:` list of an option that holds a certificate kind, with where it is."""
    found = []
    for name, spec in (options or {}).items():
        choices = spec.get("choices") or []
        if name == "kind" or "database" in choices:
            found.append(("%s.%s" % (where, name), list(choices)))
        found.extend(_kind_choices(spec.get("suboptions") or spec.get("options") or {}, "%s.%s" % (where, name)))
    return found


def test_every_kind_choices_list_of_the_modules_and_roles_is_the_table():
    found = []
    for path in sorted((_REPO / "plugins" / "modules").glob("*.py")):
        module = importlib.import_module("ansible_collections.passwordsecure.server.plugins.modules." + path.stem)
        found.extend(_kind_choices(yaml.safe_load(module.DOCUMENTATION).get("options"), path.stem))
    for path in sorted((_REPO / "roles").glob("*/meta/argument_specs.yml")):
        for entry, spec in yaml.safe_load(path.read_text())["argument_specs"].items():
            found.extend(_kind_choices(spec.get("options"), "%s/%s" % (path.parts[-3], entry)))
    assert len(found) >= 7  # the seven lists of the modules' documentation
    assert [where for where, choices in found if choices != list(kinds.KIND_NAMES)] == []


def test_docs_certificate_kinds_has_one_row_per_kind_with_its_subject_and_friendly_name():
    text = (_REPO / "docs" / "certificate-kinds.md").read_text()
    rows = re.findall(r"^\| `(\w+)` \| (.+?) \| `(.+?)`.* \| `(.+?)` \|$", text, re.MULTILINE)
    assert [row[0] for row in rows] == list(kinds.KIND_NAMES)
    for name, identity, subject, friendly in rows:
        profile = kinds.KINDS[name]
        assert subject.startswith("CN=%s," % profile.common_name), name
        assert re.sub(r"<[^>]+>", "{identity}", friendly) == profile.friendly_name, name
        assert identity.startswith("none") == profile.singleton, name
