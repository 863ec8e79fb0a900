"""This machine's addresses, for the components that serve on "the node": NodePorts, LoadBalancer ingress, DNS.

The node's primary address is taken from the interface of the default route rather than from the hostname,
because on many machines the hostname resolves to 127.0.0.1, which pods in their own network namespaces cannot
reach.
"""

from __future__ import annotations

import asyncio
import json
import shutil


async def _ip_json(*args: str) -> list[dict[str, object]]:
    exe = shutil.which("ip")
    if exe is None:
        return []
    proc = await asyncio.create_subprocess_exec(
        exe, "-j", *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL
    )
    out, _ = await proc.communicate()
    try:
        data = json.loads(out or b"[]")
    except ValueError:
        return []
    return data if isinstance(data, list) else []


async def local_ipv4_addresses() -> list[str]:
    """Every IPv4 address configured on this host (loopback included)."""
    out: list[str] = []
    for link in await _ip_json("-4", "addr", "show"):
        for a in link.get("addr_info") or []:  # type: ignore[attr-defined]
            if a.get("family") == "inet" and a.get("local"):
                out.append(str(a["local"]))
    return out or ["127.0.0.1"]


async def primary_ipv4() -> str:
    """The address of the default route's interface, else the first non-loopback address, else 127.0.0.1."""
    routes = await _ip_json("-4", "route", "show", "default")
    dev = str(routes[0].get("dev", "")) if routes else ""
    if dev:
        for link in await _ip_json("-4", "addr", "show", "dev", dev):
            for a in link.get("addr_info") or []:  # type: ignore[attr-defined]
                if a.get("family") == "inet" and a.get("local"):
                    return str(a["local"])
    for addr in await local_ipv4_addresses():
        if not addr.startswith("127."):
            return addr
    return "127.0.0.1"
