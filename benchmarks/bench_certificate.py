#!/usr/bin/env python
# Copyright (c) passwordsecure.server contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Speed and memory of ``passwordsecure.server.certificate``, measured in one run.

Five sections, each printed as a markdown table as soon as it is measured
(``benchmarks/README.md`` explains every row and target):

1. ``present`` for N certificates in one task: the module as a process against
   the raw floor, the same N RSA key generations and self-signed certificates
   made directly with ``cryptography`` on one thread per core.
2. The rerun (nothing to do) and ``certificate_info`` on that store, and the
   rerun on stores of two key sizes, to show it does not grow with key size.
3. Peak memory (max RSS, from ``os.wait4``) of the module processes.
4. The community.crypto way of the same job (one loop task per module, one
   loop item per certificate) against our one-task playbook, both run by the
   real ``ansible-playbook`` on the local connection, first run and rerun.
5. ``certificate_export`` and ``certificate_import`` of N certificates, into
   and from one PKCS#12 file for all and one file per certificate, against the
   raw floor, the same cryptographic work done directly with ``cryptography``
   in one process; and their peak memory.

Ratios are taken between measurements of the same run on the same machine.
Nothing here asserts: a target is reported as met or not, never failed.
Run it through ``benchmarks/run``, which provides a venv with ``ansible``.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
MODULES = REPO / "plugins" / "modules"
DEFAULT_RESULTS = HERE / "results"
BIGGER_KEY_SIZE = {2048: 3072, 3072: 4096, 4096: 2048}

# The targets of the issue. Times in seconds, memory in MB (10**6 bytes).
TARGET_OVERHEAD = 0.10
TARGET_OVERHEAD_COUNT = 1000  # the overhead target is set for this many certificates (or more)
TARGET_RERUN_SECONDS = 0.5
TARGET_INFO_SECONDS = 0.3
TARGET_MEMORY_MB = 100
# A rerun parses no key, so its time should not depend on key size; process
# start-up alone varies by about 10 %, so "no growth" allows 25 %.
NO_GROWTH_RATIO = 1.25
# Export and import (section 5): module time against the raw floor, and one file of 1000 on import.
TARGET_TRANSFER_RATIO = 1.5
TARGET_IMPORT_SECONDS = 10.0
START_RUNS = 5  # module runs that measure the process start in section 5
SECTIONS = (1, 2, 3, 4, 5)


class BenchmarkError(Exception):
    """A measured step did not do what it must (a module failed, a rerun changed something)."""


def emit(text: str = "") -> None:
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def progress(text: str) -> None:
    sys.stderr.write("[bench] %s\n" % text)
    sys.stderr.flush()


# --------------------------------------------------------------------------- processes


@dataclass
class Run:
    """One finished child process: its wall time, peak memory and output."""

    seconds: float
    cpu_seconds: float  # user + system, all threads: what contention from other processes does not inflate
    max_rss_bytes: int
    stdout: str
    stderr: str

    @property
    def max_rss_mb(self) -> float:
        return self.max_rss_bytes / 1e6


def run_process(argv: list[str], *, env: dict[str, str], cwd: Path, what: str, exit_code: int = 0) -> Run:
    """Run ``argv`` to its end (it must exit with ``exit_code``); wall time from spawn to reaping, max RSS
    from ``os.wait4``."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=err, env=env, cwd=cwd)
        status, usage = os.wait4(proc.pid, 0)[1:]
        seconds = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here: Popen must not wait again
        out.seek(0)
        err.seek(0)
        stdout = out.read().decode("utf-8", "replace")
        stderr = err.read().decode("utf-8", "replace")
    if proc.returncode != exit_code:
        raise BenchmarkError(
            "%s exited with %d\n--- stdout (end)\n%s\n--- stderr (end)\n%s"
            % (what, proc.returncode, stdout[-3000:], stderr[-3000:])
        )
    cpu = usage.ru_utime + usage.ru_stime
    return Run(seconds, cpu, usage.ru_maxrss * 1024, stdout, stderr)  # ru_maxrss is in KiB on Linux


def cores() -> int:
    """The cores this process may run on; the module's generate_many uses as many threads."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


# --------------------------------------------------------------------------- the raw floor


def floor_worker(count: int, key_size: int) -> None:
    """Child process: make ``count`` keys and self-signed certificates with plain cryptography.

    This is the work no implementation can avoid: an RSA key, a certificate
    like the module's (same subject shape and extensions, SHA-256), both
    serialised to PEM, on one thread per core. Prints JSON: the seconds of the
    work itself (interpreter start-up excluded), its CPU seconds and each
    certificate's seconds.
    """
    import resource
    from concurrent.futures import ThreadPoolExecutor

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    not_before = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
    not_after = datetime.datetime(9999, 12, 31, 23, 59, 59, tzinfo=datetime.timezone.utc)
    usage = x509.KeyUsage(
        digital_signature=True, content_commitment=False, key_encipherment=True, data_encipherment=True,
        key_agreement=False, key_cert_sign=False, crl_sign=False, encipher_only=False, decipher_only=False,
    )

    def one(number: int) -> float:
        start = time.perf_counter()
        key = rsa.generate_private_key(public_exponent=65537, key_size=key_size)
        name = x509.Name([
            x509.NameAttribute(NameOID.COMMON_NAME, "psrDatabaseKey"),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "db-%04d" % number),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Password Secure"),
        ])
        cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(not_before)
            .not_valid_after(not_after)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(usage, critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .sign(key, hashes.SHA256())
        )
        cert.public_bytes(serialization.Encoding.PEM)
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        return time.perf_counter() - start

    def cpu() -> float:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        return usage.ru_utime + usage.ru_stime

    start, start_cpu = time.perf_counter(), cpu()
    with ThreadPoolExecutor(max_workers=cores()) as pool:
        durations = list(pool.map(one, range(count)))
    seconds, cpu_seconds = time.perf_counter() - start, cpu() - start_cpu
    sys.stdout.write(json.dumps({"seconds": seconds, "cpu_seconds": cpu_seconds, "durations": durations,
                                 "workers": cores()}))


@dataclass
class Floor:
    seconds: float
    cpu_seconds: float
    workers: int
    durations: list[float]  # each certificate's seconds; their spread is the floor's noise
    max_rss_mb: float


# --------------------------------------------------------------------------- the raw floor of export and import

# The PKCS#12 iteration count of both modules (pkcs12.ITERATIONS) and of OpenSSL (PKCS12_DEFAULT_ITER).
TRANSFER_ITERATIONS = 2048
TRANSFER_FLOORS = ("export_one", "export_files", "import_one", "import_files")


