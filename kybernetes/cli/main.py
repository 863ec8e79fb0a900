"""The `kyb` command line: `kyb server` brings up a cluster, `kyb agent` joins a node."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import click


@click.group()
@click.option("-v", "--verbose", count=True, help="More logging.")
def main(verbose: int) -> None:
    """kybernetes: Kubernetes, written in Python."""
    logging.basicConfig(
        level=logging.DEBUG if verbose > 1 else logging.INFO if verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


@main.command()
@click.option("--data-dir", type=click.Path(path_type=Path), default=None, help="State, certificates and kubeconfig.")
@click.option("--port", type=int, default=6443, show_default=True, help="HTTPS port of the API server.")
@click.option("--bind-address", default="0.0.0.0", show_default=True)
@click.option("--storage", type=click.Choice(["sqlite", "etcd"]), default="sqlite", show_default=True)
@click.option("--etcd-endpoints", default="", help="Comma-separated etcd client URLs (with --storage etcd).")
@click.option("--etcd-prefix", default="", help="Key prefix inside etcd (several clusters can share one etcd).")
@click.option("--service-cidr", default="10.43.0.0/16", show_default=True)
@click.option("--cluster-cidr", default="10.42.0.0/16", show_default=True)
@click.option("--node-name", default="", help="Name of this server's node (default: hostname).")
@click.option("--disable-agent", is_flag=True, help="Run no node agent in this process.")
@click.option("--disable-controllers", is_flag=True, help="Run no controller manager in this process.")
@click.option("--disable-scheduler", is_flag=True, help="Run no scheduler in this process.")
@click.option("--hollow-nodes", type=int, default=0, help="Also register N simulated nodes.")
@click.option("--compaction-interval", type=float, default=300.0, show_default=True,
              help="Seconds between storage compactions (each compacts to the revision seen at the last one).")
@click.option("--tls-san", multiple=True, help="Extra name or IP for the serving certificate.")
@click.option("--disable-proxy", is_flag=True, help="Run no service proxy / service load balancer in this process.")
@click.option("--disable-dns", is_flag=True, help="Run no cluster DNS in this process.")
@click.option("--disable-ingress", is_flag=True, help="Run no ingress controller in this process.")
@click.option("--dns-port", type=int, default=-1, help="Cluster DNS port on the node address (default: any free one as root, else 10053).")
@click.option("--ingress-http-port", type=int, default=-1, help="Ingress HTTP port (default: 80 as root, else 8080).")
@click.option("--ingress-https-port", type=int, default=-1, help="Ingress HTTPS port (default: 443 as root, else 8443).")
@click.option("--event-ttl", default="1h", show_default=True,
              help="How long Events are kept, as seconds or a Go duration (90s, 5m, 1h0m0s).")
def server(
    data_dir: Path | None,
    port: int,
    bind_address: str,
    storage: str,
    etcd_endpoints: str,
    etcd_prefix: str,
    service_cidr: str,
    cluster_cidr: str,
    node_name: str,
    disable_agent: bool,
    disable_controllers: bool,
    disable_scheduler: bool,
    hollow_nodes: int,
    compaction_interval: float,
    tls_san: tuple[str, ...],
    disable_proxy: bool,
    disable_dns: bool,
    disable_ingress: bool,
    dns_port: int,
    ingress_http_port: int,
    ingress_https_port: int,
    event_ttl: str,
) -> None:
    """Start the control plane (and a node agent) and write a kubeconfig."""
    from kybernetes.cli.server import ServerOptions, default_data_dir, run

    if storage == "etcd" and not etcd_endpoints:
        raise click.UsageError("--storage etcd needs --etcd-endpoints")
    opts = ServerOptions(
        data_dir=(data_dir or default_data_dir()).absolute(),
        port=port,
        bind_address=bind_address,
        storage=storage,
        etcd_endpoints=[e for e in etcd_endpoints.split(",") if e],
        etcd_prefix=etcd_prefix,
        service_cidr=service_cidr,
        cluster_cidr=cluster_cidr,
        node_name=node_name,
        disable_agent=disable_agent,
        disable_controllers=disable_controllers,
        disable_scheduler=disable_scheduler,
        hollow_nodes=hollow_nodes,
        tls_san=list(tls_san),
        compaction_interval=compaction_interval,
        disable_proxy=disable_proxy,
        disable_dns=disable_dns,
        disable_ingress=disable_ingress,
        dns_port=dns_port,
        ingress_http_port=ingress_http_port,
        ingress_https_port=ingress_https_port,
        event_ttl=_duration_seconds(event_ttl, "--event-ttl"),
    )
    _run(run(opts))


def _duration_seconds(text: str, option: str) -> int:
    """Whole seconds from `90`, `90s`, `5m` or `1h0m0s` (the Go duration forms upstream flags take)."""
    import re

    if text.isdigit():
        return int(text)
    m = re.fullmatch(r"(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?", text)
    if not text or m is None:
        raise click.BadParameter(f"invalid duration {text!r}", param_hint=option)
    hours, minutes, seconds = (int(g or 0) for g in m.groups())
    return hours * 3600 + minutes * 60 + seconds


@main.command()
@click.option("--server", default="", help="API server URL (default: the kubeconfig's).")
@click.option("--kubeconfig", type=click.Path(path_type=Path, exists=True), required=True)
@click.option("--node-name", default="", help="Node name (default: hostname).")
@click.option("--data-dir", type=click.Path(path_type=Path), default=None, help="Kubelet state, pod volumes and logs.")
@click.option("--cluster-cidr", default="10.42.0.0/16", show_default=True, help="This node's podCIDR is taken from it.")
@click.option("--bridge", default="kyb0", show_default=True, help="Node bridge for pod networks (root mode).")
@click.option("--cgroup-root", default="kybernetes", show_default=True)
@click.option("--run-dir", type=click.Path(path_type=Path), default=None, help="Host-wide runtime files.")
@click.option("--pki-dir", type=click.Path(path_type=Path), default=None,
              help="Cluster CA (ca.crt, ca.key) to issue the kubelet serving certificate from.")
@click.option("--kubelet-port", type=int, default=10250, show_default=True, help="0: any free port.")
@click.option("--rootless", is_flag=True, help="Run pods as plain host processes even as root.")
@click.option("--stop-pods-on-exit", is_flag=True, help="Stop every pod when the agent stops.")
@click.option("--crashloop-backoff", type=float, default=10.0, show_default=True, help="First restart delay (s).")
@click.option("--resync-interval", type=float, default=10.0, show_default=True)
@click.option("--volume-sync-interval", type=float, default=10.0, show_default=True)
def agent(**kw: object) -> None:
    """Join a cluster as a node: register it, run its pods."""
    from kybernetes.kubelet.cli import AgentOptions, run_agent

    kw["backoff_base"] = kw.pop("crashloop_backoff")
    _run(run_agent(AgentOptions(**kw)))  # type: ignore[arg-type]


def _run(coro: object) -> None:
    try:
        import uvloop

        uvloop.run(coro)  # type: ignore[arg-type]
    except ImportError:
        asyncio.run(coro)  # type: ignore[arg-type]


if __name__ == "__main__":
    main()
