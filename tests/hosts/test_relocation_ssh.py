# Copyright (c) passwordsecure.server contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The database relocation between two real SSH hosts (tests/hosts/hosts.py; needs root, skipped otherwise).

Every relocation here is ``ansible-playbook passwordsecure.server.relocate_database`` by its full name, with the
harness's inventory and ansible.cfg (SSH, pipelining on), the transfer password and store passwords in a 0600
extra-vars file (the ``ansible`` fixture's ``secret_vars``), never on the command line. The source's certificate set
is made over SSH by ``passwordsecure.server.ensure_certificates``.

What the tests believe is read without the collection: the stores are copied out of the hosts with
``hosts.run_in`` (tar inside the host's namespaces) and read here - index.json, every file's SHA-256 and mode, and
each entry's certificate thumbprint computed from its PEM. ``database_relocation_result`` comes from a small
callback (callback_plugins/relocation_result.py) that copies the fact the role sets.

The hosts are the session's pair (conftest.py); each test puts both stores into a known state first (by restoring
a snapshot, or removing the store dirs), and the module leaves both stores removed at its end.
"""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import hashlib
import io
import json
import os
import re
import secrets
import signal
import subprocess
import tarfile
import threading
import time
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
PLAYBOOK = "passwordsecure.server.relocate_database"
SOURCE, TARGET = "psr-src", "psr-dst"
# The source's realistic set: six databases, an AD domain in Masterkey mode, a discovery service, a Password Reset
# (and the server encryption certificate, always there). Key size 2048: the smallest, for speed.
SERVER_SET = {
    "certificates_databases": ["sales", "hr", "ops", "finance", "legal", "it"],
    "certificates_masterkey_domains": ["corp.example.com"],
    "certificates_discovery_services": ["ds.corp.example.com"],
    "certificates_password_resets": ["reset"],
    "certificates_key_size": 2048,
}
FIRST = ["sales", "hr"]  # relocated by the success test; the target then holds them (and the server-wide set)
SECOND = ["ops", "finance", "legal"]  # relocated by the fault tests, onto that target
SERVER_WIDE = ("master_key", "discovery_service", "password_reset", "server_encryption")
_RECAP = re.compile(r"^(\S+)\s+: ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", re.M)
_PEM_BLOCK = re.compile(rb"-----BEGIN ([A-Z ]+)-----\r?\n(.*?)-----END \1-----", re.S)


# --------------------------------------------------------------------------- reading a store from outside


@dataclasses.dataclass
class StoreView:
    """A host's store as a tar of its directory, read here: no module of the collection involved."""

    exists: bool
    members: dict[str, tuple[str, int, str]]  # path inside the store -> (type d/f, mode, sha256 of a file)
    contents: dict[str, bytes]  # regular files' bytes
    snapshot: str  # the tar, base64: restore() puts exactly this back

    @property
    def index(self) -> dict:
        return json.loads(self.contents["index.json"]) if "index.json" in self.contents else {"entries": []}

    @property
    def thumbprints(self) -> dict[tuple[str, str | None], str]:
        """{(kind, identity): thumbprint} as the index lists them."""
        return {(e["kind"], e["identity"]): e["thumbprint"] for e in self.index["entries"]}

    def check_consistent(self) -> None:
        """What a reader relies on: every indexed file is there, hashes to file_sha256 and holds a certificate
        whose SHA-1 (computed here from its DER) is the thumbprint the index records."""
        for entry in self.index["entries"]:
            content = self.contents.get(entry["file"])
            assert content is not None, "%s: indexed file %s is missing" % (entry["thumbprint"], entry["file"])
            assert hashlib.sha256(content).hexdigest() == entry["file_sha256"], entry["file"]
            assert cert_thumbprint(content) == entry["thumbprint"], entry["file"]

    def leftovers(self) -> list[str]:
        """Files no reader sees: a killed writer's journal, temp files, entry files the index does not name."""
        named = {e["file"] for e in self.index["entries"]} | {e["file"] for e in self.index.get("superseded", [])}
        return sorted(p for p, (kind, _m, _h) in self.members.items() if kind == "f" and p not in (
            "index.json", ".lock") and p not in named)

    def private_keys(self) -> list[bytes]:
        """The PEM blocks of every entry file's private key (PRIVATE KEY or ENCRYPTED PRIVATE KEY)."""
        return [match.group(0) for path, content in self.contents.items() if path.startswith("entries/")
                for match in _PEM_BLOCK.finditer(content) if match.group(1).endswith(b"PRIVATE KEY")]


def cert_thumbprint(entry_pem: bytes) -> str:
    blocks = dict(_PEM_BLOCK.findall(entry_pem))
    return hashlib.sha1(base64.b64decode(b"".join(blocks[b"CERTIFICATE"].split()))).hexdigest().upper()


class Lab:
    """The session's two SSH hosts, their stores, and the playbook runs of this module."""

    def __init__(self, ssh_hosts, ansible, work: Path):
        self.hosts = ssh_hosts
        self.ansible = ansible
        self.work = work  # in the harness's directory, so that the secret scan sees what the runs left there

    def store_path(self, name: str) -> Path:
        return self.hosts.hosts[name].store_path

    def read(self, name: str) -> StoreView:
        host = self.hosts.hosts[name]
        out = self.hosts.run_in(name, ["sh", "-c", 'cd "$1" && if [ -e store ]; then tar -cf - store | base64 -w0; fi',
                                       "sh", str(host.private_dir)]).stdout.strip()
        if not out:
            return StoreView(False, {}, {}, "")
        members, contents = {}, {}
        with tarfile.open(fileobj=io.BytesIO(base64.b64decode(out))) as tar:
            for member in tar.getmembers():
                path = member.name[len("store/"):] if member.name != "store" else "."
                if member.isdir():
                    members[path] = ("d", member.mode, "")
                else:
                    assert member.isfile(), member.name
                    data = tar.extractfile(member).read()
                    contents[path] = data
                    members[path] = ("f", member.mode, hashlib.sha256(data).hexdigest())
        return StoreView(True, members, contents, out)

    def restore(self, name: str, view: StoreView | None) -> None:
        """Put a store back as a snapshot holds it, or remove it (None, or a snapshot of no store)."""
        host = self.hosts.hosts[name]
        self.hosts.run_in(name, ["rm", "-rf", str(host.store_path)])
        if view is not None and view.exists:
            self.hosts.run_in(name, ["sh", "-c", 'base64 -d | tar -C "$1" -xpf -', "sh", str(host.private_dir)],
                              input=view.snapshot)

    def tmp_files(self, name: str) -> list[str]:
        """What is in the host's private tmp dir (its TMPDIR and ansible_remote_tmp)."""
        tmp = self.hosts.hosts[name].tmp_dir
        return self.hosts.run_in(name, ["find", str(tmp), "-mindepth", "1"]).stdout.split()

    def clear_tmp(self, name: str) -> None:
        tmp = str(self.hosts.hosts[name].tmp_dir)
        self.hosts.run_in(name, ["find", tmp, "-mindepth", "1", "-maxdepth", "1", "-exec", "rm", "-rf", "{}", "+"])

    def playbook(self, playbook: str, *options: str, secret_vars: dict | None = None, extra: dict | None = None,
                 result_file: Path | None = None) -> subprocess.CompletedProcess:
        env = {}
        if result_file is not None:
            with contextlib.suppress(FileNotFoundError):
                result_file.unlink()
            env = {"ANSIBLE_CALLBACK_PLUGINS": str(HERE / "callback_plugins"),
                   "ANSIBLE_CALLBACKS_ENABLED": "relocation_result", "PSR_RELOCATION_RESULT": str(result_file)}
        argv = [*options, *(["-e", json.dumps(extra)] if extra else [])]
        return self.ansible.playbook(playbook, *argv, secret_vars=secret_vars, timeout=300, **env)

    def ensure_set(self, secret_vars: dict | None = None) -> None:
        run = self.playbook("passwordsecure.server.ensure_certificates", "-e", "passwordsecure_hosts=%s" % SOURCE,
                            extra=SERVER_SET, secret_vars=secret_vars)
        assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
        assert recap(run) == {SOURCE: (1, 0, 0)}, run.stdout[-2000:]

    def relocate(self, databases: list[str], *options: str, password: str, extra: dict | None = None,
                 secret_vars: dict | None = None) -> Relocation:
        result_file = self.work / ("result-%s.json" % secrets.token_hex(4))
        extra = {"database_relocation_source": SOURCE, "database_relocation_target": TARGET,
                 "database_relocation_databases": databases,
                 "database_relocation_report_dir": str(self.work / "reports"), **(extra or {})}
        run = self.playbook(PLAYBOOK, *options, extra=extra, result_file=result_file,
                            secret_vars={"database_relocation_password": password, **(secret_vars or {})})
        result = json.loads(result_file.read_text()) if result_file.exists() else None
        return Relocation(run, result)


@dataclasses.dataclass
class Relocation:
    run: subprocess.CompletedProcess
    result: dict | None  # database_relocation_result

    @property
    def output(self) -> str:
        return self.run.stdout + self.run.stderr

    def show(self) -> str:
        return "exit %d\n%s\n%s" % (self.run.returncode, self.run.stdout[-5000:], self.run.stderr[-2000:])

    def assert_succeeded_and_proved(self, count: int) -> None:
        assert self.run.returncode == 0, self.show()
        assert self.result is not None and self.result["status"] == "succeeded", self.show()
        proofs = self.result["proofs"]
        assert len(proofs) == count and all(p["passed"] for p in proofs), proofs
        # The report says the same: one row per certificate, each proof passed.
        report = Path(self.result["report_markdown"]).read_text()
        assert "| Result | **succeeded** |" in report
        assert "| Proofs | %d of %d passed |" % (count, count) in report
        assert report.count("| passed |") == count, report


def recap(run: subprocess.CompletedProcess) -> dict[str, tuple[int, int, int]]:
    """{host: (changed, unreachable, failed)} from the PLAY RECAP."""
    return {m.group(1): (int(m.group(3)), int(m.group(4)), int(m.group(5))) for m in _RECAP.finditer(run.stdout)}


def without_ssl(thumbprints: dict[tuple[str, str | None], str]) -> dict[tuple[str, str | None], str]:
    """A store's thumbprints but its SSL connection certificate's, which never moves: each server has its own."""
    return {ref: thumb for ref, thumb in thumbprints.items() if ref[0] != "ssl"}


def subject_alt_names(view: StoreView) -> list[str]:
    """The Subject Alternative Name of the store's SSL connection certificate, as openssl reads its entry file."""
    entry = next(e for e in view.index["entries"] if e["kind"] == "ssl")
    out = subprocess.run(["openssl", "x509", "-noout", "-ext", "subjectAltName"], input=view.contents[entry["file"]],
                         capture_output=True, check=True).stdout.decode()
    lines = out.splitlines()
    assert len(lines) == 2 and lines[0].strip() == "X509v3 Subject Alternative Name:", out
    return lines[1].strip().split(", ")


def travelling(source: StoreView, databases: list[str]) -> dict[tuple[str, str | None], str]:
    """What a relocation of ``databases`` must bring, as the source's index says: the databases' own certificates
    and every server-wide one."""
    return {ref: thumb for ref, thumb in source.thumbprints.items()
            if ref[0] in SERVER_WIDE or (ref[0] == "database" and ref[1] in databases)}


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def lab(ssh_hosts, ansible):
    work = ssh_hosts.dir / "relocation"
    work.mkdir(exist_ok=True)
    lab = Lab(ssh_hosts, ansible, work)
    for name in (SOURCE, TARGET):
        lab.restore(name, None)
    yield lab
    # Leave the hosts as the session's other tests expect them: up, connected, no stores.
    for name in (SOURCE, TARGET):
        ssh_hosts.reconnect(name)
        ssh_hosts.revive(name)
        lab.restore(name, None)


@pytest.fixture(scope="module")
def first_relocation(lab):
    """The source's set, made over SSH, and its SSL connection certificate (generated for its own names there);
    then FIRST relocated onto an empty target. Stores before and after."""
    lab.ensure_set()
    ssl = lab.ansible.adhoc(SOURCE, "passwordsecure.server.certificate",
                            "store_path=%s kind=ssl key_size=2048" % lab.store_path(SOURCE))
    assert ssl.results[SOURCE][0] == "CHANGED", ssl.stdout[-3000:] + ssl.stderr[-2000:]
    source_before = lab.read(SOURCE)
    password = "transfer-" + secrets.token_urlsafe(18)
    relocation = lab.relocate(FIRST, password=password)
    return {"password": password, "relocation": relocation, "source_before": source_before,
            "source_after": lab.read(SOURCE), "target_after": lab.read(TARGET)}


@pytest.fixture
def second_start(lab, first_relocation):
    """Both stores as the first relocation left them (the target holds FIRST and the server-wide set)."""
    for name, key in ((SOURCE, "source_after"), (TARGET, "target_after")):
        lab.restore(name, first_relocation[key])
        lab.clear_tmp(name)
    source = lab.read(SOURCE)
    target = lab.read(TARGET)
    assert source.members == first_relocation["source_before"].members
    return {"password": first_relocation["password"], "source": source, "target": target,
            "complete": {**target.thumbprints, **travelling(source, SECOND)}}


def assert_converges(lab: Lab, start: dict) -> Relocation:
    """A rerun of the second relocation succeeds, the target is complete and each proof passes."""
    rerun = lab.relocate(SECOND, password=start["password"])
    rerun.assert_succeeded_and_proved(len(SECOND) + len(SERVER_WIDE))
    target = lab.read(TARGET)
    target.check_consistent()
    assert target.thumbprints == start["complete"]
    assert lab.read(SOURCE).members == start["source"].members
    return rerun


# --------------------------------------------------------------------------- 1. success


def test_relocation_over_ssh(lab, first_relocation):
    """Two of six databases move with every server-wide certificate; the target holds exactly that set with the
    source's thumbprints, each proof passes, the source is byte for byte unchanged, a rerun changes nothing. The
    source's SSL connection certificate stays: the target gets its own, for its own name and address."""
    relocation = first_relocation["relocation"]
    source = first_relocation["source_before"]
    expected = travelling(source, FIRST)
    assert len(source.thumbprints) == 11 and ("ssl", None) in source.thumbprints and len(expected) == 6
    relocation.assert_succeeded_and_proved(6)
    # Two changes on the target, the import and its own SSL connection certificate; and the report's write.
    assert recap(relocation.run) == {"localhost": (3, 0, 0)}, relocation.show()
    # Each phase acted on its host over SSH: delegate_to resolved the inventory's address.
    phases = (("Export the certificates that travel", SOURCE), ("Import the certificates on the target", TARGET))
    for task, host in phases:
        assert re.search(r"TASK \[[^\]]*%s.*\n(ok|changed): \[localhost -> %s\(%s\)\]" % (
            re.escape(task), host, re.escape(lab.hosts.hosts[host].address)), relocation.run.stdout), task

    target = first_relocation["target_after"]
    target.check_consistent()
    assert without_ssl(target.thumbprints) == expected
    assert sorted(relocation.result["imported"]) == sorted(expected.values())
    assert {p["thumbprint"] for p in relocation.result["proofs"]} == set(expected.values())
    assert first_relocation["source_after"].members == source.members
    assert target.leftovers() == []

    # The SSL connection certificate did not move: the target got its own, generated there for its own host name
    # and address (all as DNS names, as openssl reads the entry file), none of the source's.
    addresses = {name: lab.hosts.hosts[name].address for name in (SOURCE, TARGET)}
    target_ssl, source_ssl = target.thumbprints[("ssl", None)], source.thumbprints[("ssl", None)]
    assert target_ssl != source_ssl
    assert subject_alt_names(source) == ["DNS:%s" % SOURCE, "DNS:%s" % addresses[SOURCE]]
    assert subject_alt_names(target) == ["DNS:%s" % TARGET, "DNS:%s" % addresses[TARGET]]
    assert relocation.result["ssl"] == {"thumbprint": target_ssl, "origin": "generated",
                                        "names": [TARGET, addresses[TARGET]], "action": "generated"}
    report = Path(relocation.result["report_markdown"]).read_text()
    assert ("| SSL connection certificate | not moved, the target's own: %s (generated by this run, for its names; "
            "names %s, %s) |" % (target_ssl, TARGET, addresses[TARGET])) in report.splitlines(), report
    assert source_ssl not in report and source_ssl not in relocation.output

    rerun = lab.relocate(FIRST, password=first_relocation["password"])
    rerun.assert_succeeded_and_proved(6)
    # No store changed: the one change is the rerun's new report, on the controller.
    assert recap(rerun.run) == {"localhost": (1, 0, 0)} and rerun.result["changed"] is False, rerun.show()
    assert rerun.result["imported"] == []
    assert rerun.result["ssl"] == dict(relocation.result["ssl"], action="kept")
    assert lab.read(TARGET).members == target.members
    assert lab.read(SOURCE).members == source.members


# --------------------------------------------------------------------------- 2. faults


def _host_path(lab: Lab, name: str, path: Path) -> Path:
    """A path inside a host's private mounts, seen from here through its holder process's root."""
    return Path("/proc/%d/root" % lab.hosts.hosts[name].holder_pid) / str(path).lstrip("/")


def test_target_killed_in_the_middle_of_the_import(lab, second_start, record_property):
    """The target dies (every process SIGKILLed, sshd too) while its import module commits: its store is as
    before or complete, never partial; the run fails naming the import; after a revive a rerun converges.

    The trigger: once the import module's AnsiballZ payload dir appears in the target's TMPDIR, its Python process
    is known; once the store's journal.json appears (a commit writes it before any entry file), that process is
    SIGKILLed at once, then the whole host."""
    before = second_start["target"]
    tmp = _host_path(lab, TARGET, lab.hosts.hosts[TARGET].tmp_dir)
    journal = _host_path(lab, TARGET, lab.store_path(TARGET) / "journal.json")
    outcome: dict = {}
    runner = threading.Thread(target=lambda: outcome.update(
        relocation=lab.relocate(SECOND, password=second_start["password"])))
    runner.start()
    killed = []
    try:
        module_pids: list[int] = []
        deadline = time.monotonic() + 240
        while runner.is_alive() and time.monotonic() < deadline:
            if not module_pids:  # wait for the import module to start, and find its processes
                if any(n.startswith("ansible_passwordsecure.server.certificate_import_payload_")
                       for n in os.listdir(tmp)):
                    module_pids = [pid for pid, cmd in lab.hosts.processes(TARGET).items() if "python3" in cmd]
                else:
                    time.sleep(0.005)
            elif journal.exists():  # its commit has begun: the crash
                for pid in module_pids:
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(pid, signal.SIGKILL)
                        killed.append(pid)
                lab.hosts.kill_host(TARGET)
                break
            elif not any(Path("/proc/%d" % pid).exists() for pid in module_pids):
                break  # it ended without a commit: the test cannot do what it says (asserted below)
            else:
                time.sleep(0.0002)
    finally:
        runner.join(300)
    assert killed, "the import module was not seen committing; the kill missed it:\n" + outcome.get(
        "relocation", Relocation(subprocess.CompletedProcess([], 0, "", ""), None)).show()
    relocation = outcome["relocation"]
    assert relocation.run.returncode != 0, relocation.show()
    assert "failed in the phase import: the target %s cannot be reached" % TARGET in relocation.output
    assert "The import is all or nothing" in relocation.output  # what it means, and what to do next
    assert relocation.result["status"] == "failed" and relocation.result["failed_phase"] == "import"

    # All or nothing, as a reader sees it: the index lists the set of before, or the complete one.
    target = lab.read(TARGET)
    target.check_consistent()
    assert target.thumbprints in (before.thumbprints, second_start["complete"]), target.thumbprints
    record_property("store_after_the_kill", "as before" if target.thumbprints == before.thumbprints else "complete")
    record_property("leftovers_after_the_kill", target.leftovers())
    if target.thumbprints == before.thumbprints:
        assert target.contents["index.json"] == before.contents["index.json"]
        # What the killed commit left is invisible to readers, and listed for the next writer to remove: the
        # journal, the entry files it names, temp files.
        journal = json.loads(target.contents.get("journal.json", b'{"written": []}'))
        allowed = {"journal.json"} | {"entries/" + name for name in journal["written"]}
        assert [p for p in target.leftovers() if p not in allowed and not p.rsplit("/", 1)[-1].startswith(
            ".tmp-")] == []
    assert lab.read(SOURCE).members == second_start["source"].members

    lab.hosts.revive(TARGET)
    # The killed module could not remove its AnsiballZ payload dir (Ansible's own code, no arguments in it).
    leftover = lab.tmp_files(TARGET)
    assert all("/ansible_passwordsecure.server.certificate_import_payload_" in p for p in leftover), leftover
    lab.clear_tmp(TARGET)
    rerun = assert_converges(lab, second_start)
    if target.thumbprints == before.thumbprints:  # the rerun wrote, and removed the killed commit's leftovers
        assert rerun.result["imported"] and lab.read(TARGET).leftovers() == []
    else:  # the commit had landed: the rerun finds the certificates and verifies them
        assert rerun.result["imported"] == []


def test_target_store_unwritable(lab, second_start):
    """The target's store is read-only (a read-only bind mount inside the host: root ignores file modes): the run
    fails in the import phase, both stores unchanged; once writable again a rerun converges."""
    store = str(lab.store_path(TARGET))
    lab.hosts.run_in(TARGET, ["mount", "--bind", store, store])
    try:
        lab.hosts.run_in(TARGET, ["mount", "-o", "remount,bind,ro", store])
        probe = lab.hosts.ssh(TARGET, "touch %s/probe" % store, check=False)
        assert probe.returncode != 0 and "Read-only file system" in probe.stderr, probe
        relocation = lab.relocate(SECOND, password=second_start["password"])
    finally:
        lab.hosts.run_in(TARGET, ["umount", store])
    assert relocation.run.returncode != 0, relocation.show()
    assert re.search(r"failed in the phase import: cannot write the certificate store at %s: Read-only file system"
                     % re.escape(store), relocation.output), relocation.show()
    assert "or choose another store_path. The import is all or nothing" in relocation.output
    assert relocation.result["failed_phase"] == "import" and relocation.result["imported"] == []
    assert lab.read(TARGET).members == second_start["target"].members
    assert lab.read(SOURCE).members == second_start["source"].members
    assert_converges(lab, second_start)


def test_source_disappears_after_the_export(lab, second_start):
    """The source goes off the network right after the export (from a data restore hook on the target, which waits
    until it is gone). Promised: the role needs the source only up to the export (the challenges are made in the
    preflight, the verification needs the target alone), so the run completes, verified; had it failed, the
    target would be as before. Reconnected, a rerun converges and changes nothing."""
    marker, ack = lab.work / "exported", lab.work / "source-gone"
    for path in (marker, ack):
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
    hook = ['/bin/sh', '-c', ': > "$1"; i=0; while [ ! -e "$2" ]; do i=$((i+1)); [ $i -le 1200 ] || exit 3; '
            'sleep 0.05; done', 'hook', str(marker), str(ack)]
    outcome: dict = {}
    runner = threading.Thread(target=lambda: outcome.update(relocation=lab.relocate(
        SECOND, password=second_start["password"], extra={"database_relocation_data_restore_command": hook})))
    runner.start()
    try:
        deadline = time.monotonic() + 240
        while runner.is_alive() and not marker.exists() and time.monotonic() < deadline:
            time.sleep(0.02)
        assert marker.exists(), "the data hook did not run"
        lab.hosts.disconnect(SOURCE)
        fresh = ("-o", "ControlPath=none", "-o", "ConnectTimeout=1")
        gone = lab.hosts.ssh(SOURCE, "true", check=False, options=fresh)
        assert gone.returncode == 255, gone
        ack.touch()
        runner.join(300)
        relocation = outcome["relocation"]
        assert relocation.run.returncode == 0, relocation.show()
    finally:
        ack.touch()
        runner.join(300)
        lab.hosts.reconnect(SOURCE)
    relocation.assert_succeeded_and_proved(len(SECOND) + len(SERVER_WIDE))
    assert sorted(relocation.result["imported"]) == sorted(travelling(second_start["source"], SECOND)[
        ("database", name)] for name in SECOND)
    target = lab.read(TARGET)
    target.check_consistent()
    assert target.thumbprints == second_start["complete"]
    assert lab.read(SOURCE).members == second_start["source"].members
    rerun = assert_converges(lab, second_start)
    assert recap(rerun.run) == {"localhost": (1, 0, 0)} and rerun.result["changed"] is False, rerun.show()


# --------------------------------------------------------------------------- 3. secret hygiene


def _needles(views: dict[str, StoreView], passwords: dict[str, str]) -> tuple[dict[str, bytes], list[bytes]]:
    """Everything secret, as bytes, each with a name for the message (the name never shows the secret); and
    controls: texts that leak a key the ways a scan must notice, each of which must be found."""
    controls = [json.dumps({"password": value}).encode() for value in passwords.values()]
    found = {"'%s'" % name: value.encode() for name, value in passwords.items()}
    found["'PRIVATE KEY'"] = b"PRIVATE KEY"
    for host, view in views.items():
        protection = view.index["key_protection"]
        password = passwords["%s store password" % host]
        # The keys' PKCS#8 passphrase, derived from the store password (docs/store-format.md).
        passphrase = hashlib.pbkdf2_hmac("sha256", password.encode(), base64.b64decode(protection["salt"]),
                                         protection["iterations"], 32).hex()
        found["the %s key passphrase" % host] = passphrase.encode()
        for number, key in enumerate(view.private_keys()):
            name = "%s key %d" % (host, number)
            assert b"ENCRYPTED PRIVATE KEY" in key  # the store has a password: its keys are encrypted
            for line, text in enumerate(key.splitlines()[1:4]):  # the encrypted PEM body, line by line
                found["%s, encrypted PEM line %d" % (name, line)] = text
            ders = {}  # the key decrypted, as PKCS#8 and as PKCS#1 DER
            for form, extra in (("PKCS#8", []), ("PKCS#1", ["-traditional"])):
                ders[form] = subprocess.run(
                    ["openssl", "pkey", "-passin", "env:PSR_KEY_PASSPHRASE", "-outform", "DER", *extra],
                    input=key, capture_output=True, check=True, env=dict(os.environ, PSR_KEY_PASSPHRASE=passphrase),
                ).stdout
                if number == 0:  # the key as PEM with its label taken off, JSON-escaped, hex-dumped, raw
                    pem = base64.encodebytes(ders[form])
                    controls += [pem, json.dumps(pem.decode()).encode(), ders[form].hex().upper().encode(),
                                 b"\x00" + ders[form]]
            if number == 0:
                controls.append(json.dumps(key.decode().replace("ENCRYPTED PRIVATE KEY", "KEY")).encode())
            for form, der in ders.items():  # slices of the private part (past the modulus the certificate shows)
                b64 = base64.b64encode(der)
                assert len(der) > 1000, (name, form)
                found["%s, %s DER" % (name, form)] = der[400:448]  # raw, in a binary file
                for offset in (0, 640, 1200):  # base64 of the DER, as the PEM lines of an unencrypted key hold it
                    found["%s, base64 of its %s DER at %d" % (name, form, offset)] = b64[offset:offset + 64]
                found["%s, hex of its %s DER" % (name, form)] = der[600:648].hex().encode()
    controls.append(base64.b64encode(os.urandom(1200)))  # a PKCS#12 file's base64 cannot be known: its length
    return found, controls


def _scan(name: str, data: bytes, needles: dict[str, bytes]) -> list[str]:
    hits = []
    # Base64 and hex broken into lines, as PEM, MIME or a JSON string ("\\n") would break them; hex in any case.
    joined = re.sub(rb"\\[nr]|\s", b"", data)
    lowered = joined.lower()
    for what, needle in needles.items():
        if needle in data or needle in joined or (re.fullmatch(rb"[0-9a-f]+", needle) and needle in lowered):
            hits.append("%s in %s" % (what, name))
    if re.search(rb"[A-Za-z0-9+/]{1500,}", data):  # a PKCS#12 file, base64-encoded
        hits.append("a base64 run of 1500 or more characters in %s" % name)
    return hits


def test_no_secret_in_output_or_files(lab, ssh_hosts):
    """A relocation and a backup, both with -vvv between stores whose keys are encrypted: no password, no key
    passphrase and no private key material (PEM, DER, base64 and hex of it, encrypted PEM, a PKCS#12 file's base64)
    in their output or in any file the runs leave on the controller; nothing left in the hosts' tmp dirs."""
    passwords = {"transfer password": "transfer-" + secrets.token_urlsafe(18),
                 "%s store password" % SOURCE: "source-store-" + secrets.token_urlsafe(18),
                 "%s store password" % TARGET: "target-store-" + secrets.token_urlsafe(18),
                 "backup password": "backup-" + secrets.token_urlsafe(18)}
    for name in (SOURCE, TARGET):
        lab.restore(name, None)
        lab.clear_tmp(name)
    lab.ensure_set(secret_vars={"certificates_store_password": passwords["%s store password" % SOURCE]})
    relocation = lab.relocate(FIRST, "-vvv", password=passwords["transfer password"], secret_vars={
        "database_relocation_source_store_password": passwords["%s store password" % SOURCE],
        "database_relocation_target_store_password": passwords["%s store password" % TARGET]})
    relocation.assert_succeeded_and_proved(6)
    backups = lab.work / "backups"
    backup = lab.playbook("passwordsecure.server.backup_certificates", "-vvv", "-e",
                          "passwordsecure_hosts=%s" % SOURCE, extra={"certificate_backup_dir": str(backups)},
                          secret_vars={"certificate_backup_password": passwords["backup password"],
                                       "certificate_backup_store_password": passwords["%s store password" % SOURCE]})
    assert backup.returncode == 0, backup.stdout[-4000:] + backup.stderr[-2000:]
    backup_files = sorted(p.name for p in backups.rglob("*") if p.is_file())
    assert backup_files == ["certificates.pfx", "manifest.json", "server_encryption.pfx"], backup_files
    # Both ran over SSH with pipelining: no module file was copied to an SSH host (only localhost's own tasks are).
    for run, names in ((relocation.run, (SOURCE, TARGET)), (backup, (SOURCE,))):
        for host in (ssh_hosts.hosts[name] for name in names):
            assert "<%s> ESTABLISH SSH CONNECTION FOR USER: root" % host.address in run.stdout
            assert "<%s> PUT " % host.address not in run.stdout

    views = {name: lab.read(name) for name in (SOURCE, TARGET)}
    # And the target's own SSL connection certificate, its key encrypted with the target's store password (below).
    assert without_ssl(views[TARGET].thumbprints) == travelling(views[SOURCE], FIRST)
    assert ("ssl", None) in views[TARGET].thumbprints and relocation.result["ssl"]["action"] == "generated"
    needles, controls = _needles(views, passwords)
    assert len(needles) > 100
    # The scan finds what it looks for: each control text leaks one secret in one way.
    assert all(_scan("a control", control, needles) for control in controls)
    hits = []
    for label, run in (("the relocation's output", relocation.run), ("the backup's output", backup)):
        hits += _scan(label, (run.stdout + run.stderr).encode(), needles)
        # Ansible's masks of a no_log value that a result or message echoed (not the banners' padding).
        text = re.sub(r"(?m)^(?:PLAY|TASK|RUNNING HANDLER)\b.*\*+$", "", run.stdout + run.stderr)
        masked = re.search(r"(?<!\*)\*{8}(?!\*)|VALUE_SPECIFIED_IN_NO_LOG_PARAMETER", text)
        assert not masked, "%s: %s" % (label, text[masked.start() - 300:masked.end() + 300])
        # Ansible's temp dirs on the controller are the ones the harness's ansible.cfg puts in its directory (scanned
        # below), not ~/.ansible/tmp (other runs on this machine use that one). The backup runs modules on the
        # controller (file, copy), which shows that dir; the relocation runs none there (every task is pipelined,
        # and its report is an action plugin), so no local temp dir shows at all.
        assert str(Path.home() / ".ansible") not in run.stdout, label
        if run is backup:
            assert str(ssh_hosts.dir / "ansible-local-tmp") in run.stdout, label
        else:
            assert "ansible-local-tmp" not in run.stdout and "PUT " not in run.stdout, label
    own_keys = {ssh_hosts.client_key} | {h.dir / "ssh_host_ed25519_key" for h in ssh_hosts.hosts.values()}
    files = [p for p in ssh_hosts.dir.rglob("*") if p not in own_keys]
    scanned = 0
    for path in files:
        if path.is_file() and not path.is_symlink():
            hits += _scan(str(path), path.read_bytes(), needles)
            scanned += 1
    assert not hits, "\n".join(hits)
    assert scanned > 10 and any(p.suffix == ".pfx" for p in files) and list((lab.work / "reports").iterdir())
    for name in (SOURCE, TARGET):
        assert lab.tmp_files(name) == [], name
