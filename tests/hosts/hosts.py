# Copyright (c) passwordsecure.server contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Real SSH hosts on this machine: one network namespace and one sshd per host (needs root).

Follows "Real hosts on one machine" in ../shared/reference/tooling.md. ``start`` makes one bridge with a
private /24 (10.213.X.0/24, the first free X from 64 unless a subnet is given; no default route anywhere,
so nothing leaves the machine) and per host:

- a network namespace with a veth on the bridge, an address, loopback up;
- a small holder process started as ``ip netns exec NS unshare --uts --mount --propagation private sh -c
  'hostname H && mount -t tmpfs ... && mount --bind HOSTS /etc/hosts && mount --bind RESOLV /etc/resolv.conf
  && exec sleep infinity'``: it owns the host's host name and mount view, so its private tmpfs (the host's
  store and tmp dir) outlives an sshd that a fault test kills;
- Debian's /usr/sbin/sshd with its own config, host key, pid file and log, joined to the holder's namespaces
  with nsenter.

It writes into the run's directory: the client key, known_hosts (from ssh-keyscan), an ssh_config for
``ssh -F``, inventory.ini (group ``ssh_hosts``: ansible_host, ansible_user=root,
ansible_python_interpreter=/usr/bin/python3, passwordsecure_store_path inside the host's private tmpfs) and
ansible.cfg (pipelining, private control_path_dir, host key checking, ANSIBLE_HOME and local tmp in the dir).

Every name carries the prefix ``psrh`` and a random run id, and a registry entry in /run/psr-hosts records
who owns the run (a process, or the directory for runs started from the command line). ``stop`` closes the
ControlPersist sockets, kills the processes in the run's namespaces (``ip netns pids``), deletes veths,
namespaces and bridge; it is idempotent, and it and ``start`` also remove what runs whose owner is gone left
behind.

As a module: ``run = start(directory, ["psr-src", "psr-dst"])`` ... ``run.stop()``; see ``Hosts``.
As a command: ``python tests/hosts/hosts.py start --dir D --hosts psr-src,psr-dst`` / ``stop --dir D``;
``--help`` lists the others (status, exec, kill, revive, freeze, thaw, disconnect, reconnect, cleanup).
Standard library only.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import fcntl
import ipaddress
import json
import os
import re
import secrets
import select
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

PREFIX = "psrh"
REGISTRY = Path("/run/psr-hosts")
LOCK = REGISTRY / ".lock"
SSHD = "/usr/sbin/sshd"
MANAGED_PYTHON = "/usr/bin/python3"
GROUP = "ssh_hosts"
SUBNET_BASE = "10.213"
TOOLS = ("ip", "unshare", "nsenter", "ssh", "ssh-keygen", "ssh-keyscan", "mount")
# The ANSIBLE_* variables that Hosts.env() passes through; every other one would override ansible.cfg.
ANSIBLE_ENV_KEPT = ("ANSIBLE_COLLECTIONS_PATH", "ANSIBLE_COLLECTIONS_PATHS", "ANSIBLE_NOCOLOR",
                    "ANSIBLE_FORCE_COLOR", "ANSIBLE_STDOUT_CALLBACK", "ANSIBLE_CALLBACKS_ENABLED",
                    "ANSIBLE_LOAD_CALLBACK_PLUGINS")
_NAME = re.compile(r"^[a-z][a-z0-9-]{0,30}[a-z0-9]$")
_NETNS = re.compile(r"^%s-([0-9a-f]{6})-" % PREFIX)
_LINK = re.compile(r"^%s([0-9a-f]{6})(?:br|v\d+)$" % PREFIX)
# Popen objects of the processes this Python process started, so that they are reaped once killed.
_CHILDREN: dict[int, subprocess.Popen] = {}


class HostsError(RuntimeError):
    """Something this machine or a run's state does not allow; the message says what and what to do."""


@dataclasses.dataclass
class Host:
    name: str
    address: str
    netns: str
    veth: str  # the bridge side of the host's veth pair (the host side is eth0 in its namespace)
    dir: Path  # D/hosts/NAME on the shared file system: config, keys, logs
    private_dir: Path  # the host's private tmpfs mount point (an empty directory seen from outside the host)
    store_path: Path  # private_dir/store: passwordsecure_store_path in the inventory
    tmp_dir: Path  # private_dir/tmp: ansible_remote_tmp in the inventory
    sshd_config: Path
    sshd_log: Path
    holder_pid: int = 0
    sshd_pid: int = 0


def unusable_reason() -> str | None:
    """Why hosts cannot be started on this machine, or None when they can."""
    if sys.platform != "linux":
        return "real SSH hosts need Linux network namespaces"
    if os.geteuid() != 0:
        return "real SSH hosts need root (network namespaces, mounts, sshd)"
    if not os.access(SSHD, os.X_OK):
        return "%s is missing: apt-get install openssh-server" % SSHD
    missing = [tool for tool in TOOLS if not shutil.which(tool)]
    if missing:
        return "missing tools: %s (Debian packages iproute2, util-linux, openssh-client)" % ", ".join(missing)
    if not os.access(MANAGED_PYTHON, os.X_OK):
        return "%s (the managed hosts' Python) is missing" % MANAGED_PYTHON
    return None


# --- small process helpers -------------------------------------------------------------------------------

def _run(argv: list[str], check: bool = True, timeout: float = 30, **kwargs) -> subprocess.CompletedProcess:
    kwargs.setdefault("stdout", subprocess.PIPE)
    kwargs.setdefault("stderr", subprocess.PIPE)
    result = subprocess.run(argv, check=False, timeout=timeout, text=True, **kwargs)
    if check and result.returncode != 0:
        raise HostsError("%s failed (exit %d): %s" % (
            " ".join(shlex.quote(a) for a in argv), result.returncode, (result.stderr or "").strip()))
    return result


def _stat(pid: int) -> tuple[str, int, int] | None:
    """(state, ppid, start time) of a process, or None when it is gone."""
    try:
        text = Path("/proc/%d/stat" % pid).read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2:].split()
    return fields[0], int(fields[1]), int(fields[19])


