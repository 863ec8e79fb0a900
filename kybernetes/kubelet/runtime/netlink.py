"""Just enough rtnetlink to wire a pod's network namespace without spawning `ip` (which costs a process each time).

Creating a pod network is: a new network namespace (unshare on a fresh thread, bind-mounted at /run/netns/NAME like
`ip netns add`), a veth pair made from inside it with the host end moved to the host namespace, the host end put on
the bridge and brought up, and eth0 given its address and a default route. All of it is a handful of netlink
messages from one short-lived thread: about a millisecond instead of two `ip` processes.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import socket
import struct
import threading

NETLINK_ROUTE = 0
RTM_NEWLINK = 16
RTM_DELLINK = 17
RTM_NEWADDR = 20
RTM_NEWROUTE = 24
NLM_F_REQUEST = 0x1
NLM_F_ACK = 0x4
NLM_F_EXCL = 0x200
NLM_F_CREATE = 0x400
NLMSG_ERROR = 2
IFLA_IFNAME = 3
IFLA_MASTER = 10
IFLA_LINKINFO = 18
IFLA_NET_NS_FD = 28
IFLA_INFO_KIND = 1
IFLA_INFO_DATA = 2
VETH_INFO_PEER = 1
IFA_ADDRESS = 1
IFA_LOCAL = 2
RTA_GATEWAY = 5
RTA_OIF = 4
IFF_UP = 0x1
RT_TABLE_MAIN = 254
RTPROT_BOOT = 3
RT_SCOPE_UNIVERSE = 0
RTN_UNICAST = 1
CLONE_NEWNET = 0x40000000


class NetlinkError(OSError):
    pass


def _attr(kind: int, payload: bytes) -> bytes:
    length = 4 + len(payload)
    return struct.pack("=HH", length, kind) + payload + b"\0" * ((4 - length % 4) % 4)


def _str(kind: int, s: str) -> bytes:
    return _attr(kind, s.encode() + b"\0")


def _u32(kind: int, v: int) -> bytes:
    return _attr(kind, struct.pack("=I", v))


def _ifinfo(index: int = 0, flags: int = 0, change: int = 0) -> bytes:
    return struct.pack("=BxHiII", socket.AF_UNSPEC, 0, index, flags, change)


class Netlink:
    """A NETLINK_ROUTE socket bound to the network namespace of the thread that opened it."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_ROUTE)
        self.sock.bind((0, 0))
        self.seq = 0

    def close(self) -> None:
        self.sock.close()

    def request(self, msg_type: int, flags: int, body: bytes) -> None:
        self.seq += 1
        header = struct.pack("=IHHII", 16 + len(body), msg_type, flags | NLM_F_REQUEST | NLM_F_ACK, self.seq, 0)
        self.sock.send(header + body)
        while True:
            data = self.sock.recv(65536)
            off = 0
            while off + 16 <= len(data):
                length, typ, _flags, seq, _pid = struct.unpack_from("=IHHII", data, off)
                if typ == NLMSG_ERROR and seq == self.seq:
                    (err,) = struct.unpack_from("=i", data, off + 16)
                    if err:
                        raise NetlinkError(-err, os.strerror(-err))
                    return
                off += (length + 3) & ~3

    def link_set(self, name: str, *, up: bool = True, master: int | None = None) -> None:
        attrs = _str(IFLA_IFNAME, name)
        if master is not None:
            attrs += _u32(IFLA_MASTER, master)
        self.request(RTM_NEWLINK, 0, _ifinfo(0, IFF_UP if up else 0, IFF_UP) + attrs)

    def veth(self, name: str, peer: str, peer_netns_fd: int) -> None:
        """veth `name` here, its peer `peer` in the namespace of `peer_netns_fd`."""
        peer_info = _ifinfo() + _str(IFLA_IFNAME, peer) + _u32(IFLA_NET_NS_FD, peer_netns_fd)
        info = _str(IFLA_INFO_KIND, "veth") + _attr(IFLA_INFO_DATA, _attr(VETH_INFO_PEER, peer_info))
        self.request(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, _ifinfo() + _str(IFLA_IFNAME, name) + _attr(IFLA_LINKINFO, info))

    def delete_link(self, name: str) -> None:
        self.request(RTM_DELLINK, 0, _ifinfo() + _str(IFLA_IFNAME, name))

    def addr_add(self, index: int, ip: str, prefix: int) -> None:
        packed = ipaddress.IPv4Address(ip).packed
        body = struct.pack("=BBBBI", socket.AF_INET, prefix, 0, RT_SCOPE_UNIVERSE, index)
        self.request(RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL, body + _attr(IFA_LOCAL, packed) + _attr(IFA_ADDRESS, packed))

    def default_route(self, index: int, gateway: str) -> None:
        body = struct.pack("=BBBBBBBBI", socket.AF_INET, 0, 0, 0, RT_TABLE_MAIN, RTPROT_BOOT, RT_SCOPE_UNIVERSE,
                           RTN_UNICAST, 0)
        gw = ipaddress.IPv4Address(gateway).packed
        self.request(RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL, body + _attr(RTA_GATEWAY, gw) + _u32(RTA_OIF, index))


def create_pod_netns(
    netns_path: str, host_veth: str, bridge: str, ip: str, prefix: int, gateway: str
) -> None:
    """Make the network namespace at `netns_path` wired to `bridge`. Run on a fresh thread (it changes its netns)."""
    from kybernetes.kubelet.runtime import linux

    bridge_index = socket.if_nametoindex(bridge)
    host = Netlink()
    host_ns = os.open(f"/proc/self/task/{threading.get_native_id()}/ns/net", os.O_RDONLY | os.O_CLOEXEC)
    try:
        os.makedirs(os.path.dirname(netns_path), exist_ok=True)
        with open(netns_path, "w"):
            pass
        linux.unshare(CLONE_NEWNET)
        linux.bind_mount(f"/proc/self/task/{threading.get_native_id()}/ns/net", netns_path)
        pod = Netlink()
        try:
            pod.veth("eth0", host_veth, host_ns)
            host.link_set(host_veth, up=True, master=bridge_index)
            pod.link_set("lo", up=True)
            pod.link_set("eth0", up=True)
            index = socket.if_nametoindex("eth0")
            pod.addr_add(index, ip, prefix)
            pod.default_route(index, gateway)
        finally:
            pod.close()
    finally:
        host.close()
        os.close(host_ns)


def delete_netns(netns_path: str, host_veth: str) -> None:
    """Remove a pod network namespace (its veth pair goes with it once nothing holds the namespace)."""
    from kybernetes.kubelet.runtime import linux

    if os.path.exists(f"/sys/class/net/{host_veth}"):
        nl = Netlink()
        try:
            with contextlib.suppress(OSError):
                nl.delete_link(host_veth)
        finally:
            nl.close()
    with contextlib.suppress(OSError):
        linux.umount(netns_path)
    with contextlib.suppress(OSError):
        os.unlink(netns_path)
