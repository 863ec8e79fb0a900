"""Service data-path benchmark: requests/s to a pod directly, through its ClusterIP (nftables DNAT) and through
the ingress controller (Python reverse proxy), all in one run on one box so the ratios compare like with like.

The "pod" is a network namespace on a throwaway bridge running a minimal asyncio HTTP responder (so the backend is
not the bottleneck); wrk drives each path with keep-alive connections, and the first two also with a new
connection per request (where the NAT work happens). Needs root, nft and Debian's wrk.

Run: `sudo python -m bench.bench_services [--seconds 5]`. Results go to bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

from bench.results import machine_line, update_section

BACKEND = textwrap.dedent(
    """
    import asyncio, sys
    BODY = b"hello from the pod\\n"
    RESP = b"HTTP/1.1 200 OK\\r\\nContent-Type: text/plain\\r\\nContent-Length: %d\\r\\n\\r\\n%s" % (len(BODY), BODY)

    class P(asyncio.Protocol):
        def connection_made(self, t):
            self.t, self.buf = t, b""
        def data_received(self, d):
            self.buf += d
            while b"\\r\\n\\r\\n" in self.buf:
                head, _, self.buf = self.buf.partition(b"\\r\\n\\r\\n")
                self.t.write(RESP)
                if b"connection: close" in head.lower():
                    self.t.close()
                    return

    async def main():
        srv = await asyncio.get_running_loop().create_server(P, sys.argv[1], int(sys.argv[2]), backlog=1024)
        print("ready", flush=True)
        await srv.serve_forever()

    try:
        import uvloop
        uvloop.run(main())
    except ImportError:
        asyncio.run(main())
    """
)


def wrk(url: str, seconds: int, conns: int, headers: list[str]) -> float:
    cmd = ["wrk", "-t2", f"-c{conns}", f"-d{seconds}s", "--latency"]
    for h in headers:
        cmd += ["-H", h]
    out = subprocess.run([*cmd, url], capture_output=True, text=True, check=True, timeout=seconds + 60).stdout
    m = re.search(r"Requests/sec:\s+([\d.]+)", out)
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if errors:
        print(f"warning: {errors.group(1)} non-2xx responses for {url}", file=sys.stderr)
    return float(m.group(1)) if m else 0.0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=int, default=5)
    ap.add_argument("--connections", type=int, default=32)
    ap.add_argument("--repeat", type=int, default=3, help="runs per path; the median is reported")
    args = ap.parse_args()
    if os.geteuid() != 0 or not shutil.which("nft") or not shutil.which("wrk"):
        sys.exit("bench_services needs root, nft and wrk")

    # The test helpers own the throwaway network and the server fixture; the benchmark reuses them as libraries.
    from tests.proxy.helpers import apply, endpoint_slice, get, service, service_server, wait_until
    from tests.proxy.netlab import NetLab

    work = Path(tempfile.mkdtemp(prefix="kyb-bench-services-"))
    lab = NetLab()
    lab.setup(work)
    proc: subprocess.Popen[str] | None = None
    try:
        pod = lab.pod("bench")
        # The pod closes first on "Connection: close"; without TIME_WAIT in its (throwaway) namespace, masqueraded
        # connections cannot collide with tuples left by the direct runs (same pod address and port).
        lab.exec(pod, "sysctl", "-qw", "net.ipv4.tcp_max_tw_buckets=0")
        (work / "backend.py").write_text(BACKEND)
        proc = subprocess.Popen(
            ["ip", "netns", "exec", pod.netns, sys.executable, str(work / "backend.py"), pod.ip, "8080"],
            stdout=subprocess.PIPE, text=True, start_new_session=True,
        )
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
        with service_server(work / "kyb", "--disable-dns") as (srv, node, _cidr):
            ingress_port = int(srv.extra_args[srv.extra_args.index("--ingress-http-port") + 1])
            apply(
                srv,
                service("bench", [{"name": "http", "port": 80}]),
                endpoint_slice("bench", [(pod.ip, True, node)], [("http", 8080, "TCP")]),
                {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": {"name": "bench"},
                 "spec": {"rules": [{"host": "bench.test", "http": {"paths": [{"path": "/", "pathType": "Prefix",
                          "backend": {"service": {"name": "bench", "port": {"number": 80}}}}]}}]}},
            )
            vip = get(srv, "service", "bench")["spec"]["clusterIP"]
            import urllib.request

            def ok(url: str, host: str = "") -> bool:
                req = urllib.request.Request(url, headers={"Host": host} if host else {})
                with urllib.request.urlopen(req, timeout=2) as r:
                    return r.status == 200

            wait_until(lambda: ok(f"http://{vip}/"), what="ClusterIP")
            wait_until(lambda: ok(f"http://127.0.0.1:{ingress_port}/", "bench.test"), what="Ingress")
            s, c = args.seconds, args.connections
            runs: dict[str, tuple[str, list[str]]] = {
                "direct": (f"http://{pod.ip}:8080/", []),
                "clusterip": (f"http://{vip}/", []),
                "ingress": (f"http://127.0.0.1:{ingress_port}/", ["Host: bench.test"]),
                "direct_close": (f"http://{pod.ip}:8080/", ["Connection: close"]),
                "clusterip_close": (f"http://{vip}/", ["Connection: close"]),
            }
            samples: dict[str, list[float]] = {k: [] for k in runs}
            for _ in range(args.repeat):  # interleaved, so drift on a noisy machine hits every path alike
                for k, (url, hdrs) in runs.items():
                    samples[k].append(wrk(url, s, c, hdrs))
            res = {k: statistics.median(v) for k, v in samples.items()}
    finally:
        if proc is not None:
            os.killpg(proc.pid, 9)
            proc.wait()
        lab.cleanup()
        shutil.rmtree(work, ignore_errors=True)

    load = os.getloadavg()[0]

    def ratio(a: str, b: str) -> str:
        return f"{res[a] / res[b]:.2f}" if res[b] else "n/a"

    text = textwrap.dedent(
        f"""
        ## Services: ClusterIP and Ingress vs direct-to-pod (`python -m bench.bench_services`)

        {machine_line()}; wrk -t2 -c{args.connections} for {args.seconds}s, median of {args.repeat} interleaved runs
        per row, against a minimal asyncio HTTP responder in a network namespace on a bridge, one endpoint behind
        the Service. The ingress runs inside the `kyb server` process (uvloop), sharing it with the API server.
        Load average when done: {load:.1f} (other work on the box moves the absolute numbers, not the ratios much).

        | path | requests/s | vs direct |
        |---|---:|---:|
        | direct to pod IP, keep-alive | {res['direct']:.0f} | 1.00 |
        | ClusterIP (nftables DNAT), keep-alive | {res['clusterip']:.0f} | {ratio('clusterip', 'direct')} |
        | Ingress (Python reverse proxy, endpoints from EndpointSlices), keep-alive | {res['ingress']:.0f} | {ratio('ingress', 'direct')} |
        | direct to pod IP, new connection per request | {res['direct_close']:.0f} | 1.00 |
        | ClusterIP, new connection per request | {res['clusterip_close']:.0f} | {ratio('clusterip_close', 'direct_close')} |

        The ClusterIP costs the kernel one conntrack/NAT lookup per connection, so its ratio stays near 1; the
        ingress parses and re-sends every request in one Python process, which is the cost shown in its row.
        """
    ).strip()
    print(text)
    update_section("bench_services", text)


if __name__ == "__main__":
    main()