def _alive(pid: int) -> bool:
    stat = _stat(pid)
    return stat is not None and stat[0] not in ("Z", "X")


def _start_time(pid: int) -> int | None:
    stat = _stat(pid)
    return None if stat is None or stat[0] in ("Z", "X") else stat[2]


def _reap() -> None:
    for pid, process in list(_CHILDREN.items()):
        if process.poll() is not None:
            del _CHILDREN[pid]


def _signal(pids: list[int], sig: int) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)


def netns_pids(netns: str) -> list[int]:
    """The processes in a network namespace (``ip netns pids``); [] when the namespace is gone."""
    if not Path("/run/netns", netns).exists():
        return []
    result = _run(["ip", "netns", "pids", netns], check=False)
    return [int(p) for p in result.stdout.split()] if result.returncode == 0 else []


def _kill_leaves_first(list_pids, keep: frozenset[int] = frozenset(), timeout: float = 10) -> None:
    """SIGKILL the processes ``list_pids()`` returns (except ``keep``), children before their parents, so that
    each is reaped by its own parent (sshd, sh) rather than orphaned."""
    deadline = time.monotonic() + timeout
    while True:
        _reap()
        live = {}
        for pid in list_pids():
            stat = _stat(pid)
            if pid not in keep and stat is not None and stat[0] not in ("Z", "X"):
                live[pid] = stat[1]
        if not live:
            return
        _signal(list(live), signal.SIGCONT)  # a frozen parent cannot reap
        parents = set(live.values())
        victims = [pid for pid in live if pid not in parents]
        if time.monotonic() > deadline:
            victims = list(live)
        _signal(victims, signal.SIGKILL)
        until = time.monotonic() + 1
        while time.monotonic() < until and any(_alive(pid) for pid in victims):
            time.sleep(0.01)
        _reap()
        if time.monotonic() > deadline + 5:
            raise HostsError("processes %s do not die" % sorted(live))


# --- naming, registry, locking ---------------------------------------------------------------------------

