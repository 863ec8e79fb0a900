"""`kyb server`: one process hosting the control plane and, by default, a node agent.

Like k3s, everything runs in one process, but every component except the API server talks to the API over HTTPS
with its own credentials, exactly as it would from another machine.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import logging
import os
import signal
import socket
import ssl
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from aiohttp import web

from kybernetes.apiserver.auth import Authenticator
from kybernetes.apiserver.bootstrap import bootstrap, first_service_ip
from kybernetes.apiserver.server import APIServer
from kybernetes.pki import ensure_server_pki
from kybernetes.registry import strategy_for
from kybernetes.storage import Backend, open_backend

log = logging.getLogger("kyb.server")


@dataclass
class ServerOptions:
    data_dir: Path
    port: int = 6443
    bind_address: str = "0.0.0.0"
    storage: str = "sqlite"
    etcd_endpoints: list[str] = field(default_factory=list)
    etcd_prefix: str = ""
    service_cidr: str = "10.43.0.0/16"
    cluster_cidr: str = "10.42.0.0/16"
    node_name: str = ""
    disable_agent: bool = False
    disable_controllers: bool = False
    disable_scheduler: bool = False
    hollow_nodes: int = 0
    tls_san: list[str] = field(default_factory=list)
    compaction_interval: float = 300.0
    event_ttl: int = 3600
    disable_proxy: bool = False
    disable_dns: bool = False
    disable_ingress: bool = False
    dns_port: int = -1  # -1: ephemeral as root (reached through the Service IP), 10053 otherwise
    ingress_http_port: int = -1  # -1: 80 as root, 8080 otherwise
    ingress_https_port: int = -1  # -1: 443 as root, 8443 otherwise


def default_data_dir() -> Path:
    if os.geteuid() == 0:
        return Path("/var/lib/kybernetes")
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "kybernetes"


def kubeconfig_yaml(server_url: str, ca_pem: bytes, cert_pem: bytes | None, key_pem: bytes | None, token: str | None = None, user: str = "admin") -> str:
    import base64

    def b64(b: bytes) -> str:
        return base64.b64encode(b).decode()

    u: dict[str, Any] = {}
    if cert_pem and key_pem:
        u = {"client-certificate-data": b64(cert_pem), "client-key-data": b64(key_pem)}
    if token:
        u["token"] = token
    cfg = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "kybernetes", "cluster": {"server": server_url, "certificate-authority-data": b64(ca_pem)}}],
        "users": [{"name": user, "user": u}],
        "contexts": [{"name": "kybernetes", "context": {"cluster": "kybernetes", "user": user, "namespace": "default"}}],
        "current-context": "kybernetes",
        "preferences": {},
    }
    return yaml.safe_dump(cfg, sort_keys=False)


def _write_private(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)


class ControlPlane:
    """Starts and stops every component of `kyb server`."""

    def __init__(self, opts: ServerOptions) -> None:
        self.opts = opts
        self.api: APIServer | None = None
        self.runner: web.AppRunner | None = None
        self.components: list[Any] = []
        self._tasks: list[asyncio.Task[None]] = []
        self.kubeconfig_path = opts.data_dir / "kubeconfig.yaml"

    @property
    def url(self) -> str:
        host = "127.0.0.1" if self.opts.bind_address in ("0.0.0.0", "::") else self.opts.bind_address
        return f"https://{host}:{self.opts.port}"

    async def start(self) -> None:
        o = self.opts
        o.data_dir.mkdir(parents=True, exist_ok=True)
        pki = ensure_server_pki(o.data_dir, first_service_ip(o.service_cidr), o.tls_san)
        backend: Backend
        if o.storage == "etcd" and o.etcd_prefix:
            from kybernetes.storage.etcd import EtcdBackend

            backend = EtcdBackend(o.etcd_endpoints, prefix=o.etcd_prefix)
        else:
            backend = open_backend(o.storage, data_dir=str(o.data_dir), etcd_endpoints=o.etcd_endpoints)
        await backend.start()
        authn = Authenticator(o.data_dir / "tokens.csv")
        from kybernetes.proxy.nodeaddr import primary_ipv4

        advertise = await primary_ipv4()
        api = APIServer(backend, authenticator=authn, server_address=f"{advertise}:{o.port}", service_cidr=o.service_cidr)
        api.pki_dir = pki.dir
        self.api = api
        api.store.gc_enabled = True
        api.data_dir = o.data_dir
        strategy_for("", "events").ttl = o.event_ttl
        _install_optional_features(api)
        await api.start()
        if o.compaction_interval > 0:
            from kybernetes.storage.compactor import run_compactor

            self._tasks.append(asyncio.create_task(run_compactor(backend, o.compaction_interval, api.cache.note_compacted), name="compactor"))
        await bootstrap(api, service_cidr=o.service_cidr, advertise_address=advertise, port=o.port)

        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(str(pki.serving_cert_file), str(pki.serving_key_file))
        ctx.load_verify_locations(str(pki.ca_file))
        ctx.verify_mode = ssl.CERT_OPTIONAL
        ctx.set_alpn_protocols(["http/1.1"])
        self.runner = web.AppRunner(api.build_app(), access_log=None, handle_signals=False, shutdown_timeout=2.0)
        await self.runner.setup()
        site = web.TCPSite(self.runner, o.bind_address, o.port, ssl_context=ctx, reuse_address=True, backlog=1024)
        await site.start()
        _write_private(
            self.kubeconfig_path, kubeconfig_yaml(self.url, pki.ca.cert_pem, pki.admin.cert_pem, pki.admin.key_pem)
        )
        await self._start_components(api, authn, pki.ca.cert_pem)

    async def _start_components(self, api: APIServer, authn: Authenticator, ca_pem: bytes) -> None:
        o = self.opts
        from kybernetes.client.rest import Client

        def client_for(user: str, groups: list[str]) -> Client:
            token = _component_token(authn, user, groups)
            return Client(self.url, ca_pem=ca_pem, token=token)

        if not o.disable_controllers:
            from kybernetes.controllers.manager import ControllerManager

            cm = ControllerManager(client_for("system:kube-controller-manager", ["system:masters"]), ca_pem)
            self.components.append(cm)
            await cm.start()
        if not o.disable_scheduler and importlib.util.find_spec("kybernetes.scheduler.scheduler") is not None:
            from kybernetes.scheduler.scheduler import Scheduler

            sched = Scheduler(client_for("system:kube-scheduler", ["system:masters"]))
            self.components.append(sched)
            await sched.start()
        if o.hollow_nodes > 0:
            from kybernetes.hollow import HollowNodePool

            pool = HollowNodePool(client_for("system:hollow-nodes", ["system:nodes", "system:masters"]), o.hollow_nodes)
            self.components.append(pool)
            await pool.start()
        if not o.disable_agent:
            from kybernetes.kubelet.agent import NodeAgent

            agent = NodeAgent(
                client_for(f"system:node:{o.node_name or socket.gethostname()}", ["system:nodes", "system:masters"]),
                node_name=o.node_name or socket.gethostname(),
                data_dir=o.data_dir / "agent",
                cluster_cidr=o.cluster_cidr,
                pki_dir=o.data_dir / "pki",
            )
            self.components.append(agent)
            await agent.start()
        node = o.node_name or socket.gethostname()
        if not o.disable_proxy:
            from kybernetes.proxy.component import make_proxy
            from kybernetes.proxy.servicelb import ServiceLB

            proxy = await make_proxy(client_for("system:kube-proxy", ["system:masters"]), node_name=node, cluster_cidr=o.cluster_cidr)
            self.components.append(proxy)
            await proxy.start()
            lb = ServiceLB(client_for("system:servicelb", ["system:masters"]))
            self.components.append(lb)
            await lb.start()
        if not o.disable_dns:
            from kybernetes.dns.component import ClusterDNS

            root = os.geteuid() == 0
            dns = ClusterDNS(client_for("system:kube-dns", ["system:masters"]), node_name=node, service_cidr=o.service_cidr,
                             port=o.dns_port if o.dns_port >= 0 else (0 if root else 10053))
            self.components.append(dns)
            await dns.start()
        if not o.disable_ingress:
            from kybernetes.ingress.controller import IngressController

            root = os.geteuid() == 0
            ing = IngressController(client_for("system:ingress-controller", ["system:masters"]), node_name=node,
                                    http_port=o.ingress_http_port if o.ingress_http_port >= 0 else (80 if root else 8080),
                                    https_port=o.ingress_https_port if o.ingress_https_port >= 0 else (443 if root else 8443))
            self.components.append(ing)
            await ing.start()

    async def stop(self) -> None:
        for t in self._tasks:
            t.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t
        for c in reversed(self.components):
            with contextlib.suppress(Exception):
                await c.stop()
        if self.runner is not None:
            await self.runner.cleanup()
        if self.api is not None:
            await self.api.stop()
            await self.api.backend.close()


def _component_token(authn: Authenticator, user: str, groups: list[str]) -> str:
    for tok, u in authn.tokens.items():
        if u.username == user:
            return tok
    return authn.add_token(user, groups)


def _install_optional_features(api: APIServer) -> None:
    """Wire features that live in their own packages (server-side apply, CRDs) when present."""
    from kybernetes.apiserver import features

    features.install(api)


async def run(opts: ServerOptions) -> None:
    cp = ControlPlane(opts)
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        await cp.start()
        print(f"kubeconfig: {cp.kubeconfig_path}", flush=True)
        print(f"kybernetes is ready: {cp.url} (storage={opts.storage})", flush=True)
        await stop.wait()
    finally:
        await cp.stop()
