"""The SSL connection certificate's names: kinds.check_name/check_names and hostnames.py.

``ip -o addr show`` is run on this host at test time and its reading checked against ``ip -j addr show``
(iproute2's JSON) as the independent reader; a fixed sample covers what this host may not have.
"""

from __future__ import annotations

import ipaddress
import json
import shutil
import subprocess

import pytest
from cryptography import x509
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from ansible_collections.passwordsecure.server.plugins.module_utils import hostnames
from ansible_collections.passwordsecure.server.plugins.module_utils.errors import InvalidRequestError
from ansible_collections.passwordsecure.server.plugins.module_utils.kinds import NAMES_MAX, check_name, check_names

FIX = "give the host's names and IP addresses"

# --------------------------------------------------------------------------- one name


@pytest.mark.parametrize(
    ("given_name", "stored"),
    [
        ("psr1.example.com", "psr1.example.com"),
        ("PSR1.Example.COM", "psr1.example.com"),
        ("psr1.example.com.", "psr1.example.com"),  # the root's dot
        ("PSR1", "psr1"),
        ("psr-1", "psr-1"),
        ("psr_1.example.com", "psr_1.example.com"),  # underscores, as Windows host names may have, are kept
        ("bücher.example", "xn--bcher-kva.example"),  # IDNA A-labels for non-ASCII
        ("BÜCHER.Example", "xn--bcher-kva.example"),
        ("bu\u0308cher.example", "xn--bcher-kva.example"),  # decomposed ü: NFC first
        ("xn--bcher-kva.example", "xn--bcher-kva.example"),
        ("ｂücher。example", "xn--bcher-kva.example"),  # full-width letters and the ideographic full stop
        ("販売.example", "xn--%s.example" % "販売".encode("punycode").decode()),  # xn--6qs761j (RFC 3492)
        ("192.0.2.10", "192.0.2.10"),
        ("FD00:0::2", "fd00::2"),  # IPv6 in its canonical, compressed, lower-case form
        ("2001:0DB8:0000:0000:0000:0000:0000:0010", "2001:db8::10"),
        ("::1", "::1"),
        ("a" * 63 + ".example", "a" * 63 + ".example"),
    ],
)
def test_a_name_is_normalised(given_name, stored):
    assert check_name(given_name) == stored
    assert check_name(stored) == stored


def test_a_name_of_253_characters_is_accepted_with_or_without_the_roots_dot():
    name = ".".join(["a" * 63, "b" * 63, "c" * 63, "d" * 61])
    assert len(name) == 253
    assert check_name(name) == name
    assert check_name(name.upper() + ".") == name


@pytest.mark.parametrize(
    ("bad", "problem"),
    [
        ("", "is not a host name or an IP address"),
        (None, "is not a host name or an IP address"),
        (3, "is not a host name or an IP address"),
        (b"psr1", "is not a host name or an IP address"),
        (["psr1"], "is not a host name or an IP address"),
        ("psr 1", "has the label 'psr 1', which is not a DNS label"),
        (" psr1", "which is not a DNS label"),
        ("psr1\n.example.com", "which is not a DNS label"),
        ("psr1..example.com", "has an empty label (a leading dot, or two dots in a row)"),
        (".", "has an empty label (a leading dot, or two dots in a row)"),
        ("-psr1.example.com", "has the label '-psr1'"),
        ("psr1-.example.com", "has the label 'psr1-'"),
        ("psr1/example", "has the label 'psr1/example'"),
        ("psr1:11011", "has the label 'psr1:11011'"),
        ("FD00::2.", "has the label 'fd00::2'"),  # an address takes no root's dot
        ("fe80::1%eth0", "has the label 'fe80::1%eth0'"),  # a scoped address means nothing to a client
        ("fe80::1%eth0\nx", "which is not a DNS label"),
        ("a" * 64 + ".example", "has the label '%s'" % ("a" * 64)),
        (".".join(["a" * 63] * 4), "is longer than the 253 characters of a DNS name"),
        (".".join(["a" * 63, "b" * 63, "c" * 63, "d" * 62]), "is longer than the 253 characters"),
        ("x" * 64 + "ü.example", "is not a valid internationalised domain name"),
    ],
)
def test_a_bad_name_is_refused_naming_its_place_and_the_fix(bad, problem):
    with pytest.raises(InvalidRequestError) as caught:
        check_names(["psr1.example.com", "psr1", bad])
    message = str(caught.value)
    assert message.startswith("names[2] holds ")
    assert problem in message
    assert FIX in message
    # One line, and short whatever the input holds.
    assert "\n" not in message and len(message) < 400


