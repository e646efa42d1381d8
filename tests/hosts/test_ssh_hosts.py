# Copyright (c) passwordsecure.server contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Smoke test of the real SSH hosts (tests/hosts/hosts.py): Ansible reaches them over SSH with pipelining,
they are separate machines as far as Ansible can tell, nothing leaves the machine, and the collection's
modules move certificates from one to the other through the controller."""

from __future__ import annotations

import json
import re
import secrets
import shlex
import subprocess
from pathlib import Path

PLAYBOOKS = Path(__file__).resolve().parent / "playbooks"


def test_ping_over_ssh_with_pipelining(ssh_hosts, ansible):
    result = ansible.adhoc("ssh_hosts", "ansible.builtin.ping", "", "-vvv")
    assert result.returncode == 0, result.stdout + result.stderr
    for name, host in ssh_hosts.hosts.items():
        assert result.results[name] == ("SUCCESS", {"changed": False, "ping": "pong", "invocation": {
            "module_args": {"data": "pong"}}}), result.stdout
        # The real ssh client, to the host's own address, with the module piped into /usr/bin/python3.
        assert "<%s> ESTABLISH SSH CONNECTION FOR USER: root" % host.address in result.stdout
        assert re.search(r"<%s> SSH: EXEC ssh .* %s .*/usr/bin/python3" % (
            re.escape(host.address), re.escape(host.address)), result.stdout)
        # The host's own sshd saw the controller (the bridge address) log in with the generated key.
        assert "Accepted publickey for root from %s " % ssh_hosts.gateway in host.sshd_log.read_text()
    assert "Pipelining is enabled." in result.stdout
    assert " PUT " not in result.stdout  # no module file copied over: pipelining, not sftp/scp


def test_hosts_are_separate_machines(ssh_hosts, ansible):
    facts = ansible.adhoc("ssh_hosts", "ansible.builtin.setup", "gather_subset=min").results
    assert {name: facts[name][0] for name in ssh_hosts.names} == dict.fromkeys(ssh_hosts.names, "SUCCESS"), facts
    names = {name: facts[name][1]["ansible_facts"]["ansible_hostname"] for name in ssh_hosts.names}
    assert names == {name: name for name in ssh_hosts.names}
    for name, host in ssh_hosts.hosts.items():
        # Over plain ssh as well: the host name, and the host's own /etc/hosts naming every host.
        seen = ssh_hosts.ssh(name, "hostname; cat /etc/hosts").stdout.split("\n", 1)
        assert seen[0] == name
        assert re.search(r"^%s\s+%s$" % (re.escape(ssh_hosts.hosts["psr-dst"].address), "psr-dst"), seen[1], re.M)
        # Its private tmpfs: seen inside the host, not outside (an empty directory there).
        mounts = ssh_hosts.ssh(name, "cat /proc/self/mounts").stdout
        assert re.search(r"^psrh-private %s tmpfs " % re.escape(str(host.private_dir)), mounts, re.M)
        assert not any(host.private_dir.iterdir())


def test_hosts_cannot_reach_outside(ssh_hosts):
    probe = shlex.quote("import socket, sys\n"
                        "try:\n    socket.create_connection((sys.argv[1], 53), timeout=3)\n"
                        "except OSError as exc:\n    print(exc.errno)\nelse:\n    print('connected')\n")
    # Outside: a public address, and the controller's own default gateway (TEST-NET-1 when it has none).
    gateways = re.findall(r"^default via (\S+)", subprocess.run(
        ["ip", "-4", "route", "show", "default"], capture_output=True, text=True, check=True).stdout, re.M)
    outside = ["1.1.1.1", *(gateways or ["192.0.2.1"])]
    for name in ssh_hosts.names:
        routes = ssh_hosts.run_in(name, ["ip", "-4", "route", "show"]).stdout
        assert routes.strip() and "default" not in routes, routes
        # 101 is ENETUNREACH: no route at all, so no packet is even sent.
        for address in outside:
            answer = ssh_hosts.ssh(name, "/usr/bin/python3 -c %s %s" % (probe, address)).stdout.strip()
            assert answer == "101", (name, address, answer)
        # The controller's bridge address is reachable: 111 is ECONNREFUSED, nothing listens on its port 53.
        answer = ssh_hosts.ssh(name, "/usr/bin/python3 -c %s %s" % (probe, ssh_hosts.gateway)).stdout
        assert answer.strip() == "111", answer


def test_certificates_travel_from_host_to_host(ssh_hosts, ansible, tmp_path):
    source, target = "psr-src", "psr-dst"
    password = "roundtrip-" + secrets.token_urlsafe(24)
    report = tmp_path / "report.json"
    result = ansible.playbook(
        PLAYBOOKS / "certificate_roundtrip.yml", "-e", "roundtrip_source=%s" % source,
        "-e", "roundtrip_target=%s" % target, "-e", "roundtrip_report=%s" % report,
        secret_vars={"roundtrip_password": password})
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert re.search(r"^localhost +: ok=6 +changed=3 +unreachable=0 +failed=0 ", result.stdout, re.M), result.stdout
    # Each task ran on its host over SSH (delegate_to resolves the inventory's address).
    for task, host in (("Ensure the certificates on the source", source), ("Import the content on the target", target)):
        assert re.search(r"TASK \[%s.*\n(ok|changed): \[localhost -> %s\(%s\)\]" % (
            re.escape(task), host, re.escape(ssh_hosts.hosts[host].address)), result.stdout), result.stdout
    assert password not in result.stdout + result.stderr
    thumbprints = {host: sorted(found) for host, found in json.loads(report.read_text()).items()}
    assert len(thumbprints[source]) == 3
    assert thumbprints[target] == thumbprints[source]

    # Read the target's store without the collection, from inside the host: its index lists the same
    # thumbprints, and its entry files are exactly those it names, with the hashes it records.
    store = ssh_hosts.store_paths[target]
    index = json.loads(ssh_hosts.run_in(target, ["cat", str(store / "index.json")]).stdout)
    assert sorted(entry["thumbprint"] for entry in index["entries"]) == thumbprints[source]
    hashed = ssh_hosts.run_in(target, ["sh", "-c", 'cd "$1" && sha256sum entries/*', "sh", str(store)]).stdout
    assert sorted(line.split()[::-1] for line in hashed.splitlines()) == sorted(
        [entry["file"], entry["file_sha256"]] for entry in index["entries"])
    # Both stores live in the hosts' private tmpfs: nothing was written outside them.
    for host in ssh_hosts.hosts.values():
        assert not any(host.private_dir.iterdir()), host.private_dir


def test_run_in_sees_what_ssh_sees(ssh_hosts):
    name = "psr-src"
    marker = ssh_hosts.hosts[name].private_dir / "tmp" / ("marker-" + secrets.token_hex(4))
    ssh_hosts.run_in(name, ["sh", "-c", 'echo "$(hostname)" > "$1"', "sh", str(marker)])
    assert ssh_hosts.ssh(name, "cat %s" % marker).stdout.strip() == name
    other = next(n for n in ssh_hosts.names if n != name)
    assert ssh_hosts.ssh(other, "test -e %s" % marker, check=False).returncode == 1
    assert not marker.exists()


def test_fault_helpers(ssh_hosts):
    """kill_host/revive, freeze/thaw and disconnect/reconnect do what the fault tests rely on."""
    name = "psr-dst"
    fresh = ("-o", "ControlPath=none", "-o", "ConnectTimeout=1")
    marker = ssh_hosts.hosts[name].private_dir / "tmp" / ("survivor-" + secrets.token_hex(4))
    ssh_hosts.ssh(name, "echo kept > %s" % marker)
    try:
        ssh_hosts.kill_host(name)
        assert ssh_hosts.processes(name) == {}
        refused = ssh_hosts.ssh(name, "true", check=False, options=fresh)
        assert refused.returncode == 255 and "Connection refused" in refused.stderr, refused.stderr
        assert ssh_hosts.run_in(name, ["cat", str(marker)]).stdout == "kept\n"  # the private tmpfs survives
        ssh_hosts.revive(name)
        assert ssh_hosts.ssh(name, "cat %s" % marker, options=fresh).stdout == "kept\n"

        ssh_hosts.freeze(name)
        hung = ssh_hosts.ssh(name, "true", check=False, options=fresh)
        assert hung.returncode == 255 and "timed out" in hung.stderr, hung.stderr
        ssh_hosts.thaw(name)
        assert ssh_hosts.ssh(name, "hostname", options=fresh).stdout.strip() == name

        ssh_hosts.disconnect(name)
        gone = ssh_hosts.ssh(name, "true", check=False, options=fresh)
        assert gone.returncode == 255, gone.stderr
        ssh_hosts.reconnect(name)
        assert ssh_hosts.ssh(name, "hostname", options=fresh).stdout.strip() == name
    finally:  # leave the host as the other tests expect it
        ssh_hosts.thaw(name)
        ssh_hosts.reconnect(name)
        ssh_hosts.revive(name)