def transfer_floor_worker(spec_file: str) -> None:
    """Child process: the cryptographic work of export and import, done directly with cryptography.

    The spec (a JSON file, so that the password is on no command line) names
    the store and the identities. Each certificate and key is read and loaded
    first, untimed; then four floors are timed one after the other, around the
    work only, on a thread per core as the modules do (cryptography releases
    the GIL in PBKDF2; the modules derive every key of a file, and build every
    file of a directory, on a thread per core):

    ``export_files``
        ``cryptography``'s own ``pkcs12.serialize_key_and_certificates`` per
        certificate, with the modules' ``modern`` profile (PBES2 with
        PBKDF2-HMAC-SHA256 and AES-256-CBC for key and certificate, an
        HMAC-SHA256 MAC, 2048 iterations): a complete, independent PKCS#12
        writer doing one file's work per certificate.
    ``export_one``
        ``cryptography`` writes one key per file, so one file for all is timed
        as its primitives: per key, PBKDF2 and AES-256-CBC of its PKCS#8; the
        certificates, one PBKDF2 and AES-256-CBC of all their DER; the MAC, one
        key derivation and an HMAC-SHA256 over all the ciphertext. The MAC's
        PKCS#12 key derivation (RFC 7292 B.2) has no public API in
        ``cryptography``; PBKDF2-HMAC-SHA256 with the same 2048 iterations
        stands in (about 0.1 ms per MAC more than OpenSSL's C derivation:
        README.md has the figures).
    ``import_one`` and ``import_files``
        The inverse of those primitives, on ciphertext made beforehand: MAC
        check, PBKDF2 and AES-256-CBC decryption of the certificates and of
        each key, and each certificate's self-signature verified with its own
        public key; one file for all, or one file per certificate.
        ``cryptography``'s PKCS#12 loader is no floor here: it validates each
        RSA key fully (the primality tests, about 40 ms per 2048-bit key),
        work the import deliberately leaves out.

    Prints JSON: per floor, its wall and CPU seconds; and the threads used.
    """
    import hmac as std_hmac
    import resource
    from concurrent.futures import ThreadPoolExecutor

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, hmac, padding, serialization
    from cryptography.hazmat.primitives.asymmetric import padding as asymmetric_padding
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
    from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC
    from cryptography.hazmat.primitives.serialization import pkcs12

    spec = json.loads(Path(spec_file).read_text())
    password = spec["password"].encode("utf-8")
    store = Path(spec["store"])
    wanted = set(spec["identities"])
    items = []  # (friendly name, certificate, key, certificate DER, PKCS#8 DER), loaded untimed
    for record in json.loads((store / "index.json").read_text())["entries"]:
        if record["kind"] != "database" or record["identity"] not in wanted:
            continue
        text = (store / record["file"]).read_bytes()
        split = text.index(b"-----BEGIN PRIVATE KEY-----")  # the store of the bench keeps keys unencrypted
        cert = x509.load_pem_x509_certificate(text[:split])
        try:
            key = serialization.load_pem_private_key(text[split:], None, unsafe_skip_rsa_key_validation=True)
        except TypeError:  # cryptography before 39 always validates; loading is not timed anyway
            key = serialization.load_pem_private_key(text[split:], None)
        pkcs8 = key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption())
        items.append((record["friendly_name"].encode("utf-8"), cert, key,
                      cert.public_bytes(serialization.Encoding.DER), pkcs8))
    if len(items) != len(wanted):
        raise SystemExit("the store holds %d of the %d certificates" % (len(items), len(wanted)))

    def derive(salt: bytes) -> bytes:
        kdf = PBKDF2HMAC(algorithm=hashes.SHA256(), length=32, salt=salt, iterations=TRANSFER_ITERATIONS)
        return kdf.derive(password)

    def encrypt(plain: bytes) -> tuple[bytes, bytes, bytes]:
        salt, iv = os.urandom(16), os.urandom(16)
        padder = padding.PKCS7(128).padder()
        encryptor = Cipher(algorithms.AES(derive(salt)), modes.CBC(iv)).encryptor()
        return salt, iv, encryptor.update(padder.update(plain) + padder.finalize()) + encryptor.finalize()

    def decrypt(salt: bytes, iv: bytes, data: bytes) -> bytes:
        decryptor = Cipher(algorithms.AES(derive(salt)), modes.CBC(iv)).decryptor()
        unpadder = padding.PKCS7(128).unpadder()
        return unpadder.update(decryptor.update(data) + decryptor.finalize()) + unpadder.finalize()

    def mac(salt: bytes, data: bytes) -> bytes:
        signer = hmac.HMAC(derive(salt), hashes.SHA256())
        signer.update(data)
        return signer.finalize()

    def verify(der: bytes) -> None:
        cert = x509.load_der_x509_certificate(der)
        cert.public_key().verify(cert.signature, cert.tbs_certificate_bytes, asymmetric_padding.PKCS1v15(),
                                 cert.signature_hash_algorithm)

    pool = ThreadPoolExecutor(max_workers=cores())

    def each(function, items) -> list:
        """``[function(item) for item in items]`` on the pool (one item: in this thread)."""
        return [function(item) for item in items] if len(items) < 2 else list(pool.map(function, items))

    def seal(pkcs8s: list[bytes], certs: list[bytes]) -> tuple[list[tuple[bytes, bytes, bytes]], tuple, bytes, bytes]:
        """What one PKCS#12 file holds: encrypted keys, the encrypted certificates, MAC salt and MAC."""
        keys = each(encrypt, pkcs8s)
        sealed_certs = encrypt(b"".join(certs))
        salt = os.urandom(16)
        return keys, sealed_certs, salt, mac(salt, b"".join(k[2] for k in keys) + sealed_certs[2])

    def open_sealed(sealed, lengths: list[int]) -> tuple[list[bytes], list[bytes]]:
        keys, sealed_certs, salt, expected = sealed
        if not std_hmac.compare_digest(mac(salt, b"".join(k[2] for k in keys) + sealed_certs[2]), expected):
            raise SystemExit("the floor's MAC does not verify")
        plain = decrypt(*sealed_certs)
        certs, offset = [], 0
        for length in lengths:
            certs.append(plain[offset:offset + length])
            offset += length
        for der in certs:
            verify(der)
        return each(lambda key: decrypt(*key), keys), certs

    encryption = (
        serialization.PrivateFormat.PKCS12.encryption_builder()
        .kdf_rounds(TRANSFER_ITERATIONS)
        .key_cert_algorithm(pkcs12.PBES.PBESv2SHA256AndAES256CBC)
        .hmac_hash(hashes.SHA256())
        .build(password)
    )
    pkcs8s = [item[4] for item in items]
    cert_ders = [item[3] for item in items]
    lengths = [len(der) for der in cert_ders]

    def cpu() -> float:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        return usage.ru_utime + usage.ru_stime

    measured: dict[str, dict[str, float]] = {}

    def timed(name: str, work) -> Any:
        start, start_cpu = time.perf_counter(), cpu()
        result = work()
        measured[name] = {"seconds": time.perf_counter() - start, "cpu_seconds": cpu() - start_cpu}
        return result

    files = timed("export_files", lambda: list(pool.map(
        lambda item: pkcs12.serialize_key_and_certificates(item[0], item[2], item[1], None, encryption), items)))
    one = timed("export_one", lambda: seal(pkcs8s, cert_ders))
    opened_one = timed("import_one", lambda: open_sealed(one, lengths))
    sealed_files = [seal([der], [cert]) for der, cert in zip(pkcs8s, cert_ders)]  # untimed: the import's input
    opened_files = timed("import_files", lambda: list(pool.map(
        lambda pair: open_sealed(pair[0], [pair[1]]), zip(sealed_files, lengths))))
    pool.shutdown()
    # The floor did the work: everything decrypts to what went in, and cryptography wrote real files.
    if opened_one != (pkcs8s, cert_ders) or [o for pair in opened_files for o in pair] != [
            x for der, cert in zip(pkcs8s, cert_ders) for x in ([der], [cert])]:
        raise SystemExit("the floor's decryption does not give back what it encrypted")
    if pkcs12.load_pkcs12(files[0], password).cert.certificate.public_bytes(serialization.Encoding.DER) != cert_ders[0]:
        raise SystemExit("cryptography's PKCS#12 does not hold the certificate")
    sys.stdout.write(json.dumps(dict(measured, count=len(items), threads=cores())))


