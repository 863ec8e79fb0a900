"""Choosing and starting the proxy for this node: nftables when root with `nft` present, else userspace."""

from __future__ import annotations

import logging
import os
import shutil
from typing import Protocol

from kybernetes.client.rest import Client
from kybernetes.proxy.nodeaddr import local_ipv4_addresses

log = logging.getLogger(__name__)


class Component(Protocol):
    async def start(self) -> None: ...
    async def stop(self) -> None: ...


async def make_proxy(client: Client, *, node_name: str, cluster_cidr: str, mode: str = "auto") -> Component:
    """`mode` is auto, nftables or userspace."""
    if mode == "auto":
        mode = "nftables" if os.geteuid() == 0 and shutil.which("nft") else "userspace"
    if mode == "nftables":
        from kybernetes.proxy.proxier import NftProxier

        return NftProxier(client, node_name=node_name, cluster_cidr=cluster_cidr)
    from kybernetes.proxy.userspace import UserspaceProxy

    log.info("service proxy: userspace mode (NodePorts only)")
    return UserspaceProxy(client, node_name=node_name, node_addresses=await local_ipv4_addresses())