@pytest.mark.parametrize("bad", ["psr1", "", None, [], (), {"psr1": 1}, {"psr1"}, 5])
def test_names_must_be_a_non_empty_list(bad):
    with pytest.raises(InvalidRequestError) as caught:
        check_names(bad, where="certificates[1].names")
    message = str(caught.value)
    assert message.startswith("certificates[1].names must be a non-empty list of the host's names and IP addresses")
    assert len(message) < 400


def test_a_long_string_instead_of_a_list_gives_a_short_message():
    with pytest.raises(InvalidRequestError) as caught:
        check_names("x" * 5000)
    assert len(str(caught.value)) < 400
    with pytest.raises(InvalidRequestError) as caught:
        check_names(["psr1", ["x" * 5000]])
    assert str(caught.value).startswith("names[1] holds ") and len(str(caught.value)) < 400


def test_the_number_of_names_is_limited():
    assert NAMES_MAX == 256
    many = ["h%d.example.com" % n for n in range(NAMES_MAX)]
    assert check_names(many) == many
    with pytest.raises(InvalidRequestError) as caught:
        check_names(many + ["one-more.example.com"])
    message = str(caught.value)
    assert "names lists 257 names, over the limit of 256" in message
    assert "at most 256" in message  # the fix


def test_names_are_normalised_and_duplicates_dropped_in_order():
    given_names = ["PSR1.example.com", "psr1", "192.0.2.10", "psr1.example.com.", "FD00:0::2", "fd00::2", "PSR1",
                   "bücher.example", "xn--bcher-kva.example"]
    assert check_names(given_names) == ["psr1.example.com", "psr1", "192.0.2.10", "fd00::2", "xn--bcher-kva.example"]
    assert check_names(("b", "a", "B")) == ["b", "a"]


# --------------------------------------------------------------------------- property

_LABEL = st.one_of(
    st.from_regex(r"[A-Za-z0-9](?:[A-Za-z0-9_-]{0,20}[A-Za-z0-9])?", fullmatch=True),
    st.text(alphabet="abcXYZ019-üößéñÅ販売Яя", min_size=1, max_size=12),
)
_DNS = st.builds(
    lambda labels, dot: ".".join(labels) + dot,
    st.lists(_LABEL, min_size=1, max_size=4),
    st.sampled_from(["", "."]),
)
_IP = st.one_of(
    st.ip_addresses().map(str),
    st.ip_addresses(v=6).map(lambda address: address.exploded.upper()),
)
_NAMES = st.lists(st.one_of(_DNS, _IP), min_size=1, max_size=10)


@settings(max_examples=200, deadline=None, database=None)
@given(_NAMES)
def test_check_names_is_idempotent_and_its_names_go_into_a_certificate(names):
    try:
        checked = check_names(names)
    except InvalidRequestError as exc:
        assert "\n" not in str(exc)
        assume(False)
        return
    assert check_names(checked) == checked
    assert len(checked) == len(set(checked))
    # Order and case of what was given do not change the set the certificate lists.
    assert set(check_names([name.upper() if name.isascii() else name for name in reversed(names)])) == set(checked)
    for name in checked:
        assert name.isascii() and name == name.lower()
        x509.DNSName(name)  # cryptography takes every name as a DNS name, as the product writes them
        try:
            assert str(ipaddress.ip_address(name)) == name
        except ValueError:
            assert len(name) <= 253 and not name.endswith(".")


# --------------------------------------------------------------------------- ip -o addr show

