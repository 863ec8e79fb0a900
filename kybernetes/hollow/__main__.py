"""`python -m kybernetes.hollow --kubeconfig F --count N`: run a pool of hollow nodes against any cluster.

The same pool `kyb server --hollow-nodes N` runs in-process, here as a standalone API client authenticated by a
kubeconfig (client certificate or bearer token), so simulated nodes can join a cluster from another machine.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import os
import signal
import tempfile
from pathlib import Path
from typing import Any

import click
import yaml

from kybernetes.client.rest import Client
from kybernetes.hollow.pool import HollowNodePool


def client_from_kubeconfig(path: Path, user_agent: str = "kybernetes-hollow") -> Client:
    cfg: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
    ctx_name = cfg.get("current-context")
    ctx = next((c["context"] for c in cfg.get("contexts", []) if c.get("name") == ctx_name), None)
    if ctx is None:
        raise click.UsageError(f"{path}: no current context")
    cluster = next(c["cluster"] for c in cfg.get("clusters", []) if c.get("name") == ctx["cluster"])
    user: dict[str, Any] = next((u["user"] for u in cfg.get("users", []) if u.get("name") == ctx.get("user")), {})
    ca: bytes | None = None
    if cluster.get("certificate-authority-data"):
        ca = base64.b64decode(cluster["certificate-authority-data"])
    elif cluster.get("certificate-authority"):
        ca = Path(cluster["certificate-authority"]).read_bytes()
    cert = user.get("client-certificate")
    key = user.get("client-key")
    with tempfile.TemporaryDirectory(prefix="kyb-hollow-") as tmp:
        if user.get("client-certificate-data") and user.get("client-key-data"):
            cert, key = os.path.join(tmp, "c.pem"), os.path.join(tmp, "k.pem")
            for p, field in ((cert, "client-certificate-data"), (key, "client-key-data")):
                fd = os.open(p, os.O_WRONLY | os.O_CREAT, 0o600)
                with os.fdopen(fd, "wb") as f:
                    f.write(base64.b64decode(user[field]))
        # The SSL context reads the files now; they may go away afterwards.
        return Client(
            cluster["server"],
            ca_pem=ca,
            token=user.get("token"),
            cert_file=cert,
            key_file=key,
            insecure=bool(cluster.get("insecure-skip-tls-verify")),
            user_agent=user_agent,
        )


async def _run(pool: HollowNodePool) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await pool.start()
    print(f"hollow nodes ready: {len(pool.nodes)}", flush=True)
    try:
        await stop.wait()
    finally:
        await pool.stop()


@click.command()
@click.option("--kubeconfig", type=click.Path(exists=True, path_type=Path), required=True)
@click.option("--count", type=int, required=True, help="How many nodes to simulate.")
@click.option("--name-prefix", default="hollow-", show_default=True)
@click.option("--first-index", type=int, default=0, show_default=True, help="Number of the first node.")
@click.option("--running-delay", type=float, default=0.0, show_default=True, help="Seconds from bound to Running.")
@click.option("--job-duration", type=float, default=1.0, show_default=True, help="Seconds a Job's pod runs.")
@click.option("--heartbeat-interval", type=float, default=10.0, show_default=True)
@click.option("--concurrency", type=int, default=32, show_default=True, help="Requests in flight at most.")
@click.option("-v", "--verbose", count=True)
def main(
    kubeconfig: Path,
    count: int,
    name_prefix: str,
    first_index: int,
    running_delay: float,
    job_duration: float,
    heartbeat_interval: float,
    concurrency: int,
    verbose: int,
) -> None:
    """Register COUNT hollow nodes and keep them alive until interrupted."""
    logging.basicConfig(level=logging.DEBUG if verbose > 1 else logging.INFO if verbose else logging.WARNING)

    async def go() -> None:
        pool = HollowNodePool(
            client_from_kubeconfig(kubeconfig),
            count,
            name_prefix=name_prefix,
            first_index=first_index,
            running_delay=running_delay,
            job_duration=job_duration,
            heartbeat_interval=heartbeat_interval,
            concurrency=concurrency,
        )
        await _run(pool)

    asyncio.run(go())


if __name__ == "__main__":
    main()