# --------------------------------------------------------------------------- the bench


def identities(count: int) -> list[str]:
    return ["db-%04d" % number for number in range(count)]


def certificates(count: int) -> list[dict[str, str]]:
    return [{"kind": "database", "identity": identity} for identity in identities(count)]


def write_private(path: Path, text: str) -> None:
    """Write ``text`` to a new file that only its owner can read."""
    with os.fdopen(os.open(str(path), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as handle:
        handle.write(text)


class Bench:
    """The work folder, its collection path and environment, and the ways to run things in it."""

    def __init__(self, work: Path):
        self.work = work
        self.python = sys.executable
        self.coll = work / "collections"
        link = self.coll / "ansible_collections" / "passwordsecure" / "server"
        link.parent.mkdir(parents=True)
        link.symlink_to(REPO, target_is_directory=True)
        self._argfiles = 0
        base = {key: value for key, value in os.environ.items() if not key.startswith(("ANSIBLE_", "PYTHON"))}
        self.module_env = dict(base, PYTHONPATH=str(self.coll))
        self.playbook_env = dict(base, ANSIBLE_CONFIG=str(self._write_ansible_config()))

    def _write_ansible_config(self) -> Path:
        (self.work / "inventory.ini").write_text(
            "localhost ansible_connection=local ansible_python_interpreter=%s\n" % self.python
        )
        config = self.work / "ansible.cfg"
        config.write_text(
            "[defaults]\n"
            "inventory = %s\n"
            # Our collection here; the ansible package's bundled ones (community.crypto) are found
            # in this venv's site-packages, which ansible scans by default.
            "collections_path = %s\n"
            "local_tmp = %s\n"
            "retry_files_enabled = false\n"
            "interpreter_python = %s\n"
            % (self.work / "inventory.ini", self.coll, self.work / "ansible-tmp", self.python)
        )
        return config

    # -- modules run as processes, as Ansible's local connection would, without the controller

    def module(self, name: str, options: dict[str, Any], *, what: str, fails: bool = False) -> tuple[Run, dict]:
        self._argfiles += 1
        args_file = self.work / "args" / ("%03d-%s.json" % (self._argfiles, name))
        args_file.parent.mkdir(exist_ok=True)
        # 0600: the export and import arguments hold the PKCS#12 password, which goes on no command line.
        write_private(args_file, json.dumps({"ANSIBLE_MODULE_ARGS": dict(options, _ansible_check_mode=False)}))
        run = run_process(
            [self.python, str(MODULES / ("%s.py" % name)), str(args_file)],
            env=self.module_env, cwd=self.work, what=what, exit_code=1 if fails else 0,
        )
        try:
            result = json.loads(run.stdout)
        except ValueError as exc:
            raise BenchmarkError("%s printed no JSON result: %s" % (what, run.stdout[-2000:])) from exc
        if bool(result.get("failed")) != fails:
            raise BenchmarkError("%s %s: %s" % (what, "failed" if not fails else "did not fail", result.get("msg")))
        return run, result

    def failing_module(self, name: str, options: dict[str, Any], *, what: str) -> Run:
        """A module run that must fail (a measurement of its start); its message must say why it did."""
        run, result = self.module(name, options, what=what, fails=True)
        if "holds no file" not in result.get("msg", ""):
            raise BenchmarkError("%s failed for another reason: %s" % (what, result.get("msg")))
        return run

    def present(self, store: Path, count: int, key_size: int, *, expect_changed: bool) -> Run:
        what = "certificate present, %d certificates, RSA-%d, %s" % (
            count, key_size, "first run" if expect_changed else "rerun")
        run, result = self.module(
            "certificate",
            {"store_path": str(store), "key_size": key_size, "certificates": certificates(count)},
            what=what,
        )
        changed = sum(1 for item in result["certificates"] if item["changed"])
        if result["changed"] != expect_changed or changed != (count if expect_changed else 0):
            raise BenchmarkError("%s changed %d of %d certificates" % (what, changed, count))
        return run

    def reruns(self, store: Path, count: int, key_size: int, times: int) -> list[Run]:
        return [self.present(store, count, key_size, expect_changed=False) for _dummy in range(times)]

    def infos(self, store: Path, count: int, times: int) -> list[Run]:
        runs = []
        for _dummy in range(times):
            run, result = self.module("certificate_info", {"store_path": str(store)},
                                      what="certificate_info on %d certificates" % count)
            if len(result["certificates"]) != count:
                raise BenchmarkError("certificate_info listed %d certificates, not %d"
                                     % (len(result["certificates"]), count))
            runs.append(run)
        return runs

    def transfer_floor(self, store: Path, names: list[str], password: str) -> tuple[dict[str, dict], Run]:
        spec = self.work / "transfer-floor.json"
        write_private(spec, json.dumps({"store": str(store), "identities": names, "password": password}))
        run = run_process(
            [self.python, str(Path(__file__).resolve()), "_transfer_floor", str(spec)],
            env=self.module_env, cwd=self.work, what="raw floor of export and import",
        )
        return json.loads(run.stdout), run

    def floor(self, count: int, key_size: int) -> Floor:
        run = run_process(
            [self.python, str(Path(__file__).resolve()), "_floor", str(count), str(key_size)],
            env=self.module_env, cwd=self.work, what="raw floor",
        )
        data = json.loads(run.stdout)
        return Floor(data["seconds"], data["cpu_seconds"], data["workers"], data["durations"], run.max_rss_mb)

    # -- playbooks run by the real ansible-playbook

    def playbook(self, playbook: Path, extra_vars: dict[str, Any], *, what: str) -> tuple[Run, int]:
        """Run a playbook; return the run and the number of tasks it reported changed."""
        vars_file = playbook.with_suffix(".vars-%s.json" % extra_vars["bench_label"])
        vars_file.write_text(json.dumps(extra_vars))
        ansible_playbook = str(Path(self.python).parent / "ansible-playbook")
        run = run_process([ansible_playbook, str(playbook), "-e", "@%s" % vars_file],
                          env=self.playbook_env, cwd=self.work, what=what)
        recap = [line for line in run.stdout.splitlines() if line.startswith("localhost") and "changed=" in line]
        if not recap:
            raise BenchmarkError("%s printed no play recap:\n%s" % (what, run.stdout[-3000:]))
        fields = dict(part.split("=", 1) for part in recap[-1].split() if "=" in part)
        if int(fields.get("failed", 0)) or int(fields.get("unreachable", 0)):
            raise BenchmarkError("%s failed:\n%s" % (what, run.stdout[-3000:]))
        return run, int(fields["changed"])


COMMUNITY_PLAYBOOK = """\
# The community.crypto way: one loop task per module, one loop item per certificate.
# x509_certificate's selfsigned provider takes the subject and extensions from a CSR
# (without one it makes a certificate with an empty subject), so a CSR is made too.
- name: Certificates the community.crypto way
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Private keys
      community.crypto.openssl_privatekey:
        path: "{{ bench_dir }}/{{ item }}.key"
        type: RSA
        size: "{{ bench_key_size }}"
        mode: "0600"
      loop: "{{ bench_names }}"

    - name: Certificate signing requests (subject and extensions)
      community.crypto.openssl_csr:
        path: "{{ bench_dir }}/{{ item }}.csr"
        privatekey_path: "{{ bench_dir }}/{{ item }}.key"
        common_name: psrDatabaseKey
        organizational_unit_name: "{{ item }}"
        organization_name: Password Secure
        basic_constraints: ["CA:FALSE"]
        basic_constraints_critical: true
        key_usage: [digitalSignature, keyEncipherment, dataEncipherment]
        key_usage_critical: true
        mode: "0600"
      loop: "{{ bench_names }}"

    - name: Self-signed certificates
      community.crypto.x509_certificate:
        path: "{{ bench_dir }}/{{ item }}.crt"
        csr_path: "{{ bench_dir }}/{{ item }}.csr"
        privatekey_path: "{{ bench_dir }}/{{ item }}.key"
        provider: selfsigned
        selfsigned_not_after: "99991231235959Z"
        mode: "0600"
      loop: "{{ bench_names }}"

    - name: PKCS#12 files
      community.crypto.openssl_pkcs12:
        action: export
        path: "{{ bench_dir }}/{{ item }}.p12"
        certificate_path: "{{ bench_dir }}/{{ item }}.crt"
        privatekey_path: "{{ bench_dir }}/{{ item }}.key"
        friendly_name: "psrDatabaseKey ({{ item }})"
        mode: "0600"
      loop: "{{ bench_names }}"
"""

OURS_PLAYBOOK = """\
# The passwordsecure.server way: one task for the whole certificate set.
- name: Certificates the passwordsecure.server way
  hosts: localhost
  gather_facts: false
  tasks:
    - name: All certificates in one task
      passwordsecure.server.certificate:
        store_path: "{{ bench_dir }}/store"
        key_size: "{{ bench_key_size }}"
        certificates: "{{ bench_certificates }}"
"""


# --------------------------------------------------------------------------- formatting


def table(header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(str(cell)) for cell in column) for column in zip(header, *rows)]
    lines = [header, ["-" * width for width in widths], *rows]
    return "\n".join(
        "| " + " | ".join(str(cell).ljust(width) for cell, width in zip(line, widths)) + " |" for line in lines
    )


def secs(value: float) -> str:
    return "%.3f s" % value if value < 10 else "%.1f s" % value


def ms(value: float) -> str:
    return "%.1f ms" % (value * 1000)


def met(ok: bool) -> str:
    return "yes" if ok else "NO"


def median_run(runs: list[Run]) -> float:
    return statistics.median(run.seconds for run in runs)


# --------------------------------------------------------------------------- sections


@dataclass
class Settings:
    count: int
    key_size: int
    compare_count: int  # entries of each store in the key-size comparison
    reruns: int  # repetitions of each sub-second measurement (median reported)
    rounds: int  # alternations of floor and module in section 1 (totals compared)
    community_counts: list[int]
    mode: str
    sections: list[int]  # the sections to run, in order
    transfer_count: int  # certificates exported and imported in section 5


class Report:
    """Collects the markdown that is printed and written to the results folder, and the targets."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.targets: list[list[str]] = []
        self.numbers: dict[str, Any] = {}

    def section(self, title: str, body: str) -> None:
        text = "## %s\n\n%s\n" % (title, body)
        self.parts.append(text)
        emit(text)

    def target(self, name: str, target: str, measured: str, ok: bool, *, verdict: str | None = None) -> None:
        """Record a target; ``verdict`` replaces yes/NO where the measurement cannot decide."""
        self.targets.append([name, target, measured, verdict or met(ok)])


def key_generation_noise(durations: list[float]) -> float:
    """Two sigma of the relative difference between two runs of the same key generations.

    An RSA key takes as long as its random search for primes, so N keys vary
    in total by about sd/mean / sqrt(N); comparing two such totals adds the
    variance twice.
    """
    if len(durations) < 2:
        return 0.0
    per_key = statistics.pstdev(durations) / statistics.mean(durations)
    return 2 * 2 ** 0.5 * per_key / len(durations) ** 0.5


def overhead_verdict(count: int, overhead: float, noise: float) -> str | None:
    """Why the overhead target cannot be judged from this run, if it cannot."""
    if count < TARGET_OVERHEAD_COUNT:
        # A module process's start (about 0.2 s) is a fixed cost: it weighs more on fewer keys.
        return "not judged: the target is for %d certificates" % TARGET_OVERHEAD_COUNT
    if abs(overhead - TARGET_OVERHEAD) < noise:
        return "within noise"
    return None


def section_present(bench: Bench, report: Report, s: Settings, store: Path) -> tuple[list[Run], list[Floor]]:
    """Floor and module alternate, ``rounds`` times; the first module round writes ``store``."""
    floors: list[Floor] = []
    firsts: list[Run] = []
    for number in range(s.rounds):
        round_text = " (round %d of %d)" % (number + 1, s.rounds) if s.rounds > 1 else ""
        progress("raw floor: %d x RSA-%d key + self-signed certificate with cryptography%s"
                 % (s.count, s.key_size, round_text))
        floors.append(bench.floor(s.count, s.key_size))
        progress("certificate module, state=present, %d certificates%s (the floor took %s)"
                 % (s.count, round_text, secs(floors[-1].seconds)))
        round_store = store if number == 0 else bench.work / ("store-round-%d" % (number + 1))
        firsts.append(bench.present(round_store, s.count, s.key_size, expect_changed=True))
        if round_store != store:
            shutil.rmtree(round_store)
    floor_wall, floor_cpu = sum(f.seconds for f in floors), sum(f.cpu_seconds for f in floors)
    module_wall, module_cpu = sum(r.seconds for r in firsts), sum(r.cpu_seconds for r in firsts)
    overhead, cpu_overhead = module_wall / floor_wall - 1, module_cpu / floor_cpu - 1
    noise = key_generation_noise([d for f in floors for d in f.durations])
    total = s.count * s.rounds
    times = "%d x " % s.rounds if s.rounds > 1 else ""
    rows = [
        ["raw floor: %s%d x (RSA-%d key + self-signed certificate + PEM), cryptography, %d threads"
         % (times, s.count, s.key_size, floors[0].workers),
         secs(floor_wall), secs(floor_cpu), ms(floor_wall / total)],
        ["certificate module, state=present, %sone task of %d (whole process)" % (times, s.count),
         secs(module_wall), secs(module_cpu), ms(module_wall / total)],
        ["overhead of the module over the floor (target < %d %% in wall time)" % (TARGET_OVERHEAD * 100),
         "%+.1f %%" % (overhead * 100), "%+.1f %%" % (cpu_overhead * 100), ""],
    ]
    report.section(
        "1. present: %d certificates, RSA-%d, in one task" % (s.count, s.key_size),
        table(["", "wall time", "CPU time", "per certificate"], rows)
        + "\n\nKey generation alone makes two runs of these keys differ by up to ±%.1f %% (2 sigma, "
        "from the spread of single key times); CPU time is not inflated by other processes' load."
        % (noise * 100),
    )
    report.target("present %d x RSA-%d: overhead over the raw floor" % (s.count, s.key_size), "< 10 %",
                  "%+.1f %% (±%.1f %%)" % (overhead * 100, noise * 100), overhead < TARGET_OVERHEAD,
                  verdict=overhead_verdict(s.count, overhead, noise))
    report.numbers["present"] = {"rounds": s.rounds, "floor_seconds": floor_wall, "floor_cpu_seconds": floor_cpu,
                                 "module_seconds": module_wall, "module_cpu_seconds": module_cpu,
                                 "overhead": overhead, "cpu_overhead": cpu_overhead, "noise_2sigma": noise}
    return firsts, floors


def section_rerun(bench: Bench, report: Report, s: Settings, store: Path) -> dict[str, list[Run]]:
    progress("rerun and certificate_info on %d certificates, %d times each" % (s.count, s.reruns))
    reruns = bench.reruns(store, s.count, s.key_size, s.reruns)
    infos = bench.infos(store, s.count, s.reruns)

    bigger = BIGGER_KEY_SIZE[s.key_size]
    size_runs: dict[int, list[Run]] = {}
    builds: dict[int, Run] = {}
    for key_size in sorted({s.key_size, bigger}):
        if key_size == s.key_size and s.compare_count == s.count:
            size_runs[key_size] = reruns  # the main store is the one to compare
            continue
        size_store = bench.work / ("store-%d-rsa%d" % (s.compare_count, key_size))
        progress("building a store of %d certificates at RSA-%d for the key-size comparison"
                 % (s.compare_count, key_size))
        builds[key_size] = bench.present(size_store, s.compare_count, key_size, expect_changed=True)
        size_runs[key_size] = bench.reruns(size_store, s.compare_count, key_size, s.reruns)

    rerun, info = median_run(reruns), median_run(infos)
    rows = [
        ["certificate rerun, %d certificates, nothing to do (target < %s)" % (s.count, secs(TARGET_RERUN_SECONDS)),
         secs(rerun), secs(min(r.seconds for r in reruns)), secs(max(r.seconds for r in reruns))],
        ["certificate_info, %d certificates (target < %s)" % (s.count, secs(TARGET_INFO_SECONDS)),
         secs(info), secs(min(r.seconds for r in infos)), secs(max(r.seconds for r in infos))],
    ]
    for key_size, runs in sorted(size_runs.items()):
        built = " (store built in %s)" % secs(builds[key_size].seconds) if key_size in builds else ""
        rows.append(["certificate rerun, %d certificates at RSA-%d%s" % (s.compare_count, key_size, built),
                     secs(median_run(runs)), secs(min(r.seconds for r in runs)),
                     secs(max(r.seconds for r in runs))])
    small, large = (median_run(size_runs[k]) for k in sorted(size_runs))
    growth = large / small
    ratio_text = "rerun time at RSA-%d / at RSA-%d (no growth: < %.2f)" % (
        max(size_runs), min(size_runs), NO_GROWTH_RATIO)
    rows.append([ratio_text, "%.2f x" % growth, "", ""])
    report.section("2. Rerun and certificate_info (module process wall time, %d runs each)" % s.reruns,
                   table(["", "median", "min", "max"], rows))
    report.target("rerun of %d certificates (nothing to do)" % s.count, "< 0.5 s", secs(rerun),
                  rerun < TARGET_RERUN_SECONDS)
    report.target("rerun time, RSA-%d vs RSA-%d store of %d" % (max(size_runs), min(size_runs), s.compare_count),
                  "no growth (< %.2f x)" % NO_GROWTH_RATIO, "%.2f x" % growth, growth < NO_GROWTH_RATIO)
    report.target("certificate_info on %d certificates" % s.count, "< 0.3 s", secs(info),
                  info < TARGET_INFO_SECONDS)
    report.numbers["rerun"] = {"rerun_median": rerun, "info_median": info, "growth": growth,
                               "by_key_size": {k: median_run(v) for k, v in size_runs.items()}}
    return {"rerun": reruns, "info": infos}


def section_memory(report: Report, s: Settings, firsts: list[Run], floors: list[Floor],
                   others: dict[str, list[Run]]) -> None:
    peak = max(run.max_rss_mb for run in firsts)
    rows = [
        ["certificate, state=present, %d certificates (target < %d MB)" % (s.count, TARGET_MEMORY_MB),
         "%.1f MB" % peak],
        ["certificate rerun, %d certificates" % s.count, "%.1f MB" % max(r.max_rss_mb for r in others["rerun"])],
        ["certificate_info, %d certificates" % s.count, "%.1f MB" % max(r.max_rss_mb for r in others["info"])],
        ["for scale: the raw floor's process (Python + cryptography + the same keys)",
         "%.1f MB" % max(f.max_rss_mb for f in floors)],
    ]
    report.section("3. Peak memory (max RSS of the process, MB = 10^6 bytes)", table(["process", "max RSS"], rows))
    report.target("peak memory, present %d certificates" % s.count, "< 100 MB", "%.1f MB" % peak,
                  peak < TARGET_MEMORY_MB)
    report.numbers["memory_mb"] = {"present": peak, "floor": max(f.max_rss_mb for f in floors)}


def section_community(bench: Bench, report: Report, s: Settings) -> None:
    community = bench.work / "community.yml"
    ours = bench.work / "ours.yml"
    community.write_text(COMMUNITY_PLAYBOOK)
    ours.write_text(OURS_PLAYBOOK)
    # measured[count][label] = [(first run, tasks changed), (rerun, tasks changed)]
    measured: dict[int, dict[str, list[tuple[Run, int]]]] = {}
    for count in s.community_counts:
        measured[count] = {}
        for label, playbook in (("community", community), ("ours", ours)):
            target_dir = bench.work / ("%s-%d" % (label, count))
            target_dir.mkdir()
            extra = {"bench_label": "%d" % count, "bench_dir": str(target_dir), "bench_key_size": s.key_size,
                     "bench_names": identities(count), "bench_certificates": certificates(count)}
            runs = measured[count][label] = []
            for attempt in ("first run", "rerun"):
                what = "%s playbook, %d certificates, %s" % (label, count, attempt)
                progress(what)
                runs.append(bench.playbook(playbook, extra, what=what))
            if runs[1][1] != 0:
                raise BenchmarkError("the %s playbook's rerun changed %d tasks" % (label, runs[1][1]))

    def rows(seconds_of) -> list[list[str]]:
        lines = []
        for count, by_label in measured.items():
            (c_first, c_changed), (c_rerun, _dummy) = by_label["community"]
            (o_first, o_changed), (o_rerun, _dummy) = by_label["ours"]
            lines.append([
                str(count),
                "%s (%d changed)" % (secs(seconds_of(c_first)), c_changed),
                "%s (%d changed)" % (secs(seconds_of(o_first)), o_changed),
                "%.1f x" % (seconds_of(c_first) / seconds_of(o_first)),
                secs(seconds_of(c_rerun)), secs(seconds_of(o_rerun)),
                "%.1f x" % (seconds_of(c_rerun) / seconds_of(o_rerun)),
            ])
        return lines

    header = ["certificates", "community.crypto first run", "ours first run", "speed-up",
              "community.crypto rerun", "ours rerun", "speed-up"]
    report.section(
        "4. The same job the community.crypto way vs one passwordsecure.server.certificate task "
        "(ansible-playbook, local connection, RSA-%d)" % s.key_size,
        "Wall time of ansible-playbook from start to exit:\n\n"
        + table(header, rows(lambda run: run.seconds))
        + "\n\nCPU time (user + system) of ansible-playbook and every process it ran, which other "
        "processes' load does not inflate:\n\n"
        + table(header, rows(lambda run: run.cpu_seconds))
        + "\n\ncommunity.crypto: openssl_privatekey, openssl_csr, x509_certificate (selfsigned), "
        "openssl_pkcs12 (export), each one loop task over the certificates. 'changed' counts the tasks "
        "that reported a change; every rerun changed nothing.",
    )
    report.numbers["community"] = {
        count: {
            "%s_%s" % (label, attempt): {"seconds": run.seconds, "cpu_seconds": run.cpu_seconds}
            for label, runs in by_label.items()
            for attempt, (run, _dummy) in zip(("first", "rerun"), runs)
        }
        for count, by_label in measured.items()
    }


def transfer_verdict(count: int) -> str | None:
    """Why a target of section 5 cannot be judged from this run, if it cannot."""
    if count < TARGET_OVERHEAD_COUNT:
        # Each module process's start (about 0.15 s) is a fixed cost: it weighs more on fewer certificates.
        return "not judged: the target is for %d certificates" % TARGET_OVERHEAD_COUNT
    return None


def section_transfer(bench: Bench, report: Report, s: Settings, store: Path, store_note: str) -> None:
    """Export and import of N certificates: module time against the raw floor, and peak memory."""
    count = s.transfer_count
    names = identities(count)
    held = len(json.loads((store / "index.json").read_text())["entries"])
    # Everything, or (a store with more certificates than the section moves) the first N by database.
    selection: dict[str, Any] = {} if count == held else {"database": names}
    # A new random password each run; it reaches the modules and the floor in 0600 files, never on argv.
    password = secrets.token_urlsafe(24)
    base = bench.work / "transfer"
    base.mkdir()

    progress("raw floor of export and import: %d certificates with cryptography, a thread per core" % count)
    floor, floor_run = bench.transfer_floor(store, names, password)

    def exported(options: dict[str, Any], what: str) -> tuple[Run, dict]:
        progress(what)
        run, result = bench.module("certificate_export", dict(options, store_path=str(store), password=password,
                                                              **selection), what=what)
        if not result["changed"] or len(result["certificates"]) != count:
            raise BenchmarkError("%s exported %d certificates, not %d" % (what, len(result["certificates"]), count))
        return run, result

    one_file = base / "all.pfx"
    export_one, result_one = exported({"path": str(one_file)},
                                      "certificate_export: %d certificates into one file" % count)
    export_files, result_files = exported({"directory": str(base / "files")},
                                          "certificate_export: %d certificates, one file each" % count)
    files = [item["path"] for item in result_files["files"]]
    if len(files) != count or not all(item["changed"] for item in result_files["files"]):
        raise BenchmarkError("the export into a directory wrote %d files, not %d" % (len(files), count))
    thumbprints = {item["thumbprint"] for item in result_one["certificates"]}

    def imported(source: dict[str, str], into: Path, expect: int, what: str) -> Run:
        run, result = bench.module("certificate_import", dict(source, store_path=str(into), password=password),
                                   what=what)
        added = [item for item in result["certificates"] if item["action"] == "added"]
        if len(added) != expect or len(result["certificates"]) != expect:
            raise BenchmarkError("%s added %d certificates, not %d" % (what, len(added), expect))
        return run

    # Each import goes into a new store of its own, so that every certificate is added.
    progress("certificate_import: one file of %d certificates into a new store" % count)
    import_one = imported({"path": str(one_file)}, base / "store-import-one", count,
                          "certificate_import of one file with %d certificates" % count)
    progress("certificate_import: a directory of %d files of one certificate into a new store" % count)
    import_files = imported({"directory": str(base / "files")}, base / "store-import-files", count,
                            "certificate_import of a directory of %d files" % count)
    for into in ("store-import-one", "store-import-files"):
        landed = {entry["thumbprint"] for entry in json.loads((base / into / "index.json").read_text())["entries"]}
        if landed != thumbprints:
            raise BenchmarkError("the store %s does not hold exactly the exported certificates" % into)

    # The fixed cost every module run pays before any work: a certificate_import that fails at once (its
    # directory holds no PKCS#12 file) starts Python, Ansible, cryptography and asn1crypto, and no more.
    progress("process start: certificate_import on an empty directory, %d runs" % START_RUNS)
    (base / "empty").mkdir()
    start = statistics.median(bench.failing_module("certificate_import", {
        "store_path": str(base / "store-start"), "directory": str(base / "empty"), "password": password,
    }, what="certificate_import on an empty directory").seconds for _run in range(START_RUNS))

    modules = {
        "export_one": (export_one.seconds, export_one.cpu_seconds),
        "export_files": (export_files.seconds, export_files.cpu_seconds),
        "import_one": (import_one.seconds, import_one.cpu_seconds),
        "import_files": (import_files.seconds, import_files.cpu_seconds),
    }
    labels = {
        "export_one": "export, one file for all: 1 task writes 1 file",
        "export_files": "export, one file per certificate: 1 task writes %d files" % count,
        "import_one": "import, one file for all: 1 task",
        "import_files": "import, one file per certificate: 1 task reads %d files" % count,
    }
    rows = []
    ratios: dict[str, tuple[float, float]] = {}
    for name in TRANSFER_FLOORS:
        floor_wall, floor_cpu = floor[name]["seconds"], floor[name]["cpu_seconds"]
        module_wall, module_cpu = modules[name]
        ratios[name] = (module_wall / floor_wall, module_cpu / floor_cpu)
        rows.append([labels[name], secs(floor_wall), secs(module_wall), "%.2f x" % ratios[name][0],
                     "%.2f x" % ((module_wall - start) / floor_wall),
                     secs(floor_cpu), secs(module_cpu), "%.2f x" % ratios[name][1], ms(module_wall / count)])
    header = ["%d certificates, RSA-%d" % (count, s.key_size), "raw floor", "module", "module / floor",
              "(module - start) / floor", "floor CPU", "module CPU", "CPU ratio", "module per certificate"]
    memory_rows = [
        ["certificate_export, %d certificates into one file" % count, "%.1f MB" % export_one.max_rss_mb],
        ["certificate_export, %d certificates, one file each" % count, "%.1f MB" % export_files.max_rss_mb],
        ["certificate_import, one file of %d certificates" % count, "%.1f MB" % import_one.max_rss_mb],
        ["certificate_import, a directory of %d files of one certificate" % count,
         "%.1f MB" % import_files.max_rss_mb],
        ["for scale: the raw floor's process (Python + cryptography + the %d keys, all four floors)" % count,
         "%.1f MB" % floor_run.max_rss_mb],
    ]
    report.section(
        "5. Export and import of %d certificates (PKCS#12, encryption: modern)" % count,
        "Wall time; the module as a process, the raw floor with cryptography in one process on %d threads "
        "(as many as the modules use), timed around the work only. %s\n\n"
        % (floor["threads"], store_note)
        + table(header, rows)
        + "\n\nstart: the median wall time of %d module runs that stop before any work (%s): the process start "
        "every run pays, part of the module's time.\n\n" % (START_RUNS, secs(start))
        + "Floor: PBKDF2-HMAC-SHA256 (%d iterations) and AES-256-CBC per key and per certificate set, one MAC "
        "per file; export per file is cryptography's own pkcs12.serialize_key_and_certificates. The module's "
        "own costs count as overhead: process start, reading the store, building and parsing PKCS#12, the "
        "pairwise key check and the subject checks on import, fsynced writes. Peak memory (max RSS, MB = 10^6 "
        "bytes):\n\n" % TRANSFER_ITERATIONS
        + table(["process", "max RSS"], memory_rows),
    )
    verdict = transfer_verdict(count)
    for name in TRANSFER_FLOORS:
        report.target("%s, %d certificates: module / raw floor" % (labels[name].split(":")[0], count),
                      "< %.1f x" % TARGET_TRANSFER_RATIO, "%.2f x" % ratios[name][0],
                      ratios[name][0] < TARGET_TRANSFER_RATIO, verdict=verdict)
    single = import_one.seconds
    report.target("import of %d certificates from one file, module time" % count,
                  "< %s for %d" % (secs(TARGET_IMPORT_SECONDS), TARGET_OVERHEAD_COUNT), secs(single),
                  single < TARGET_IMPORT_SECONDS,
                  verdict=verdict or (None if single < TARGET_IMPORT_SECONDS or count == TARGET_OVERHEAD_COUNT
                                      else "not judged: the target is for %d certificates" % TARGET_OVERHEAD_COUNT))
    report.numbers["transfer"] = {
        "count": count, "floor": floor, "start_seconds": start,
        "module": {name: {"seconds": wall, "cpu_seconds": cpu} for name, (wall, cpu) in modules.items()},
        "ratio": {name: wall for name, (wall, _cpu) in ratios.items()},
        "cpu_ratio": {name: cpu for name, (_wall, cpu) in ratios.items()},
        "memory_mb": {"export_one": export_one.max_rss_mb, "export_files": export_files.max_rss_mb,
                      "import_one": import_one.max_rss_mb,
                      "import_files": import_files.max_rss_mb, "floor": floor_run.max_rss_mb},
    }


# --------------------------------------------------------------------------- main


def versions(bench: Bench) -> str:
    probe = (
        "import json, cryptography, ansible.release as r\n"
        "try:\n"
        "    import ansible_collections.community.crypto as cc, os\n"
        "    m = json.load(open(os.path.join(list(cc.__path__)[0], 'MANIFEST.json')))\n"
        "    ccv = m['collection_info']['version']\n"
        "except Exception:\n"
        "    ccv = 'not installed'\n"
        "print(json.dumps([cryptography.__version__, r.__version__, ccv]))\n"
    )
    found = subprocess.run([bench.python, "-c", probe], capture_output=True, text=True, check=True,
                           env=bench.module_env, cwd=bench.work)
    crypto, core, community = json.loads(found.stdout)
    commit = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"],
                            capture_output=True, text=True, check=False).stdout.strip() or "unknown"
    dirty = subprocess.run(["git", "-C", str(REPO), "status", "--porcelain", "--untracked-files=no"],
                           capture_output=True, text=True, check=False).stdout.strip()
    return "Python %s, cryptography %s, ansible-core %s, community.crypto %s, %d cores, commit %s%s" % (
        sys.version.split()[0], crypto, core, community, cores(), commit, " (modified)" if dirty else "")


def parse_args(argv: list[str]) -> tuple[argparse.Namespace, Settings]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--quick", action="store_true",
                      help="smoke run for CI (under a minute): 50 certificates, stores of 10 for the key-size "
                           "comparison, 5 in the community.crypto comparison")
    mode.add_argument("--full", action="store_true",
                      help="compare rerun times on the main store and a new one of --count certificates at the "
                           "next key size (1000 RSA-3072 keys: about 2 minutes on 2 cores), instead of on "
                           "two new stores of 200")
    parser.add_argument("--count", type=int, help="certificates in the present/rerun/info runs (default 1000)")
    parser.add_argument("--key-size", type=int, choices=sorted(BIGGER_KEY_SIZE), default=2048,
                        help="RSA key size of sections 1, 2 and 4 (default 2048); the key-size comparison "
                             "adds the next size up")
    parser.add_argument("--community-counts", help="comma-separated certificate counts for section 4 "
                                                   "(default 10,100; 'none' skips it)")
    parser.add_argument("--rounds", type=int, default=1,
                        help="alternate floor and first run this many times and compare the totals "
                             "(default 1; more rounds, less key-generation noise)")
    parser.add_argument("--transfer-count", type=int,
                        help="certificates exported and imported in section 5 (default --count; 20 with --quick; "
                             "at most --count when section 1 or 2 runs)")
    parser.add_argument("--sections", default="1,2,3,4,5",
                        help="comma-separated sections to run (default all: 1,2,3,4,5); 3 needs and adds 1 and 2; "
                             "2 or 5 without 1 build their store first, untimed")
    parser.add_argument("--reruns", type=int, help="repetitions of each sub-second measurement (default 5)")
    parser.add_argument("--results", type=Path, default=DEFAULT_RESULTS, help="where reports go (git-ignored)")
    parser.add_argument("--keep", action="store_true", help="keep the work folder (stores, playbooks, args)")
    args = parser.parse_args(argv)
    count = args.count or (50 if args.quick else 1000)
    try:
        sections = {int(part) for part in args.sections.split(",")}
    except ValueError:
        parser.error("--sections takes numbers from 1 to 5, separated by commas")
    if not sections <= set(SECTIONS):
        parser.error("--sections takes numbers from 1 to 5, not %s" % args.sections)
    if 3 in sections:
        sections |= {1, 2}  # the memory of section 3 is that of the runs of sections 1 and 2
    transfer_count = args.transfer_count or (min(count, 20) if args.quick else count)
    if transfer_count > count and sections & {1, 2}:
        parser.error("--transfer-count (%d) exceeds --count (%d), the certificates of the store that sections 1 "
                     "and 2 build and section 5 uses" % (transfer_count, count))
    counts_text = args.community_counts or ("5" if args.quick else "10,100")
    community_counts = [] if counts_text == "none" else [int(part) for part in counts_text.split(",")]
    settings = Settings(
        count=count,
        key_size=args.key_size,
        compare_count=count if args.full else min(count, 10 if args.quick else 200),
        reruns=args.reruns or (3 if args.quick else 5),
        rounds=args.rounds,
        community_counts=community_counts,
        mode="quick" if args.quick else "full" if args.full else "default",
        sections=sorted(sections),
        transfer_count=transfer_count,
    )
    return args, settings


def main(argv: list[str]) -> int:
    if argv[:1] == ["_floor"]:
        floor_worker(int(argv[1]), int(argv[2]))
        return 0
    if argv[:1] == ["_transfer_floor"]:
        transfer_floor_worker(argv[1])
        return 0
    args, settings = parse_args(argv)
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    args.results.mkdir(parents=True, exist_ok=True)
    work = args.results / ("work-%s" % stamp)
    work.mkdir()
    started = time.perf_counter()
    report = Report()
    try:
        bench = Bench(work)
        chosen = settings.sections
        mode = "%s mode" % settings.mode
        if chosen != list(SECTIONS):
            mode += ", sections %s" % ",".join(str(n) for n in chosen)
        header = "# passwordsecure.server.certificate benchmark, %s (%s)\n\n%s\nLoad average at start: %s" % (
            stamp, mode, versions(bench), " ".join("%.2f" % x for x in os.getloadavg()))
        emit(header + "\n")
        report.parts.append(header + "\n")
        store = work / "store-main"
        store_note = "The store of section 1 (%d certificates)." % settings.count
        if 1 in chosen:
            firsts, floors = section_present(bench, report, settings, store)
        elif 2 in chosen or 5 in chosen:
            size = settings.count if 2 in chosen else settings.transfer_count
            progress("building a store of %d certificates at RSA-%d (section 1 does not run; not timed)"
                     % (size, settings.key_size))
            built = bench.present(store, size, settings.key_size, expect_changed=True)
            store_note = "A store of %d certificates built for it (in %s, not part of the figures)." % (
                size, secs(built.seconds))
        if 2 in chosen:
            others = section_rerun(bench, report, settings, store)
        if 3 in chosen:
            section_memory(report, settings, firsts, floors, others)
        if 4 in chosen and settings.community_counts:
            section_community(bench, report, settings)
        if 5 in chosen:
            section_transfer(bench, report, settings, store, store_note)
        report.section("Targets", table(["what", "target", "measured", "met"], report.targets))
        footer = "Load average at end: %s. Benchmark wall time: %s." % (
            " ".join("%.2f" % x for x in os.getloadavg()), secs(time.perf_counter() - started))
        emit(footer)
        report.parts.append(footer + "\n")
    except BenchmarkError as exc:
        sys.stderr.write("benchmark stopped: %s\n" % exc)
        return 1
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    (args.results / ("bench-%s.md" % stamp)).write_text("\n".join(report.parts))
    (args.results / ("bench-%s.json" % stamp)).write_text(json.dumps(report.numbers, indent=1, default=str))
    progress("report written to %s" % (args.results / ("bench-%s.md" % stamp)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
