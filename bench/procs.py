"""The processes the benchmarks drive: caregate's server, nginx, wrk and a throwaway PostgreSQL cluster.

Everything listens on 127.0.0.1 on a free port and is stopped by the benchmark that started it, so a run leaves
nothing behind and never touches a server someone else is running.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def peak_rss_mb(pid: int) -> float | None:
    """The high-water mark of a live process's resident memory (VmHWM), in MiB; None once it has gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far: tells whether the server or the client was busy."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2:].split()  # the command name may contain spaces and parentheses
    return (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS


def _wait_http(url: str, proc: subprocess.Popen, log: Path, what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            proc.wait()
            raise RuntimeError(f"{what} did not start:\n{log.read_text(errors='replace')[-4000:]}")
        time.sleep(0.05)


def children(pid: int) -> list[int]:
    """The processes whose parent is `pid` (uvicorn's worker processes under its supervisor)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        if int(text[text.rindex(")") + 2:].split()[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def tree_cpu_seconds(pid: int) -> float:
    """CPU time of a process and its live children: with several workers the work is in the children."""
    total = 0.0
    for p in [pid, *children(pid)]:
        with suppress(OSError):  # a process that ended between the listing and the read
            total += cpu_seconds(p)
    return total


class CaregateServer:
    """`python -m caregate serve` as a real process, as deployed: uvicorn, no access log, one worker by default."""

    def __init__(self, database_url: str, log: Path, workers: int = 1, *, module: str = "caregate",
                 auth: bool = False) -> None:
        """`module` another entry point taking `serve`'s options (bench.unaudited); `auth` serves with sign-in."""
        self.port = free_port()
        self.origin = f"http://127.0.0.1:{self.port}"
        self.base = f"{self.origin}/fhir"
        self.log = log
        env = {**os.environ, "CAREGATE_ACCESS_LOG": "0", "CAREGATE_LOG_LEVEL": "warning",
               "CAREGATE_WORKERS": str(workers)}
        with open(log, "wb") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", module, "serve", *(() if auth else ("--no-auth",)), "--host", "127.0.0.1",
                 "--port", str(self.port), "--database", database_url],
                stdout=subprocess.DEVNULL, stderr=out, env=env, cwd=ROOT,
            )
        _wait_http(f"{self.origin}/readyz", self.proc, log, "caregate serve")
        deadline = time.monotonic() + 30
        while workers > 1 and len(self._worker_pids()) < workers and time.monotonic() < deadline:
            time.sleep(0.1)  # one worker answers /readyz before the others have started
        self.workers = max(1, len(self._worker_pids()))

    def _worker_pids(self) -> list[int]:
        """uvicorn's worker processes (not multiprocessing's resource tracker); none when it serves alone."""
        return [pid for pid in children(self.pid) if b"resource_tracker" not in _cmdline(pid)]

    @property
    def pid(self) -> int:
        return self.proc.pid

    def stop(self) -> None:
        """Stop the server; uvicorn's supervisor stops its workers, and any it leaves behind are killed here."""
        if self.proc.poll() is not None:
            return
        workers = {pid: _cmdline(pid) for pid in children(self.pid)}
        self.proc.terminate()
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        for pid, cmdline in workers.items():
            if cmdline and _cmdline(pid) == cmdline:  # still that worker, not a new process with its id
                with suppress(OSError):
                    os.kill(pid, signal.SIGKILL)

    def __enter__(self) -> CaregateServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


_NGINX_CONF = """\
worker_processes auto;
daemon off;
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    sendfile on;
    tcp_nopush on;
    keepalive_requests 1000000;
    open_file_cache max=100000;
    types {{ }}
    default_type application/fhir+json;
    client_body_temp_path {dir}/body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
    server {{
        listen 127.0.0.1:{port};
        root {root};
        location / {{ try_files $uri =404; }}
    }}
}}
"""


class Nginx:
    """nginx serving a folder of static files: the fastest a read of stored JSON over HTTP gets on this machine.

    It runs with one worker per core (`auto`), as nginx is deployed; caregate runs as `caregate serve` does."""

    def __init__(self, root: Path, workdir: Path) -> None:
        self.port = free_port()
        self.origin = f"http://127.0.0.1:{self.port}"
        workdir.mkdir(parents=True, exist_ok=True)
        # As root, nginx's workers run as `nobody`: the caller keeps `root` and the folders above it readable.
        conf = workdir / "nginx.conf"
        conf.write_text(_NGINX_CONF.format(dir=workdir, port=self.port, root=root))
        log = workdir / "stderr.log"
        with open(log, "wb") as out:
            self.proc = subprocess.Popen([nginx_binary(), "-c", str(conf), "-p", str(workdir)],
                                         stdout=subprocess.DEVNULL, stderr=out)
        probe = next(p for p in root.rglob("*") if p.is_file()).relative_to(root)
        _wait_http(f"{self.origin}/{probe}", self.proc, log, "nginx", timeout=15)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()  # the master stops its workers on SIGTERM
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def __enter__(self) -> Nginx:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def nginx_binary() -> str:
    return shutil.which("nginx") or "/usr/sbin/nginx"