@contextlib.contextmanager
def _locked():
    REGISTRY.mkdir(mode=0o700, exist_ok=True)
    with open(LOCK, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _registry_file(run_id: str) -> Path:
    return REGISTRY / ("%s.json" % run_id)


def _run_is_live(run_id: str) -> bool:
    try:
        entry = json.loads(_registry_file(run_id).read_text())
    except (OSError, ValueError):
        return False
    owner = entry.get("owner")
    if owner:
        return _start_time(owner["pid"]) == owner["start_time"]
    try:  # started from the command line: live while its directory holds its state
        state = json.loads((Path(entry["dir"]) / "state.json").read_text())
    except (OSError, ValueError, KeyError):
        return False
    return state.get("run_id") == run_id and not state.get("stopped")


def _known_run_ids() -> set[str]:
    ids = set()
    with contextlib.suppress(OSError):
        for entry in Path("/run/netns").iterdir():
            match = _NETNS.match(entry.name)
            if match:
                ids.add(match.group(1))
    for link in _links():
        match = _LINK.match(link)
        if match:
            ids.add(match.group(1))
    with contextlib.suppress(OSError):
        ids.update(p.stem for p in REGISTRY.glob("*.json"))
    return ids


def _links() -> list[str]:
    result = _run(["ip", "-o", "link", "show"], check=False)
    names = []
    for line in result.stdout.splitlines():
        parts = line.split(":", 2)
        if len(parts) > 1:
            names.append(parts[1].strip().split("@")[0])
    return names


def _teardown_names(run_id: str, directory: Path | None) -> None:
    """Remove everything named for run ``run_id``: control sockets, processes, veths, namespaces, bridge."""
    if directory is not None:
        _close_control_sockets(directory)
    namespaces = []
    with contextlib.suppress(OSError):
        namespaces = sorted(e.name for e in Path("/run/netns").iterdir() if e.name.startswith(
            "%s-%s-" % (PREFIX, run_id)))
    _kill_leaves_first(lambda: [pid for ns in namespaces for pid in netns_pids(ns)])
    links = [name for name in _links() if _LINK.match(name) and name[len(PREFIX):len(PREFIX) + 6] == run_id]
    for link in sorted(links, key=lambda name: name.endswith("br")):  # veths first, the bridge last
        _run(["ip", "link", "del", link], check=False)
    for ns in namespaces:
        _run(["ip", "netns", "del", ns], check=False)
    with contextlib.suppress(FileNotFoundError):
        _registry_file(run_id).unlink()


def _close_control_sockets(directory: Path) -> None:
    """``ssh -O exit`` on every ControlPersist socket Ansible (or ``ssh -F``) left in the run's ``cp`` folder;
    then SIGTERM any ssh client still running whose command line names the run's directory."""
    control_dir = directory / "cp"
    if not control_dir.is_dir():
        return
    for sock in control_dir.iterdir():
        if sock.is_socket():
            with contextlib.suppress(subprocess.TimeoutExpired):
                _run(["ssh", "-F", "/dev/null", "-o", "ControlPath=%s" % sock, "-O", "exit", "psrh-control"],
                     check=False, timeout=5)
    marker = str(directory) + "/"
    masters = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            with contextlib.suppress(OSError):
                argv = (proc / "cmdline").read_bytes().split(b"\0")
                if argv and os.path.basename(argv[0].decode(errors="replace")) == "ssh" and any(
                        marker.encode() in arg for arg in argv):
                    masters.append(int(proc.name))
    _signal(masters, signal.SIGTERM)
    for sock in control_dir.iterdir():
        if sock.is_socket():
            with contextlib.suppress(OSError):
                sock.unlink()


def cleanup_stale() -> list[str]:
    """Remove what runs whose owner is gone (a killed test, a deleted directory) left behind: processes,
    namespaces, links and registry entries named with the prefix. Returns their run ids."""
    removed = []
    with _locked():
        for run_id in sorted(_known_run_ids()):
            if _run_is_live(run_id):
                continue
            directory = None
            with contextlib.suppress(OSError, ValueError, KeyError):
                directory = Path(json.loads(_registry_file(run_id).read_text())["dir"])
            _teardown_names(run_id, directory)
            removed.append(run_id)
    return removed


# --- the subnet --------------------------------------------------------------------------------------------

def _networks_in_use() -> list[tuple[ipaddress.IPv4Network, str]]:
    used = []
    for line in _run(["ip", "-o", "-4", "addr", "show"]).stdout.splitlines():
        parts = line.split()
        if "inet" in parts:
            used.append((ipaddress.ip_interface(parts[parts.index("inet") + 1]).network, "address on %s" % parts[1]))
    for line in _run(["ip", "-4", "route", "show", "table", "all"]).stdout.splitlines():
        target = line.split()[0] if line.split() else ""
        if target in ("default", "broadcast", "local", "unreachable", "blackhole", "prohibit", "throw"):
            target = line.split()[1] if target != "default" and len(line.split()) > 1 else ""
        with contextlib.suppress(ValueError):
            if target:
                used.append((ipaddress.ip_network(target, strict=False), "route %s" % line.strip()))
    return used


def _pick_subnet(wanted: str | None) -> ipaddress.IPv4Network:
    used = _networks_in_use()

    def clash(net: ipaddress.IPv4Network) -> str | None:
        for other, what in used:
            if net.overlaps(other) and other.prefixlen > 0:
                return what
        return None

    if wanted:
        try:
            net = ipaddress.ip_network(wanted)
        except ValueError as exc:
            raise HostsError("subnet %r is not a network (%s); give one like 10.213.7.0/24" % (wanted, exc)) from None
        if net.version != 4 or net.prefixlen != 24 or not net.is_private:
            raise HostsError("subnet %s must be a private IPv4 /24, like 10.213.7.0/24" % net)
        what = clash(net)
        if what:
            raise HostsError("subnet %s is already in use on this machine (%s); choose another with --subnet" % (
                net, what))
        return net
    for third in list(range(64, 256)) + list(range(0, 64)):
        net = ipaddress.ip_network("%s.%d.0/24" % (SUBNET_BASE, third))
        if not clash(net):
            return net
    raise HostsError("every %s.X.0/24 is in use on this machine; give a free private /24 with --subnet" % SUBNET_BASE)


# --- the run -----------------------------------------------------------------------------------------------

@dataclasses.dataclass
class Hosts:
    """A running set of SSH hosts. Attributes are paths in the run's directory and the hosts by name."""

    dir: Path
    run_id: str
    bridge: str
    subnet: str
    gateway: str
    hosts: dict[str, Host]
    client_key: Path
    known_hosts: Path
    ssh_config: Path
    inventory: Path
    ansible_cfg: Path
    persistent: bool = False

    @property
    def names(self) -> list[str]:
        return list(self.hosts)

    @property
    def store_paths(self) -> dict[str, Path]:
        return {name: host.store_path for name, host in self.hosts.items()}

    def host(self, name: str) -> Host:
        try:
            return self.hosts[name]
        except KeyError:
            raise HostsError("no host %r in this run (hosts: %s)" % (name, ", ".join(self.hosts))) from None

    # -- using the hosts

    def env(self, base: dict | None = None, **extra: str) -> dict:
        """An environment for ansible/ansible-playbook/ansible-inventory: ANSIBLE_CONFIG is this run's
        ansible.cfg and every other ANSIBLE_* variable is dropped (it would override the file), except
        ANSIBLE_COLLECTIONS_PATH and the output settings. ``extra`` is added last."""
        env = {k: v for k, v in (os.environ if base is None else base).items()
               if not k.startswith("ANSIBLE_") or k in ANSIBLE_ENV_KEPT}
        env["ANSIBLE_CONFIG"] = str(self.ansible_cfg)
        env.update(extra)
        return env

    def ssh(self, name: str, command: str, check: bool = True, timeout: float = 60, input: str | None = None,
            options: tuple[str, ...] = ()) -> subprocess.CompletedProcess:
        """Run a shell command on a host over real SSH (``ssh -F ssh_config OPTIONS NAME COMMAND``); for
        example ``options=("-o", "ControlPath=none", "-o", "ConnectTimeout=1")`` for a fresh connection."""
        self.host(name)
        return _run(["ssh", "-F", str(self.ssh_config), *options, name, command], check=check, timeout=timeout,
                    input=input)

    def run_in(self, name: str, argv: list[str], check: bool = True, timeout: float = 60,
               input: str | None = None) -> subprocess.CompletedProcess:
        """Run a command inside a host's network, mount and UTS namespaces (nsenter, no SSH): it sees the
        host's private tmpfs, its /etc/hosts and its host name. For a test's own reading and tampering, for
        example ``run_in("psr-dst", ["chmod", "0500", str(store)])``."""
        host = self.host(name)
        self._check_holder(host)
        return _run(["nsenter", "--target", str(host.holder_pid), "--net", "--mount", "--uts", "--"] + list(argv),
                    check=check, timeout=timeout, input=input, cwd="/")

    def processes(self, name: str) -> dict[int, str]:
        """The processes on a host (sshd, sessions, modules; not the holder): {pid: command line}."""
        host = self.host(name)
        found = {}
        for pid in netns_pids(host.netns):
            if pid == host.holder_pid:
                continue
            with contextlib.suppress(OSError):
                found[pid] = Path("/proc/%d/cmdline" % pid).read_bytes().replace(b"\0", b" ").decode(
                    errors="replace").strip()
        return found

    # -- faults

    def kill_host(self, name: str) -> None:
        """Kill a host's sshd and every session and module process on it (SIGKILL), as a crash would. The
        host's private tmpfs (its store) survives; ``revive`` starts sshd again."""
        host = self.host(name)
        _kill_leaves_first(lambda: netns_pids(host.netns), keep=frozenset([host.holder_pid]))
        host.sshd_pid = 0
        self._save()

    def revive(self, name: str, timeout: float = 10) -> None:
        """Start sshd again on a killed host (same host key, same store)."""
        host = self.host(name)
        if host.sshd_pid and _alive(host.sshd_pid):
            return
        self._check_holder(host)
        _start_sshd(host, timeout)
        self._save()

    def freeze(self, name: str) -> None:
        """SIGSTOP every process on a host: connections hang as on a hung machine. ``thaw`` resumes them."""
        host = self.host(name)
        _signal([p for p in netns_pids(host.netns) if p != host.holder_pid], signal.SIGSTOP)

    def thaw(self, name: str) -> None:
        host = self.host(name)
        _signal(netns_pids(host.netns), signal.SIGCONT)

    def disconnect(self, name: str) -> None:
        """Take a host off the network (its veth down): it disappears, packets to it are lost, its processes
        and store stay. ``reconnect`` brings it back."""
        _run(["ip", "link", "set", "dev", self.host(name).veth, "down"])

    def reconnect(self, name: str) -> None:
        _run(["ip", "link", "set", "dev", self.host(name).veth, "up"])

    # -- stopping

    def stop(self) -> None:
        """Tear the run down (idempotent): close control sockets, kill every process in its namespaces, delete
        veths, namespaces and bridge, and whatever stale runs left behind."""
        with _locked():
            _teardown_names(self.run_id, self.dir)
        for host in self.hosts.values():
            host.holder_pid = host.sshd_pid = 0
        with contextlib.suppress(OSError):
            self._save(stopped=True)
        cleanup_stale()

    def __enter__(self) -> Hosts:
        return self

    def __exit__(self, *exc_info) -> None:
        self.stop()

    # -- state

    def _check_holder(self, host: Host) -> None:
        if not host.holder_pid or not _alive(host.holder_pid):
            raise HostsError("host %s is not running (run %s stopped?)" % (host.name, self.run_id))

    def _save(self, stopped: bool = False) -> None:
        state = dataclasses.asdict(self)
        state["stopped"] = stopped
        path = self.dir / "state.json"
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(state, indent=2, default=str) + "\n")
        tmp.replace(path)