SAMPLE = "\n".join([
    r"1: lo    inet 127.0.0.1/8 scope host lo\       valid_lft forever preferred_lft forever",
    r"1: lo    inet6 ::1/128 scope host noprefixroute \       valid_lft forever preferred_lft forever",
    r"2: eth0    inet 192.0.2.10/24 brd 192.0.2.255 scope global dynamic noprefixroute eth0\       "
    r"valid_lft 86162sec preferred_lft 86162sec",
    r"2: eth0    inet 192.0.2.11/24 brd 192.0.2.255 scope global secondary eth0:1\       "
    r"valid_lft forever preferred_lft forever",
    r"2: eth0    inet6 2001:db8::10/64 scope global dynamic mngtmpaddr \       "
    r"valid_lft 2591990sec preferred_lft 604790sec",
    r"2: eth0    inet6 fe80::5054:ff:fe12:3456/64 scope link \       valid_lft forever preferred_lft forever",
    r"3: tun0    inet 10.8.0.1 peer 10.8.0.2/32 scope global tun0\       valid_lft forever preferred_lft forever",
    r"4: dummy0    inet 127.0.1.1/8 scope host dummy0\       valid_lft forever preferred_lft forever",
    r"5: eth1    inet6 fd00::2/64 scope global nodad \       valid_lft forever preferred_lft forever",
    "",
])


def test_addresses_from_a_sample_are_the_global_ones_in_order():
    assert hostnames.addresses_from_ip(SAMPLE) == ["192.0.2.10", "192.0.2.11", "2001:db8::10", "10.8.0.1",
                                                   "fd00::2"]
    assert hostnames.addresses_from_ip("") == []


@pytest.mark.skipif(shutil.which("ip") is None, reason="the ip command is not installed")
def test_addresses_from_this_hosts_ip_output_agree_with_its_json():
    text = subprocess.run(["ip", "-o", "addr", "show"], capture_output=True, check=True, text=True).stdout
    found = hostnames.addresses_from_ip(text)
    listing = subprocess.run(["ip", "-j", "addr", "show"], capture_output=True, check=False, text=True)
    if listing.returncode != 0 or not listing.stdout.strip():
        pytest.skip("this ip has no JSON output")
    wanted = [address["local"] for interface in json.loads(listing.stdout)
              for address in interface.get("addr_info", []) if address.get("scope") == "global"]
    assert found == wanted
    for address in found:
        parsed = ipaddress.ip_address(address)
        assert not (parsed.is_loopback or parsed.is_link_local)
    # What host_names makes of them is a valid list for the certificate.
    assert check_names(hostnames.host_names("psr1", "psr1.example.com", found)) == ["psr1.example.com", "psr1"] + [
        str(ipaddress.ip_address(a)) for a in dict.fromkeys(found)]


# --------------------------------------------------------------------------- host_names


@pytest.mark.parametrize(
    ("hostname", "fqdn", "addresses", "names"),
    [
        ("psr1", "psr1.example.com", ["192.0.2.10", "2001:DB8::10"],
         ["psr1.example.com", "psr1", "192.0.2.10", "2001:db8::10"]),
        ("psr1", "psr1", ["192.0.2.10"], ["psr1", "192.0.2.10"]),
        ("psr1", None, [], ["psr1"]),
        ("psr1", "", ["192.0.2.10"], ["psr1", "192.0.2.10"]),
        ("psr1", "localhost", ["192.0.2.10"], ["psr1", "192.0.2.10"]),
        ("psr1", "localhost.localdomain", [], ["psr1"]),
        ("psr1", "LOCALHOST", [], ["psr1"]),
        ("psr1", "localhost6.localdomain6", [], ["psr1"]),
        ("PSR1", "psr1", ["192.0.2.10", "192.0.2.10", "fd00:0::2", "FD00::2"], ["psr1", "192.0.2.10", "fd00::2"]),
        ("PSR1", "PSR1.Example.COM.", [], ["psr1.example.com", "psr1"]),
    ],
)
def test_host_names_put_the_fqdn_first_drop_localhost_and_duplicates(hostname, fqdn, addresses, names):
    assert hostnames.host_names(hostname, fqdn, addresses) == names


def test_a_host_name_that_is_no_dns_name_is_refused_naming_the_hosts_names():
    with pytest.raises(InvalidRequestError) as caught:
        hostnames.host_names("psr 1", None, [])
    assert str(caught.value).startswith("the host's names[0] holds 'psr 1'")


def test_the_sample_goes_through_host_names():
    assert hostnames.host_names("psr1", "psr1.example.com", hostnames.addresses_from_ip(SAMPLE)) == [
        "psr1.example.com", "psr1", "192.0.2.10", "192.0.2.11", "2001:db8::10", "10.8.0.1", "fd00::2"]
