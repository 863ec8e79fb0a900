"""The few Linux system calls Python 3.11 lacks (setns, unshare, mount, umount2), for use inside the kubelet.

Namespace changes here are made only on a fresh, dedicated thread (`in_fresh_thread`) that ends right after: a
thread's uts/ipc/net namespace is its own, so the kubelet's other threads never see them. This is how a pod's
persistent UTS/IPC namespaces are made and how port-forward opens a socket inside a pod's network namespace
without spawning a process.
"""

from __future__ import annotations

import asyncio
import ctypes
import os
import threading
from collections.abc import Callable
from typing import TypeVar

CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWNET = 0x40000000
MS_BIND = 4096
MNT_DETACH = 2

_libc = ctypes.CDLL(None, use_errno=True)

T = TypeVar("T")


def _check(rc: int, what: str) -> None:
    if rc != 0:
        e = ctypes.get_errno()
        raise OSError(e, f"{what}: {os.strerror(e)}")


def setns(path: str, nstype: int) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        _check(_libc.setns(fd, nstype), f"setns {path}")
    finally:
        os.close(fd)


def unshare(flags: int) -> None:
    _check(_libc.unshare(flags), "unshare")


def bind_mount(src: str, dst: str) -> None:
    _check(_libc.mount(src.encode(), dst.encode(), None, ctypes.c_ulong(MS_BIND), None), f"mount {dst}")


def is_mount_point(path: str) -> bool:
    """From mountinfo: os.path.ismount cannot see a directory bind-mounted onto itself (same device)."""
    target = os.path.realpath(path)
    try:
        with open("/proc/self/mountinfo", encoding="utf-8") as f:
            return any(line.split()[4] == target for line in f)
    except OSError:
        return False


def self_bind(path: str) -> None:
    """Make `path` a mount point of its own (like `ip netns` does with /run/netns), so its subtree detaches at once."""
    os.makedirs(path, exist_ok=True)
    if not is_mount_point(path):
        bind_mount(path, path)


def unbind_if_unused(path: str) -> None:
    """Undo `self_bind` once nothing is mounted below `path` any more."""
    target = os.path.realpath(path)
    try:
        with open("/proc/self/mountinfo", encoding="utf-8") as f:
            points = [line.split()[4] for line in f]
    except OSError:
        return
    if target in points and not any(p.startswith(target + "/") for p in points):
        try:
            _check(_libc.umount2(target.encode(), MNT_DETACH), f"umount {target}")
        except OSError:
            pass


def umount(path: str) -> None:
    _check(_libc.umount2(path.encode(), MNT_DETACH), f"umount {path}")


def mount_tmpfs(dst: str, options: str) -> None:
    _check(_libc.mount(b"tmpfs", dst.encode(), b"tmpfs", ctypes.c_ulong(2 | 4), options.encode() or None), f"mount {dst}")


async def in_fresh_thread(fn: Callable[[], T]) -> T:
    """Run `fn` on a new thread that exits afterwards (namespace changes die with it)."""
    loop = asyncio.get_running_loop()
    fut: asyncio.Future[T] = loop.create_future()

    def settle(res: T | None, err: BaseException | None) -> None:
        if fut.done():
            return
        if err is not None:
            fut.set_exception(err)
        else:
            fut.set_result(res)  # type: ignore[arg-type]

    def target() -> None:
        try:
            res = fn()
        except BaseException as e:
            loop.call_soon_threadsafe(settle, None, e)
        else:
            loop.call_soon_threadsafe(settle, res, None)

    threading.Thread(target=target, name="kyb-ns", daemon=True).start()
    return await fut


def make_pod_namespaces(ns_dir: str, hostname: str, uts: bool, ipc: bool) -> None:
    """Create persistent UTS (with `hostname`) and IPC namespaces bind-mounted at ns_dir/uts and ns_dir/ipc.

    Must run on a fresh thread (see `in_fresh_thread`).
    """
    flags = (CLONE_NEWUTS if uts else 0) | (CLONE_NEWIPC if ipc else 0)
    if not flags:
        return
    os.makedirs(ns_dir, exist_ok=True)
    unshare(flags)
    tid = threading.get_native_id()
    if uts:
        name = hostname.encode()[:64]
        _check(_libc.sethostname(name, len(name)), "sethostname")
    for kind, wanted in (("uts", uts), ("ipc", ipc)):
        if wanted:
            target = os.path.join(ns_dir, kind)
            with open(target, "w"):
                pass
            bind_mount(f"/proc/{os.getpid()}/task/{tid}/ns/{kind}", target)


def remove_pod_namespaces(ns_dir: str) -> None:
    for kind in ("uts", "ipc"):
        target = os.path.join(ns_dir, kind)
        if os.path.exists(target):
            try:
                umount(target)
            except OSError:
                pass
            try:
                os.unlink(target)
            except OSError:
                pass
    try:
        os.rmdir(ns_dir)
    except OSError:
        pass
