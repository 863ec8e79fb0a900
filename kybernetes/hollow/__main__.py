"""`python -m kybernetes.hollow --kubeconfig F --count N`: run a pool of hollow nodes against any cluster.

The same pool `kyb server --hollow-nodes N` runs in-process, here as a standalone API client authenticated by a
kubeconfig (client certificate or bearer token), so simulated nodes can join a cluster from another machine.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from pathlib import Path

import click

from kybernetes.hollow.kubeconfig import client_from_kubeconfig
from kybernetes.hollow.pool import HollowNodePool


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
