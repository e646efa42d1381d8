# Copyright (c) passwordsecure.server contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Client trust between two real SSH hosts (tests/hosts/hosts.py; needs root, skipped otherwise).

psr-src is the Password Secure server: its SSL connection certificate is made over SSH by
``passwordsecure.server.certificate`` (kind ssl, names found on the host). psr-dst is the client, with a private
trust store in its private tmpfs: Debian's ``update-ca-certificates`` with every one of its folders
(``--certsdir``, ``--localcertsdir``, ``--etccertsdir``, ``--hooksdir``, ``--certsconf``) pointed there, so the
machine's own trust store is never touched (checked). ``ansible-playbook
passwordsecure.server.trust_server_certificate`` installs the certificate twice (the second run changes nothing);
then ``openssl s_server`` on psr-src with the store's certificate and key, and ``openssl s_client`` on psr-dst
trusting only the private bundle, verifies it for the server's host name; the controls (the machine's own bundle,
and a name the certificate does not list) fail.
"""

from __future__ import annotations

import hashlib
import json
import re
import shlex
import time
from pathlib import Path

import pytest

PLAYBOOK = "passwordsecure.server.trust_server_certificate"
SERVER, CLIENT = "psr-src", "psr-dst"
PORT = 8443  # inside psr-src's own network namespace, where nothing else listens
SYSTEM_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
SYSTEM_ANCHORS = Path("/usr/local/share/ca-certificates")
_RECAP = re.compile(r"^(\S+)\s+: ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", re.M)


def _recap(stdout: str) -> dict[str, tuple[int, int, int, int]]:
    return {m.group(1): tuple(int(g) for g in m.groups()[1:]) for m in _RECAP.finditer(stdout)}


def _system_state() -> tuple[str | None, list[str]]:
    """The machine's own trust store: its bundle's hash and its local anchors."""
    digest = hashlib.sha256(SYSTEM_BUNDLE.read_bytes()).hexdigest() if SYSTEM_BUNDLE.exists() else None
    anchors = sorted(p.name for p in SYSTEM_ANCHORS.iterdir()) if SYSTEM_ANCHORS.is_dir() else []
    return digest, anchors


@pytest.fixture
def trust_setup(ssh_hosts):
    """A fresh store on the server, a private trust store on the client; both removed afterwards, with the TLS
    server the test starts."""
    store = ssh_hosts.store_paths[SERVER]
    trust = ssh_hosts.hosts[CLIENT].private_dir / "trust"
    ssh_hosts.run_in(SERVER, ["rm", "-rf", str(store)])
    ssh_hosts.run_in(CLIENT, ["rm", "-rf", str(trust)])
    ssh_hosts.run_in(CLIENT, ["sh", "-c", 'mkdir -p "$1/certs" "$1/local" "$1/etc" "$1/hooks" && : >"$1/ca.conf"',
                              "sh", str(trust)])
    pids: list[str] = []
    yield store, trust, pids
    for pid in pids:
        ssh_hosts.run_in(SERVER, ["kill", pid], check=False)
    ssh_hosts.run_in(SERVER, ["rm", "-rf", str(store)])
    ssh_hosts.run_in(CLIENT, ["rm", "-rf", str(trust)])


def test_client_trusts_the_server_after_the_playbook(ssh_hosts, ansible, trust_setup):
    store, trust, pids = trust_setup
    system_before = _system_state()

    # The server's SSL connection certificate, for the names found on the host.
    made = ansible.adhoc(SERVER, "passwordsecure.server.certificate", "store_path=%s kind=ssl key_size=2048" % store)
    status, result = made.results[SERVER]
    assert status == "CHANGED", made.stdout + made.stderr
    names = result["certificates"][0]["names"]
    assert result["names_source"] == "host" and SERVER in names, names
    thumbprint = result["certificates"][0]["thumbprint"]

    update = ["update-ca-certificates", "--certsdir", str(trust / "certs"), "--localcertsdir", str(trust / "local"),
              "--etccertsdir", str(trust / "etc"), "--hooksdir", str(trust / "hooks"),
              "--certsconf", str(trust / "ca.conf")]
    extra = json.dumps({"passwordsecure_client_hosts": CLIENT, "client_trust_server": SERVER,
                        "client_trust_anchor_dir": str(trust / "local"), "client_trust_update_command": update})
    first = ansible.playbook(PLAYBOOK, "-e", extra)
    assert first.returncode == 0, first.stdout[-4000:] + first.stderr[-2000:]
    recap = _recap(first.stdout)
    assert list(recap) == [CLIENT] and recap[CLIENT][1:] == (2, 0, 0), first.stdout
    # The export ran on the server, over SSH.
    assert re.search(r"Export the server.s SSL connection certificate.*\n(ok|changed): \[%s -> %s\(%s\)\]" % (
        CLIENT, SERVER, re.escape(ssh_hosts.hosts[SERVER].address)), first.stdout), first.stdout
    again = ansible.playbook(PLAYBOOK, "-e", extra)
    assert again.returncode == 0, again.stdout[-4000:] + again.stderr[-2000:]
    assert _recap(again.stdout)[CLIENT][1:] == (0, 0, 0), again.stdout

    # The anchor and the bundle update-ca-certificates built, read on the client.
    anchor = trust / "local" / ("passwordsecure-%s.crt" % SERVER)
    bundle = trust / "etc" / "ca-certificates.crt"
    fingerprint = ssh_hosts.run_in(CLIENT, ["openssl", "x509", "-noout", "-fingerprint", "-sha1", "-in",
                                            str(anchor)]).stdout
    assert fingerprint.strip().split("=", 1)[1].replace(":", "").upper() == thumbprint
    assert ssh_hosts.run_in(CLIENT, ["stat", "-c", "%a", str(anchor)]).stdout.strip() == "644"
    bundled = ssh_hosts.run_in(CLIENT, ["cat", str(bundle)]).stdout
    assert bundled.count("BEGIN CERTIFICATE") == 1 and "PRIVATE KEY" not in bundled

    # A TLS server on psr-src with the store's certificate and key (the entry file, 0600, holds both as PEM; the key
    # goes to openssl in that file, never on the command line).
    index = json.loads(ssh_hosts.run_in(SERVER, ["cat", str(store / "index.json")]).stdout)
    entry = store / next(e["file"] for e in index["entries"] if e["kind"] == "ssl")
    address = ssh_hosts.hosts[SERVER].address
    started = ssh_hosts.run_in(SERVER, ["sh", "-c", 'openssl s_server -accept "$1" -cert "$2" -key "$2" -www '
                                        '</dev/null >/dev/null 2>&1 & echo $!', "sh", "%s:%d" % (address, PORT),
                                        str(entry)])
    pids.append(started.stdout.strip())
    probe = "import socket,sys; socket.create_connection((sys.argv[1], int(sys.argv[2])), 1).close()"
    for _attempt in range(100):
        if ssh_hosts.run_in(CLIENT, ["python3", "-c", probe, address, str(PORT)], check=False).returncode == 0:
            break
        time.sleep(0.1)
    else:
        pytest.fail("openssl s_server on %s does not listen" % SERVER)

    def s_client(cafile: str, hostname: str):
        argv = ["openssl", "s_client", "-connect", "%s:%d" % (address, PORT), "-CAfile", cafile,
                "-verify_return_error", "-verify_hostname", hostname]
        return ssh_hosts.run_in(CLIENT, argv, check=False, input="")

    trusted = s_client(str(bundle), SERVER)
    assert trusted.returncode == 0 and "Verify return code: 0 (ok)" in trusted.stdout, (
        shlex.join(trusted.args), trusted.stdout[-2000:], trusted.stderr[-2000:])
    # Controls: the machine's own bundle does not hold the server's certificate, and the private bundle does not
    # vouch for a name the certificate does not list.
    for cafile, hostname in ((str(SYSTEM_BUNDLE), SERVER), (str(bundle), "psr.example.org")):
        refused = s_client(cafile, hostname)
        assert refused.returncode != 0 and "Verify return code: 0 (ok)" not in refused.stdout, (cafile, hostname)
        assert re.search(r"verify error|certificate verify failed", refused.stderr), refused.stderr[-2000:]

    # The machine's own trust store was never touched.
    assert _system_state() == system_before
