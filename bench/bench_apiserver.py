"""API server benchmark: GET of one object and create throughput, against baselines measured in the same run.

- GET /api/v1/namespaces/default/configmaps/bench vs the same bytes from a hello server on the same HTTP stack
  (aiohttp + TLS), both driven by wrk over loopback (server pinned to one CPU, wrk to the other).
- Creates per second (wrk POSTs with unique names) vs raw SQLite single-row inserts (WAL, synchronous=NORMAL,
  one transaction per row, kine-like table) in this process.
- Mutating p99 latency under an open-loop 200 writes/s load.

Run: `python -m bench.bench_apiserver` (needs Debian's wrk). Results go to bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import re
import shutil
import signal
import sqlite3
import ssl
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import aiohttp

from bench.results import machine_line, update_section

TOKEN = "bench-token-0123456789abcdef"


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def pinned(cpu: int, cmd: list[str]) -> list[str]:
    if shutil.which("taskset") and (os.cpu_count() or 1) > 1:
        return ["taskset", "-c", str(cpu), *cmd]
    return cmd


def start(cmd: list[str], ready: str, timeout: float = 60) -> subprocess.Popen[str]:
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    assert proc.stdout is not None
    ev = threading.Event()
    lines: list[str] = []

    def drain() -> None:
        assert proc.stdout is not None
        for ln in proc.stdout:
            lines.append(ln)
            if ready in ln:
                ev.set()
        ev.set()

    threading.Thread(target=drain, daemon=True).start()
    if not ev.wait(timeout) or proc.poll() is not None:
        stop(proc)
        raise RuntimeError("".join(lines[-40:]))
    return proc


def stop(proc: subprocess.Popen[str]) -> None:
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)


def wrk(url: str, seconds: int, conns: int, script: str | None = None) -> tuple[float, float]:
    """(requests/s, p99 ms) from wrk --latency."""
    cmd = ["wrk", "-t1", f"-c{conns}", f"-d{seconds}s", "--latency", "-H", f"Authorization: Bearer {TOKEN}"]
    if script:
        cmd += ["-s", script]
    out = subprocess.run(pinned(0, [*cmd, url]), capture_output=True, text=True, timeout=seconds + 30).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    m = re.search(r"99%\s+([\d.]+)(us|ms|s)", out)
    assert m, out
    val = float(m.group(1)) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[m.group(2)]
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if non2xx:
        raise RuntimeError(f"wrk saw {non2xx.group(1)} error responses:\n{out}")
    return rps, val


def raw_sqlite_inserts(seconds: float, value: bytes) -> float:
    d = tempfile.mkdtemp(prefix="kyb-bench-sqlite-")
    try:
        db = sqlite3.connect(os.path.join(d, "raw.db"), isolation_level=None)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        db.execute(
            "CREATE TABLE kv (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT, created INT, deleted INT,"
            " create_revision INT, prev_revision INT, lease INT, value BLOB, old_value BLOB)"
        )
        db.execute("CREATE UNIQUE INDEX kv_name_prev ON kv (name, prev_revision)")
        db.execute("CREATE INDEX kv_name_id ON kv (name, id)")
        n = 0
        t0 = time.perf_counter()
        while time.perf_counter() - t0 < seconds:
            db.execute(
                "INSERT INTO kv (name, created, deleted, create_revision, prev_revision, lease, value, old_value)"
                " VALUES (?, 1, 0, 0, 0, 0, ?, NULL)",
                (f"/registry/core/configmaps/default/raw-{n}", value),
            )
            n += 1
        rate = n / (time.perf_counter() - t0)
        db.close()
        return rate
    finally:
        shutil.rmtree(d, ignore_errors=True)


async def open_loop(url: str, ca: bytes, rate: float, seconds: float) -> list[float]:
    """Issue creates at a fixed rate regardless of responses; return latencies in ms."""
    ctx = ssl.create_default_context(cadata=ca.decode())
    lat: list[float] = []
    async with aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(ssl=ctx, limit=64),
        headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"},
    ) as s:

        async def one(i: int) -> None:
            body = b'{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"ol-%d"},"data":{"k":"v"}}' % i
            t0 = time.perf_counter()
            async with s.post(url, data=body) as r:
                await r.read()
                if r.status != 201:
                    raise RuntimeError(f"create failed: {r.status}")
            lat.append((time.perf_counter() - t0) * 1000)

        tasks = []
        start_t = time.perf_counter()
        for i in range(int(rate * seconds)):
            target = start_t + i / rate
            delay = target - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(i)))
        await asyncio.gather(*tasks)
    return lat


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=int, default=8)
    ap.add_argument("--no-write", action="store_true", help="do not update bench/RESULTS.md")
    args = ap.parse_args()
    if not shutil.which("wrk"):
        sys.exit("needs wrk (Debian package wrk)")
    tmp = Path(tempfile.mkdtemp(prefix="kyb-bench-"))
    procs: list[subprocess.Popen[str]] = []
    try:
        data = tmp / "data"
        data.mkdir()
        (data / "tokens.csv").write_text(f'{TOKEN},bench,bench-uid,"system:masters"\n')
        port = free_port()
        kyb = start(
            pinned(1, [sys.executable, "-m", "kybernetes.cli.main", "server", "--data-dir", str(data), "--port", str(port),
                       "--bind-address", "127.0.0.1", "--disable-agent", "--disable-controllers", "--disable-scheduler"]),
            "kybernetes is ready",
        )
        procs.append(kyb)
        base = f"https://127.0.0.1:{port}"
        ca = (data / "pki" / "ca.crt").read_bytes()
        obj_url = f"{base}/api/v1/namespaces/default/configmaps/bench"
        payload = ('{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"bench","labels":{"app":"bench"}},'
                   '"data":{"config":"' + "x" * 1000 + '"}}')
        subprocess.run(["curl", "-sk", "-H", f"Authorization: Bearer {TOKEN}", "-H", "Content-Type: application/json",
                        "-d", payload, f"{base}/api/v1/namespaces/default/configmaps"], check=True, capture_output=True)
        body = subprocess.run(["curl", "-sk", "-H", f"Authorization: Bearer {TOKEN}", obj_url], check=True,
                              capture_output=True).stdout
        (tmp / "body.json").write_bytes(body)
        hport = free_port()
        hello = start(
            pinned(1, [sys.executable, "-m", "bench.hello_server", "--port", str(hport), "--cert",
                       str(data / "pki" / "serving.crt"), "--key", str(data / "pki" / "serving.key"), "--body",
                       str(tmp / "body.json")]),
            "hello ready",
        )
        procs.append(hello)

        hello_rps, hello_p99 = wrk(f"https://127.0.0.1:{hport}/", args.seconds, 10)
        get_rps, get_p99 = wrk(obj_url, args.seconds, 10)
        lua = tmp / "create.lua"
        lua.write_text(
            'counter = 0\nwrk.headers["Content-Type"] = "application/json"\n'
            'request = function()\n  counter = counter + 1\n'
            '  local body = \'{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c-\' .. counter .. \'"},'
            '"data":{"config":"' + "x" * 1000 + '"}}\'\n'
            '  return wrk.format("POST", nil, nil, body)\nend\n'
        )
        create_rps, create_p99 = wrk(f"{base}/api/v1/namespaces/kube-public/configmaps", args.seconds, 10, str(lua))
        raw_rate = raw_sqlite_inserts(3.0, b"x" * 1200)
        lat = asyncio.run(open_loop(f"{base}/api/v1/namespaces/kube-node-lease/configmaps", ca, 200.0, 10.0))
        lat.sort()
        ol_p50 = statistics.median(lat)
        ol_p99 = lat[int(len(lat) * 0.99) - 1]

        rows = [
            ("GET one ConfigMap (1.2 KB), wrk -c10", f"{get_rps:,.0f} req/s", f"{get_p99:.2f} ms"),
            ("hello server, same bytes, same stack", f"{hello_rps:,.0f} req/s", f"{hello_p99:.2f} ms"),
            ("create ConfigMap (1 KB), wrk -c10", f"{create_rps:,.0f} req/s", f"{create_p99:.2f} ms"),
            ("raw SQLite single-row inserts (WAL/NORMAL)", f"{raw_rate:,.0f} rows/s", "-"),
            ("creates at 200/s open loop, 10 s", f"p50 {ol_p50:.2f} ms", f"{ol_p99:.2f} ms"),
        ]
        get_ratio = get_rps / hello_rps
        create_ratio = create_rps / raw_rate
        lines = [
            "## API server (`python -m bench.bench_apiserver`)",
            "",
            machine_line() + "; server pinned to CPU 1, wrk to CPU 0, HTTPS over loopback, SQLite storage.",
            "",
            "| case | throughput | p99 |",
            "|---|---|---|",
            *[f"| {a} | {b} | {c} |" for a, b, c in rows],
            "",
            f"- GET vs hello server: **{get_ratio:.2f}x** (target >= 0.5x)",
            f"- creates vs raw SQLite inserts: **{create_ratio:.2f}x** (target >= 0.25x)",
            f"- mutating p99 at 200 writes/s: **{ol_p99:.1f} ms** (target < 50 ms)",
        ]
        text = "\n".join(lines)
        print(text)
        if not args.no_write:
            update_section("bench_apiserver", text)
    finally:
        for p in procs:
            stop(p)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