def load(directory: str | os.PathLike) -> Hosts:
    """The run whose state is in ``directory`` (as ``start`` wrote it)."""
    directory = Path(directory).resolve()
    try:
        state = json.loads((directory / "state.json").read_text())
    except FileNotFoundError:
        raise HostsError("%s holds no hosts run (no state.json); start one with: hosts.py start --dir %s" % (
            directory, directory)) from None
    state.pop("stopped", None)
    paths = ("dir", "private_dir", "store_path", "tmp_dir", "sshd_config", "sshd_log")
    hosts = {name: Host(**{k: Path(v) if k in paths else v for k, v in h.items()})
             for name, h in state.pop("hosts").items()}
    for key in ("dir", "client_key", "known_hosts", "ssh_config", "inventory", "ansible_cfg"):
        state[key] = Path(state[key])
    return Hosts(hosts=hosts, **state)


def stop(directory: str | os.PathLike) -> None:
    """Stop the run in ``directory`` if there is one (idempotent), and clean up stale runs."""
    directory = Path(directory).resolve()
    if (directory / "state.json").exists():
        load(directory).stop()
    else:
        cleanup_stale()


def start(directory: str | os.PathLike, names: list[str], subnet: str | None = None,
          persistent: bool = False, timeout: float = 10) -> Hosts:
    """Start one SSH host per name; files go into ``directory`` (created; must be empty of a previous run).

    The run belongs to the calling process: once that process is gone, any later ``start``/``stop``/``cleanup``
    removes it. With ``persistent`` (the command line), it lives until ``stop`` or until its directory is gone.
    On any error everything started so far is torn down before the exception propagates.
    """
    reason = unusable_reason()
    if reason:
        raise HostsError(reason)
    names = list(names)
    if not names or len(set(names)) != len(names):
        raise HostsError("give one or more distinct host names (got %s)" % names)
    bad = [n for n in names if not _NAME.match(n)]
    if bad:
        raise HostsError("host names must be 2-32 characters of a-z, 0-9 and '-': %s" % ", ".join(bad))
    if len(names) > 200:
        raise HostsError("at most 200 hosts per run")
    directory = Path(directory).resolve()
    if re.search(r"[\s'\"\\#;=]", str(directory)):
        raise HostsError("the run directory %s must not contain white space, quotes, '#', ';' or '='" % directory)
    if len(str(directory)) > 60:
        # ssh's ControlPath is a Unix socket (at most 107 bytes): DIR/cp/ plus Ansible's 10-character hash.
        raise HostsError("the run directory %s is longer than 60 characters; use a shorter one" % directory)
    directory.mkdir(parents=True, exist_ok=True)
    if (directory / "state.json").exists() and _run_is_live(load(directory).run_id):
        raise HostsError("%s already holds a running set of hosts; stop it first: hosts.py stop --dir %s" % (
            directory, directory))
    Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)  # sshd's privilege separation directory
    cleanup_stale()

    with _locked():
        run_id = secrets.token_hex(3)
        while run_id in _known_run_ids():
            run_id = secrets.token_hex(3)
        net = _pick_subnet(subnet)
        owner = None if persistent else {"pid": os.getpid(), "start_time": _start_time(os.getpid())}
        # Registry entry and state first, under the lock: another process's cleanup_stale() sees a live run.
        _registry_file(run_id).write_text(json.dumps({"run_id": run_id, "dir": str(directory), "owner": owner}))
        addresses = list(net.hosts())
        run = Hosts(
            dir=directory, run_id=run_id, bridge="%s%sbr" % (PREFIX, run_id), subnet=str(net),
            gateway=str(addresses[0]), hosts={}, client_key=directory / "id_ed25519",
            known_hosts=directory / "known_hosts", ssh_config=directory / "ssh_config",
            inventory=directory / "inventory.ini", ansible_cfg=directory / "ansible.cfg", persistent=persistent)
        for index, name in enumerate(names):
            host_dir = directory / "hosts" / name
            private = host_dir / "private"
            run.hosts[name] = Host(
                name=name, address=str(addresses[index + 1]), netns="%s-%s-%s" % (PREFIX, run_id, name),
                veth="%s%sv%d" % (PREFIX, run_id, index), dir=host_dir, private_dir=private,
                store_path=private / "store", tmp_dir=private / "tmp", sshd_config=host_dir / "sshd_config",
                sshd_log=host_dir / "sshd.log")
        try:
            run._save()
            _run(["ip", "link", "add", run.bridge, "type", "bridge"])
            _run(["ip", "addr", "add", "%s/%d" % (run.gateway, net.prefixlen), "dev", run.bridge])
            _run(["ip", "link", "set", "dev", run.bridge, "up"])
        except BaseException:
            _teardown_names(run_id, None)
            raise
    try:
        _write_client_files(run)
        for host in run.hosts.values():
            _make_host(run, host, timeout)
            run._save()
        _scan_host_keys(run)
        _write_ansible_files(run)
        run._save()
    except BaseException:
        run.stop()
        raise
    return run