def ensure_tools() -> str | None:
    """Install wrk and nginx when missing (bench/install-tools.sh); the reason they are unusable, or None."""
    if shutil.which("wrk") and Path(nginx_binary()).exists():
        return None
    result = subprocess.run(["sh", str(ROOT / "bench" / "install-tools.sh")], capture_output=True, text=True)
    if shutil.which("wrk") and Path(nginx_binary()).exists():
        return None
    return f"wrk/nginx unavailable ({(result.stderr or result.stdout).strip()[-200:] or 'install failed'})"


@dataclass(frozen=True, slots=True)
class WrkResult:
    rps: float
    p50_ms: float | None
    p99_ms: float | None
    requests: int
    bad: int  # non-2xx/3xx responses plus socket errors

    @property
    def describe(self) -> str:
        p50 = f"{self.p50_ms:.2f}" if self.p50_ms is not None else "?"
        p99 = f"{self.p99_ms:.2f}" if self.p99_ms is not None else "?"
        bad = f", {self.bad} errors" if self.bad else ""
        return f"p50 {p50} ms, p99 {p99} ms{bad}"


_UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def _ms(text: str) -> float:
    m = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text)
    if not m:
        raise ValueError(f"unexpected wrk latency {text!r}")
    return float(m.group(1)) * _UNITS_MS[m.group(2)]


def wrk(url: str, script: Path, *, threads: int, connections: int, seconds: float,
        headers: Sequence[str] = ()) -> WrkResult:
    """Run wrk and read its summary. wrk, written in C, keeps the load generator off the measured figure."""
    out = subprocess.run(
        ["wrk", f"-t{threads}", f"-c{connections}", f"-d{max(1, round(seconds))}s", "--latency", "-s", str(script),
         *(arg for header in headers for arg in ("-H", header)), url],
        capture_output=True, text=True, check=True,
    ).stdout
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    total = re.search(r"(\d+) requests in", out)
    if not rps or not total:
        raise RuntimeError(f"could not read wrk's output:\n{out}")
    pct = dict(re.findall(r"^\s+(50|99)%\s+(\S+)$", out, re.MULTILINE))
    bad = sum(int(n) for n in re.findall(r"Non-2xx or 3xx responses:\s+(\d+)", out))
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    if errors:
        bad += sum(int(g) for g in errors.groups())
    return WrkResult(float(rps.group(1)), _ms(pct["50"]) if "50" in pct else None,
                     _ms(pct["99"]) if "99" in pct else None, int(total.group(1)), bad)


def wrk_script(path: Path, prefix: str, ids: list[str]) -> Path:
    """A wrk Lua script that cycles GET `prefix + id` over real ids, each thread from its own starting point."""
    lua_ids = ",\n".join(f'  "{i}"' for i in ids)
    path.write_text(
        f"local ids = {{\n{lua_ids}\n}}\n"
        "local threads = 0\n"
        "function setup(thread)\n"
        "  thread:set('start', threads * 7919)\n"
        "  threads = threads + 1\n"
        "end\n"
        "function init(args)\n"
        "  i = (start or 0) % #ids\n"
        "end\n"
        "function request()\n"
        "  i = i % #ids + 1\n"
        f"  return wrk.format('GET', '{prefix}' .. ids[i])\n"
        "end\n"
    )
    return path


@contextmanager
def postgres() -> Iterator[object]:
    """A throwaway PostgreSQL cluster (the tests' `PgCluster`): fsync off, on a free port, removed afterwards."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    from tests.pgcluster import PgCluster

    cluster = PgCluster()
    try:
        yield cluster
    finally:
        cluster.stop()


def durable_database(cluster: object, name: str) -> str:
    """A database in `cluster` whose commits wait for the disk (fsync, synchronous_commit and full-page writes
    on), as production runs: the audit's cost is mostly that wait, so benchmarks of it must not skip it."""
    import psycopg

    url = cluster.create_database(name)  # type: ignore[attr-defined]
    with psycopg.connect(url, autocommit=True) as conn:
        for setting in ("fsync", "synchronous_commit", "full_page_writes"):
            conn.execute(f"ALTER SYSTEM SET {setting} = on")
        conn.execute("SELECT pg_reload_conf()")
    return url
