"""`kyb agent`: a node agent (kubelet) joining an existing cluster, as its own process.

It reads a kubeconfig for the API server address and credentials (client certificate or token), registers the
node and runs its pods. Unlike the agent inside `kyb server`, it leaves pods running when it stops (a restarted
agent re-adopts them), unless `--stop-pods-on-exit` is given.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import os
import signal
import socket
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from kybernetes.client.rest import Client
from kybernetes.kubelet.agent import NodeAgent
from kybernetes.kubelet.kubelet import KubeletConfig

log = logging.getLogger("kyb.agent")


@dataclass
class AgentOptions:
    kubeconfig: Path
    server: str = ""
    node_name: str = ""
    data_dir: Path | None = None
    cluster_cidr: str = "10.42.0.0/16"
    bridge: str = "kyb0"
    cgroup_root: str = "kybernetes"
    run_dir: Path | None = None
    pki_dir: Path | None = None
    kubelet_port: int = 10250
    rootless: bool = False
    stop_pods_on_exit: bool = False
    backoff_base: float = 10.0
    resync_interval: float = 10.0
    volume_sync_interval: float = 10.0


def client_from_kubeconfig(path: Path, server: str = "") -> Client:
    """A Client for the current context of a kubeconfig (certificate data is written to private temp files)."""
    cfg: dict[str, Any] = yaml.safe_load(path.read_text())
    ctx_name = cfg.get("current-context")
    ctx = next((c["context"] for c in cfg.get("contexts") or [] if c.get("name") == ctx_name), None)
    if ctx is None:
        ctx = (cfg.get("contexts") or [{}])[0].get("context", {})
    cluster: dict[str, Any] = next((c["cluster"] for c in cfg.get("clusters") or [] if c.get("name") == ctx.get("cluster")), {})
    user: dict[str, Any] = next((u["user"] for u in cfg.get("users") or [] if u.get("name") == ctx.get("user")), {})

    def data(d: dict[str, Any], key: str) -> bytes | None:
        if d.get(f"{key}-data"):
            return base64.b64decode(d[f"{key}-data"])
        if d.get(key):
            return Path(d[key]).read_bytes()
        return None

    ca = data(cluster, "certificate-authority")
    cert, key = data(user, "client-certificate"), data(user, "client-key")
    # ssl only loads a client certificate from files: write them privately, load them, remove them.
    with tempfile.TemporaryDirectory(prefix="kyb-agent-") as tmp:
        cert_file = key_file = None
        if cert and key:
            cert_file, key_file = Path(tmp) / "client.crt", Path(tmp) / "client.key"
            for f, b in ((cert_file, cert), (key_file, key)):
                fd = os.open(f, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                with os.fdopen(fd, "wb") as fh:
                    fh.write(b)
        return Client(
            server or str(cluster.get("server", "")),
            ca_pem=ca,
            token=user.get("token"),
            cert_file=str(cert_file) if cert_file else None,
            key_file=str(key_file) if key_file else None,
            user_agent="kyb-agent",
            insecure=bool(cluster.get("insecure-skip-tls-verify")),
        )


def default_agent_dir() -> Path:
    if os.geteuid() == 0:
        return Path("/var/lib/kybernetes/agent")
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "kybernetes" / "agent"


async def run_agent(o: AgentOptions) -> None:
    client = client_from_kubeconfig(o.kubeconfig, o.server)
    node = o.node_name or socket.gethostname()
    data_dir = (o.data_dir or default_agent_dir()).absolute()
    cfg = KubeletConfig(
        node_name=node,
        data_dir=data_dir,
        run_dir=o.run_dir,
        bridge=o.bridge,
        cgroup_root=o.cgroup_root,
        root=False if o.rootless else None,
        stop_pods_on_exit=o.stop_pods_on_exit,
        backoff_base=o.backoff_base,
        resync_interval=o.resync_interval,
        volume_sync_interval=o.volume_sync_interval,
    )
    agent = NodeAgent(
        client, node_name=node, data_dir=data_dir, cluster_cidr=o.cluster_cidr, kubelet_config=cfg,
        pki_dir=o.pki_dir, kubelet_port=o.kubelet_port,
    )
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        await agent.start()
        print(f"kyb agent is ready: node {node} ({agent.mode} mode, podCIDR {agent.pod_cidr}, "
              f"kubelet port {agent.kubelet_port})", flush=True)
        await stop.wait()
    finally:
        await agent.stop()