def _make_host(run: Hosts, host: Host, timeout: float) -> None:
    prefixlen = ipaddress.ip_network(run.subnet).prefixlen
    _run(["ip", "netns", "add", host.netns])
    _run(["ip", "link", "add", host.veth, "type", "veth", "peer", "name", "eth0", "netns", host.netns])
    _run(["ip", "link", "set", "dev", host.veth, "master", run.bridge, "up"])
    _run(["ip", "-n", host.netns, "addr", "add", "%s/%d" % (host.address, prefixlen), "dev", "eth0"])
    _run(["ip", "-n", host.netns, "link", "set", "dev", "eth0", "up"])
    _run(["ip", "-n", host.netns, "link", "set", "dev", "lo", "up"])

    host.dir.mkdir(parents=True, exist_ok=True)
    host.private_dir.mkdir(mode=0o755, exist_ok=True)
    if any(host.private_dir.iterdir()):
        raise HostsError("%s is not empty; give start a fresh directory" % host.private_dir)
    etc_hosts = host.dir / "etc-hosts"
    etc_hosts.write_text("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n" + "".join(
        "%s\t%s\n" % (other.address, other.name) for other in run.hosts.values()
        if other.address) + "%s\tcontroller\n" % run.gateway)
    # No name server is reachable (no default route): fail fast instead of waiting ~10 s per lookup.
    resolv = host.dir / "resolv.conf"
    resolv.write_text("nameserver 127.0.0.1\noptions timeout:1 attempts:1\n")
    etc_hostname = host.dir / "etc-hostname"
    etc_hostname.write_text(host.name + "\n")
    key = host.dir / "ssh_host_ed25519_key"
    _unlink(key, key.with_suffix(".pub"))
    _run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "%s host key" % host.name, "-f", str(key)])
    host.sshd_config.write_text("\n".join([
        "# sshd of host %s (run %s), written by tests/hosts/hosts.py" % (host.name, run.run_id),
        "ListenAddress %s:22" % host.address,
        "HostKey %s" % key,
        "PidFile %s" % (host.dir / "sshd.pid"),
        "AuthorizedKeysFile %s" % (run.dir / "authorized_keys"),
        "PermitRootLogin prohibit-password",
        "PubkeyAuthentication yes",
        "PasswordAuthentication no",
        "KbdInteractiveAuthentication no",
        "UsePAM no",
        "StrictModes no",
        "UseDNS no",
        "PrintMotd no",
        "PrintLastLog no",
        "MaxSessions 100",
        "MaxStartups 100:30:200",
        "AcceptEnv LANG LC_*",
        # Temp files of every session (AnsiballZ payloads, ansible.builtin.tempfile) in the host's private tmp dir,
        # as on a machine of its own, not in the /tmp that the hosts share with the controller.
        "SetEnv TMPDIR=%s" % host.tmp_dir,
        "Subsystem sftp internal-sftp",
        "LogLevel INFO",
        "",
    ]))

    # The holder: the host's own host name and mount view: the private tmpfs, and on it root's home (Debian's
    # default dot files: the controller's ~/.bashrc may be slow, a pyenv init adds 0.3 s to every SSH command),
    # /etc/hosts, resolv.conf, /etc/hostname.
    script = (
        'set -e; hostname "$1"; mount -t tmpfs -o mode=0755,size=1g psrh-private "$2"; '
        'mkdir -m 0755 "$2/tmp"; mkdir -m 0700 "$2/root"; '
        'for f in bashrc profile; do b=/usr/share/base-files/dot.$f; [ ! -e $b ] || cp $b "$2/root/.$f"; done; '
        'mount --bind "$2/root" /root; mount --bind "$3" /etc/hosts; mount --bind "$4" /etc/resolv.conf; '
        'if [ -e /etc/hostname ]; then mount --bind "$5" /etc/hostname; fi; '
        'echo ready; exec sleep infinity </dev/null >/dev/null 2>&1')
    with open(host.dir / "holder.log", "wb") as log:
        holder = subprocess.Popen(
            ["ip", "netns", "exec", host.netns, "unshare", "--uts", "--mount", "--propagation", "private",
             "sh", "-c", script, "sh", host.name, str(host.private_dir), str(etc_hosts), str(resolv),
             str(etc_hostname)],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=log, start_new_session=True, cwd="/")
    _CHILDREN[holder.pid] = holder
    host.holder_pid = holder.pid
    ready, _w, _x = select.select([holder.stdout], [], [], timeout)
    line = holder.stdout.readline() if ready else b""
    holder.stdout.close()
    if line.strip() != b"ready":
        raise HostsError("host %s: setting up its namespaces failed: %s" % (
            host.name, (host.dir / "holder.log").read_text().strip() or "no answer in %s s" % timeout))
    _start_sshd(host, timeout)


def _start_sshd(host: Host, timeout: float) -> None:
    with open(host.sshd_log, "ab") as log:
        sshd = subprocess.Popen(
            ["nsenter", "--target", str(host.holder_pid), "--net", "--mount", "--uts", "--",
             SSHD, "-D", "-f", str(host.sshd_config), "-E", str(host.sshd_log)],
            stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True, cwd="/")
    _CHILDREN[sshd.pid] = sshd
    host.sshd_pid = sshd.pid
    deadline = time.monotonic() + timeout
    while True:
        with contextlib.suppress(OSError), socket.create_connection((host.address, 22), timeout=1):
            return
        if sshd.poll() is not None or time.monotonic() > deadline:
            raise HostsError("host %s: sshd did not start (exit %s): %s" % (
                host.name, sshd.poll(), host.sshd_log.read_text().strip()[-2000:]))
        time.sleep(0.02)


def _unlink(*paths: Path) -> None:
    for path in paths:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


def _write_client_files(run: Hosts) -> None:
    _unlink(run.client_key, run.client_key.with_suffix(".pub"))
    _run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "psrh %s client" % run.run_id,
          "-f", str(run.client_key)])
    shutil.copyfile(run.client_key.with_suffix(".pub"), run.dir / "authorized_keys")
    (run.dir / "cp").mkdir(mode=0o700, exist_ok=True)


def _scan_host_keys(run: Hosts) -> None:
    """known_hosts from ssh-keyscan, checked against the host keys generated for each host."""
    lines = []
    for host in run.hosts.values():
        result = _run(["ssh-keyscan", "-T", "5", "-t", "ed25519", host.address], check=False)
        scanned = [line.split() for line in result.stdout.splitlines() if line and not line.startswith("#")]
        expected = (host.dir / "ssh_host_ed25519_key.pub").read_text().split()[:2]
        if [s[1:3] for s in scanned] != [expected]:
            raise HostsError("host %s: ssh-keyscan %s found %s, not its host key: %s" % (
                host.name, host.address, scanned, result.stderr.strip()))
        lines.append("%s,%s %s %s\n" % (host.name, host.address, expected[0], expected[1]))
    run.known_hosts.write_text("".join(lines))


def _write_ansible_files(run: Hosts) -> None:
    run.ssh_config.write_text("".join(
        "Host %s\n  HostName %s\n" % (host.name, host.address) for host in run.hosts.values()) + "\n".join([
            "Host *",
            "  User root",
            "  IdentityFile %s" % run.client_key,
            "  IdentitiesOnly yes",
            "  UserKnownHostsFile %s" % run.known_hosts,
            "  GlobalKnownHostsFile /dev/null",
            "  StrictHostKeyChecking yes",
            "  BatchMode yes",
            "  ConnectTimeout 5",
            "  ServerAliveInterval 2",
            "  ServerAliveCountMax 3",
            "  ControlMaster auto",
            "  ControlPath %s/%%C" % (run.dir / "cp"),
            "  ControlPersist 60s",
            "  LogLevel ERROR",
            "",
        ]))
    lines = ["# %d SSH hosts of run %s (subnet %s), written by tests/hosts/hosts.py" % (
        len(run.hosts), run.run_id, run.subnet), "[%s]" % GROUP]
    for host in run.hosts.values():
        lines.append("%s ansible_host=%s passwordsecure_store_path=%s ansible_remote_tmp=%s" % (
            host.name, host.address, host.store_path, host.tmp_dir))
    lines += [
        "", "[%s:vars]" % GROUP,
        "ansible_connection=ssh",
        "ansible_user=root",
        "ansible_port=22",
        "ansible_python_interpreter=%s" % MANAGED_PYTHON,
        "ansible_ssh_private_key_file=%s" % run.client_key,
        "",
    ]
    run.inventory.write_text("\n".join(lines))
    home = run.dir / "ansible-home"
    run.ansible_cfg.write_text("\n".join([
        "# Written by tests/hosts/hosts.py for run %s; use with ANSIBLE_CONFIG=%s" % (run.run_id, run.ansible_cfg),
        "[defaults]",
        "inventory = %s" % run.inventory,
        "home = %s" % home,
        "local_tmp = %s" % (run.dir / "ansible-local-tmp"),
        "remote_tmp = %s" % (run.dir / "ansible-remote-tmp"),  # for localhost; each host has its own
        "host_key_checking = True",
        "interpreter_python = %s" % MANAGED_PYTHON,
        "private_key_file = %s" % run.client_key,
        "timeout = 10",
        "forks = 10",
        "retry_files_enabled = False",
        "collections_scan_sys_path = False",
        "nocows = True",
        "",
        "[ssh_connection]",
        "pipelining = True",
        "control_path_dir = %s" % (run.dir / "cp"),
        "ssh_args = -F %s -o ControlMaster=auto -o ControlPersist=60s" % run.ssh_config,
        "",
    ]))


# --- command line ------------------------------------------------------------------------------------------

def _say(text: str) -> None:
    sys.stdout.write(text + "\n")


def _main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    commands = parser.add_subparsers(dest="command", required=True)
    sub = commands.add_parser("start", help="start hosts; prints how to use them")
    sub.add_argument("--dir", required=True, help="the run's directory (at most 60 characters)")
    sub.add_argument("--hosts", required=True, help="comma-separated host names, e.g. psr-src,psr-dst")
    sub.add_argument("--subnet", help="a free private /24 (default: the first free 10.213.X.0/24)")
    sub = commands.add_parser("stop", help="stop the run in --dir (idempotent) and clean up stale runs")
    sub.add_argument("--dir", required=True)
    commands.add_parser("cleanup", help="remove what runs whose owner is gone left behind")
    sub = commands.add_parser("status", help="the run's hosts and their processes")
    sub.add_argument("--dir", required=True)
    sub = commands.add_parser("exec", help="run a command inside a host's namespaces (nsenter)")
    sub.add_argument("--dir", required=True)
    sub.add_argument("host")
    sub.add_argument("argv", nargs=argparse.REMAINDER)
    for name, text in (("kill", "kill a host's sshd and sessions"), ("revive", "start a killed host's sshd"),
                       ("freeze", "SIGSTOP a host's processes"), ("thaw", "SIGCONT a host's processes"),
                       ("disconnect", "take a host off the network"), ("reconnect", "put it back")):
        sub = commands.add_parser(name, help=text)
        sub.add_argument("--dir", required=True)
        sub.add_argument("host")
    args = parser.parse_args(argv)
    try:
        if args.command == "start":
            names = [n.strip() for n in args.hosts.split(",") if n.strip()]
            run = start(args.dir, names, subnet=args.subnet, persistent=True)
            _say("started %d hosts (run %s, subnet %s):" % (len(run.hosts), run.run_id, run.subnet))
            for host in run.hosts.values():
                _say("  %-16s %-15s store %s" % (host.name, host.address, host.store_path))
            first = run.hosts[names[0]]
            _say("use them:")
            _say("  export ANSIBLE_CONFIG=%s" % run.ansible_cfg)
            _say("  ansible %s -m ping" % GROUP)
            _say("  ssh -F %s %s" % (run.ssh_config, first.name))
            _say("  python %s exec --dir %s %s -- ls -l %s" % (sys.argv[0], run.dir, first.name, first.private_dir))
            _say("stop them:\n  python %s stop --dir %s" % (sys.argv[0], run.dir))
        elif args.command == "stop":
            stop(args.dir)
        elif args.command == "cleanup":
            removed = cleanup_stale()
            _say("removed stale runs: %s" % (", ".join(removed) or "none"))
        elif args.command == "status":
            run = load(args.dir)
            _say("run %s, subnet %s, bridge %s" % (run.run_id, run.subnet, run.bridge))
            for host in run.hosts.values():
                holder = host.holder_pid if _alive(host.holder_pid) else "gone"
                _say("%s %s netns %s holder %s" % (host.name, host.address, host.netns, holder))
                for pid, cmd in sorted(run.processes(host.name).items()):
                    _say("  %7d %s" % (pid, cmd))
        elif args.command == "exec":
            argv = args.argv[1:] if args.argv[:1] == ["--"] else args.argv
            run = load(args.dir)
            host = run.host(args.host)
            run._check_holder(host)
            return subprocess.call(["nsenter", "--target", str(host.holder_pid), "--net", "--mount", "--uts",
                                    "--"] + (argv or ["sh"]), cwd="/")
        else:
            run = load(args.dir)
            method = {"kill": run.kill_host}.get(args.command) or getattr(run, args.command)
            method(args.host)
    except HostsError as exc:
        sys.stderr.write("hosts.py: %s\n" % exc)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(_main())
