"""The process runtime: pods as host processes, isolated with namespaces and cgroups when running as root.

A sandbox is the pod's network (netns + veth on the node bridge + pod IP), persistent UTS (hostname = pod name) and
IPC namespaces, and a pod cgroup — no pause process: the namespaces are bind-mounted files. A container is one
command run by a shim (see shim.py) in its own session, its own pid namespace (its command is pid 1 there, as in
upstream pods without shareProcessNamespace) and its own mount namespace holding its volume mounts, joined to the
pod's namespaces and to its own cgroups. Without root, containers are plain host processes in their own session.

Every state change is persisted (state.py), and exits are observed through pidfds, which work for processes a
previous kubelet started as well as for our own children, so a restarted kubelet re-adopts running containers.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import marshal
import os
import secrets
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from kybernetes.kubelet.runtime import linux, procfs
from kybernetes.kubelet.runtime.api import (
    ContainerConfig,
    ContainerEvent,
    ContainerState,
    ContainerStats,
    ContainerStatus,
    PodSandboxConfig,
    Resources,
    RuntimeError_,
    SandboxState,
    SandboxStatus,
)
from kybernetes.kubelet.runtime.cgroups import Cgroups
from kybernetes.kubelet.runtime.janitor import Registry
from kybernetes.kubelet.runtime.network import NETNS_DIR, BridgeNetwork, teardown_netns, veth_name
from kybernetes.kubelet.runtime.spawner import Spawner, python_argv
from kybernetes.kubelet.runtime.state import ContainerRecord, RecordStore, SandboxRecord
from kybernetes.kubelet.runtime.streams import attach_streams
from kybernetes.streaming.process import run_process
from kybernetes.streaming.runtime_api import (
    ContainerNotRunning,
    InputStream,
    OutputStream,
    PortForwardError,
    ResizeQueue,
    StreamingError,
)

log = logging.getLogger(__name__)

SHIM_START_TIMEOUT = 20.0
VERSION = "process://kybernetes"


class ProcessRuntime:
    """CRI-shaped runtime running containers as host processes (see the module docstring)."""

    def __init__(
        self,
        data_dir: Path,
        *,
        run_dir: Path,
        host_ip: str,
        bridge: str = "kyb0",
        cgroup_root: str = "kybernetes",
        root: bool | None = None,
        egress: bool = True,
    ) -> None:
        self.root = os.geteuid() == 0 if root is None else root
        self.egress = egress
        self.mode = "root" if self.root else "rootless"
        self.data_dir = data_dir
        self.run_dir = run_dir
        self.host_ip = host_ip
        self.bridge = bridge
        self.store = RecordStore(data_dir / "runtime")
        self.cdir_root = data_dir / "runtime" / "c"
        self.cgroups = Cgroups(cgroup_root) if self.root else Cgroups.__new__(Cgroups)
        if not self.root:
            self.cgroups.available = False
            self.cgroups.mounts = {}
            self.cgroups.root = cgroup_root
        self.network: BridgeNetwork | None = None
        self.sandboxes: dict[str, SandboxRecord] = {}
        self.containers: dict[str, ContainerRecord] = {}
        self._children: dict[str, subprocess.Popen[bytes]] = {}
        self._watching: dict[str, int] = {}
        self._exited: dict[str, asyncio.Event] = {}
        self._callbacks: list[Callable[[ContainerEvent], None]] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._bg: set[asyncio.Task[None]] = set()
        self.registry = Registry(run_dir, data_dir, cgroup_root) if self.root else None
        self.mount_parents = [str(NETNS_DIR), str(run_dir / "ns"), str(data_dir / "pods")]
        """Directories made mount points of their own, holding every pod's namespace files and volume mounts."""
        self.spawner = Spawner(data_dir / "runtime" / "zygote.log", str(data_dir.absolute()))

    # ------------------------------------------------------------------ lifecycle
    def version(self) -> str:
        return VERSION

    def set_pod_cidr(self, cidr: str) -> None:
        if self.root and self.network is None and cidr:
            self.network = BridgeNetwork(self.bridge, cidr, self.run_dir, egress=self.egress)

    def subscribe(self, callback: Callable[[ContainerEvent], None]) -> None:
        self._callbacks.append(callback)

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self.cdir_root.mkdir(parents=True, exist_ok=True)
        if self.registry is not None:
            await asyncio.to_thread(self.registry.register)
            await self.janitor()
            for p in self.mount_parents:
                linux.self_bind(p)
        sbs, cts = await asyncio.to_thread(self.store.load)
        self.sandboxes = {s.id: s for s in sbs}
        self.containers = {c.id: c for c in cts}
        for c in cts:
            if c.state == ContainerState.RUNNING:
                if procfs.alive(c.pid, c.pid_start):
                    self._watch(c)
                else:
                    self._finish(c)

    async def janitor(self) -> None:
        """Remove what kubelets that are gone for good left on this host (see janitor.py)."""
        if self.registry is None:
            return
        for entry in await asyncio.to_thread(self.registry.sweep):
            if entry.get("netns"):
                await teardown_netns(str(entry["netns"]), str(entry.get("ip") or ""), Path(str(entry["ipam_dir"])))
            self.registry.done(entry)

    async def close(self) -> None:
        for cid in list(self._watching):
            self._unwatch(cid)
        if self._bg:
            await asyncio.gather(*self._bg, return_exceptions=True)
        if self.registry is not None:
            self.registry.unregister()
            for p in self.mount_parents[1:]:
                linux.unbind_if_unused(p)
        self.spawner.close()
        if self.network is not None:
            await self.network.close()
        self.cgroups.remove_root_if_empty()

    # ------------------------------------------------------------------ sandboxes
    async def run_pod_sandbox(self, config: PodSandboxConfig) -> str:
        sid = secrets.token_hex(32)
        rec = SandboxRecord(
            id=sid,
            uid=config.uid,
            name=config.name,
            namespace=config.namespace,
            attempt=config.attempt,
            created_at=time.time_ns(),
            hostname=config.hostname or config.name,
            host_network=config.host_network,
            host_pid=config.host_pid,
            host_ipc=config.host_ipc,
            labels=dict(config.labels),
            annotations=dict(config.annotations),
            ip=self.host_ip,
        )
        self.sandboxes[sid] = rec
        self.store.save(rec)
        if not self.root:
            return sid
        try:
            if not config.host_network:
                if self.network is None:
                    raise RuntimeError_("NetworkNotReady", "the node has no podCIDR yet")
                rec.netns = f"kyb-{sid[:12]}"
            uts, ipc = not config.host_network, not config.host_ipc
            if uts or ipc:
                rec.ns_dir = str(self.run_dir / "ns" / sid[:16])
            self.store.save(rec)
            self._index(rec)
            if rec.netns and self.network is not None:
                rec.ip = await self.network.setup(rec.netns)
                self._index(rec)
            if uts or ipc:
                ns_dir, host = rec.ns_dir, rec.hostname
                await linux.in_fresh_thread(lambda: linux.make_pod_namespaces(ns_dir, host, uts, ipc))
            self.cgroups.create_pod(config.uid)  # a few mkdirs: inline, never queued behind slow removals
        except Exception as e:
            await self._teardown_sandbox(rec)
            await asyncio.to_thread(self.cgroups.remove_pod, rec.uid)
            self.sandboxes.pop(sid, None)
            self.store.delete(rec)
            if self.registry is not None:
                self.registry.remove_sandbox(sid)
            if isinstance(e, RuntimeError_):
                raise
            raise RuntimeError_("CreatePodSandboxError", f"failed to create pod sandbox: {e}") from e
        self.store.save(rec)
        return sid

    def _index(self, rec: SandboxRecord) -> None:
        if self.registry is not None:
            self.registry.add_sandbox(rec.id, {
                "uid": rec.uid, "netns": rec.netns, "ip": rec.ip if rec.netns else "", "ns_dir": rec.ns_dir,
                "ipam_dir": str(self.run_dir / "ipam" / self.bridge),
            })

    async def _teardown_sandbox(self, rec: SandboxRecord) -> None:
        if rec.netns:
            await teardown_netns(rec.netns, rec.ip, self.run_dir / "ipam" / self.bridge)
        if rec.ns_dir:
            await asyncio.to_thread(linux.remove_pod_namespaces, rec.ns_dir)

    async def stop_pod_sandbox(self, sandbox_id: str) -> None:
        rec = self.sandboxes.get(sandbox_id)
        if rec is None:
            return
        await asyncio.gather(
            *(self.stop_container(c.id, 0) for c in list(self.containers.values()) if c.sandbox_id == sandbox_id)
        )
        if rec.ready:
            await self._teardown_sandbox(rec)
            rec.ready = False
            self.store.save(rec)
        if self._bg:
            await asyncio.gather(*self._bg, return_exceptions=True)
        if not any(s.uid == rec.uid and s.ready for s in self.sandboxes.values()):
            await asyncio.to_thread(self.cgroups.remove_pod, rec.uid)

    async def remove_pod_sandbox(self, sandbox_id: str) -> None:
        rec = self.sandboxes.get(sandbox_id)
        if rec is None:
            return
        await self.stop_pod_sandbox(sandbox_id)
        for c in [c for c in self.containers.values() if c.sandbox_id == sandbox_id]:
            await self.remove_container(c.id)
        if not any(s.uid == rec.uid and s.id != sandbox_id for s in self.sandboxes.values()):
            await asyncio.to_thread(self.cgroups.remove_pod, rec.uid)
        await asyncio.to_thread(self._remove_mount_points, rec)
        # Forget it only once everything is gone, so an interrupted removal is finished by the next one.
        self.sandboxes.pop(sandbox_id, None)
        self.store.delete(rec)
        if self.registry is not None:
            self.registry.remove_sandbox(sandbox_id)

    def _remove_mount_points(self, rec: SandboxRecord) -> None:
        """Remove the empty mount points this sandbox created on the host, unless another sandbox uses them."""
        others = {p for s in self.sandboxes.values() if s.id != rec.id for p in s.mount_points}
        for p in sorted(set(rec.mount_points) - others, key=len, reverse=True):
            with contextlib.suppress(OSError):
                if os.path.islink(p):
                    os.unlink(p)
                elif os.path.isdir(p):
                    os.rmdir(p)
                elif os.path.isfile(p) and os.path.getsize(p) == 0:
                    os.unlink(p)

    def list_pod_sandboxes(self) -> list[SandboxStatus]:
        return [self._sandbox_status(s) for s in self.sandboxes.values()]

    def pod_sandbox_status(self, sandbox_id: str) -> SandboxStatus | None:
        rec = self.sandboxes.get(sandbox_id)
        return self._sandbox_status(rec) if rec else None

    def _sandbox_status(self, s: SandboxRecord) -> SandboxStatus:
        return SandboxStatus(
            id=s.id,
            uid=s.uid,
            name=s.name,
            namespace=s.namespace,
            attempt=s.attempt,
            state=SandboxState.READY if s.ready else SandboxState.NOTREADY,
            created_at=s.created_at,
            ip=s.ip,
            host_network=s.host_network,
            labels=dict(s.labels),
            annotations=dict(s.annotations),
        )

    # ------------------------------------------------------------------ containers
    def _cdir(self, cid: str) -> Path:
        return self.cdir_root / cid[:24]

    async def create_container(self, sandbox_id: str, config: ContainerConfig) -> str:
        sb = self.sandboxes.get(sandbox_id)
        if sb is None or not sb.ready:
            raise RuntimeError_("CreateContainerError", f"pod sandbox {sandbox_id[:12]} is not ready")
        if not config.argv:
            raise RuntimeError_("CreateContainerConfigError", "no command to run")
        cid = secrets.token_hex(32)
        cdir = self._cdir(cid)
        cdir.mkdir(parents=True, exist_ok=True)
        rec = ContainerRecord(
            id=cid,
            sandbox_id=sandbox_id,
            pod_uid=sb.uid,
            name=config.name,
            attempt=config.attempt,
            image=config.image,
            argv=list(config.argv),
            env=[[k, v] for k, v in config.env],
            working_dir=config.working_dir,
            mounts=[
                {"dst": m.container_path, "src": m.host_path, "ro": m.readonly, "tmpfs": m.tmpfs_options}
                for m in config.mounts
            ],
            log_path=config.log_path or str(cdir / "log"),
            stdin=config.stdin,
            stdin_once=config.stdin_once,
            tty=config.tty,
            resources={
                "cpu_shares": config.resources.cpu_shares,
                "cpu_quota_us": config.resources.cpu_quota_us,
                "cpu_period_us": config.resources.cpu_period_us,
                "memory_limit_bytes": config.resources.memory_limit_bytes,
                "pids_limit": config.resources.pids_limit,
            },
            run_as_user=config.run_as_user,
            run_as_group=config.run_as_group,
            supplemental_groups=list(config.supplemental_groups),
            labels=dict(config.labels),
            annotations=dict(config.annotations),
            created_at=time.time_ns(),
            dir=str(cdir),
        )
        try:
            self._prepare_container(sb, rec)  # small files and mkdirs: inline on the start path
        except OSError as e:
            shutil.rmtree(cdir, ignore_errors=True)
            raise RuntimeError_("CreateContainerError", str(e)) from e
        self.containers[cid] = rec
        self.store.save(rec)
        self.store.save(sb)
        return cid

    def _prepare_container(self, sb: SandboxRecord, rec: ContainerRecord) -> None:
        cdir = Path(rec.dir)
        Path(rec.log_path).parent.mkdir(parents=True, exist_ok=True)
        cfg: dict[str, Any] = {
            "argv": rec.argv,
            "env": rec.env,
            "cwd": rec.working_dir or None,
            "log": rec.log_path,
            "exit": str(cdir / "exit.json"),
            "stdin": rec.stdin,
            "stdin_once": rec.stdin_once,
            "tty": rec.tty,
            "uid": rec.run_as_user,
            "gid": rec.run_as_group,
            "groups": rec.supplemental_groups,
        }
        if rec.stdin:
            os.mkfifo(cdir / "stdin", 0o600)
            cfg["stdin_fifo"] = str(cdir / "stdin")
        if rec.tty:
            os.mkfifo(cdir / "resize", 0o600)
            cfg["resize_fifo"] = str(cdir / "resize")
        if self.root:
            cfg["cgroups"] = self.cgroups.create_container(sb.uid, rec.id, Resources(**rec.resources))
            if sb.netns:
                cfg["netns"] = f"/run/netns/{sb.netns}"
            if sb.ns_dir:
                if os.path.exists(os.path.join(sb.ns_dir, "uts")):
                    cfg["utsns"] = os.path.join(sb.ns_dir, "uts")
                if os.path.exists(os.path.join(sb.ns_dir, "ipc")):
                    cfg["ipcns"] = os.path.join(sb.ns_dir, "ipc")
            cfg["new_pid_ns"] = not sb.host_pid
            cfg["mount_proc"] = not sb.host_pid
            cfg["new_mount_ns"] = True
            mounts = []
            for m in rec.mounts:
                self._ensure_mount_point(sb, m)
                mounts.append(m)
            cfg["mounts"] = mounts
            cfg["detach"] = list(self.mount_parents)
        else:
            for m in rec.mounts:
                self._link_mount(sb, m)
        with open(cdir / "config", "wb") as f:
            marshal.dump(cfg, f)

    def _ensure_mount_point(self, sb: SandboxRecord, m: dict[str, Any]) -> None:
        """Create a missing mount target on the host (recorded, so it is removed with the sandbox)."""
        dst = str(m["dst"])
        if os.path.lexists(dst):
            return
        is_file = not m.get("tmpfs") and os.path.isfile(str(m["src"]))
        missing: list[str] = []
        p = os.path.dirname(dst)
        while p and p != "/" and not os.path.lexists(p):
            missing.append(p)
            p = os.path.dirname(p)
        os.makedirs(os.path.dirname(dst) or "/", exist_ok=True)
        if is_file:
            with open(dst, "a"):
                pass
        else:
            os.mkdir(dst)
        sb.mount_points.extend([*missing, dst])

    def _link_mount(self, sb: SandboxRecord, m: dict[str, Any]) -> None:
        """Rootless: a volume appears at its mountPath as a symlink, when that path is free and can be made."""
        dst, src = str(m["dst"]), str(m["src"])
        if os.path.islink(dst) and os.readlink(dst) == src:
            return
        if os.path.lexists(dst):
            log.warning("rootless mode: %s exists, so volume %s cannot appear there", dst, src)
            return
        missing: list[str] = []
        p = os.path.dirname(dst)
        while p and p != "/" and not os.path.lexists(p):
            missing.append(p)
            p = os.path.dirname(p)
        try:
            os.makedirs(os.path.dirname(dst) or "/", exist_ok=True)
            os.symlink(src, dst)
        except OSError as e:
            log.warning("rootless mode: cannot link volume %s at %s: %s", src, dst, e)
            return
        sb.mount_points.extend([*missing, dst])

    async def start_container(self, container_id: str) -> None:
        rec = self.containers.get(container_id)
        if rec is None:
            raise RuntimeError_("RunContainerError", f"container {container_id[:12]} not found")
        if rec.state != ContainerState.CREATED:
            raise RuntimeError_("RunContainerError", f"container {container_id[:12]} is {rec.state}")
        cdir = Path(rec.dir)
        res = await self.spawner.start(cdir / "config", SHIM_START_TIMEOUT)
        if res.error:
            err = res.error
            if err == "the shim failed":
                err = _tail(cdir / "shim.log") or err
            rec.state = ContainerState.EXITED
            rec.exit_code = 128
            rec.reason = "StartError"
            rec.message = err
            rec.started_at = rec.finished_at = time.time_ns()
            self.store.save(rec)
            self._emit(rec)
            raise RuntimeError_("RunContainerError", err)
        rec.pid = res.pid
        rec.pid_start = procfs.start_time(rec.pid)
        rec.shim_pid = res.shim_pid
        rec.shim_start = procfs.start_time(res.shim_pid)
        rec.state = ContainerState.RUNNING
        rec.started_at = time.time_ns()
        if res.child is not None:
            self._children[rec.id] = res.child
        self.store.save(rec)
        self._watch(rec)
        self._emit(rec)

    def _watch(self, rec: ContainerRecord) -> None:
        """Get told when the shim (hence the container) ends, child of ours or not."""
        loop = self._loop or asyncio.get_running_loop()
        self._exited.setdefault(rec.id, asyncio.Event())
        pid = rec.shim_pid if rec.shim_pid and procfs.alive(rec.shim_pid, rec.shim_start) else rec.pid
        try:
            fd = os.pidfd_open(pid)
        except OSError:
            loop.call_soon(self._finish, rec)
            return
        self._watching[rec.id] = fd
        loop.add_reader(fd, self._on_pidfd, rec.id)

    def _unwatch(self, cid: str) -> None:
        fd = self._watching.pop(cid, None)
        if fd is not None:
            loop = self._loop or asyncio.get_running_loop()
            loop.remove_reader(fd)
            os.close(fd)

    def _on_pidfd(self, cid: str) -> None:
        self._unwatch(cid)
        rec = self.containers.get(cid)
        if rec is not None:
            self._finish(rec)

    def _finish(self, rec: ContainerRecord) -> None:
        """Record how a container ended (exit file from its shim, OOM evidence from its memory cgroup)."""
        proc = self._children.pop(rec.id, None)
        if proc is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=1)
        if rec.state != ContainerState.RUNNING:
            return
        if procfs.alive(rec.pid, rec.pid_start):
            # The shim is gone but its container is not: without its logger and reaper it cannot go on.
            self._kill_tree(rec, signal.SIGKILL)
        info: dict[str, Any] = {}
        with contextlib.suppress(OSError, ValueError):
            info = json.loads((Path(rec.dir) / "exit.json").read_text())
        rec.state = ContainerState.EXITED
        rec.finished_at = int(info.get("finished_at") or time.time_ns())
        if info:
            rec.exit_code = int(info.get("exit_code", 0))
        else:
            rec.exit_code = 137
            rec.message = "the container's shim exited unexpectedly"
        rec.reason = "Completed" if rec.exit_code == 0 else "Error"
        if info.get("start_error"):
            rec.reason, rec.message = "StartError", str(info["start_error"])
        if rec.exit_code != 0 and self.root and self.cgroups.oom_killed(rec.pod_uid, rec.id):
            rec.reason = "OOMKilled"
        self.store.save(rec)
        # Whatever the container left behind dies with it (as when a pid namespace's init exits).
        if self.root:
            task = asyncio.get_running_loop().create_task(
                asyncio.to_thread(self.cgroups.remove_container, rec.pod_uid, rec.id)
            )
            self._bg.add(task)
            task.add_done_callback(self._bg.discard)
        else:
            for st in procfs.all_stats():
                if st.session == rec.pid and st.pid != rec.pid:
                    with contextlib.suppress(ProcessLookupError, PermissionError):
                        os.kill(st.pid, signal.SIGKILL)
        ev = self._exited.get(rec.id)
        if ev is not None:
            ev.set()
        self._emit(rec)

    def _emit(self, rec: ContainerRecord) -> None:
        ev = ContainerEvent(rec.id, rec.sandbox_id, rec.pod_uid, ContainerState(rec.state))
        for cb in self._callbacks:
            try:
                cb(ev)
            except Exception:
                log.exception("container event callback failed")

    def _kill_tree(self, rec: ContainerRecord, sig: int) -> None:
        """Signal the container's process group, and (SIGKILL) everything in its cgroup or process tree."""
        if not procfs.alive(rec.pid, rec.pid_start):
            return
        tree = procfs.descendants(rec.pid) if sig == signal.SIGKILL and not self.root else []
        try:
            os.killpg(rec.pid, sig)
        except (ProcessLookupError, PermissionError):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(rec.pid, sig)
        if sig == signal.SIGKILL:
            if self.root:
                self.cgroups.kill_all(rec.pod_uid, rec.id)
            for st in tree:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(st.pid, signal.SIGKILL)

    async def stop_container(self, container_id: str, timeout: float) -> None:
        rec = self.containers.get(container_id)
        if rec is None or rec.state != ContainerState.RUNNING:
            return
        ev = self._exited.setdefault(container_id, asyncio.Event())
        if timeout > 0:
            self._kill_tree(rec, signal.SIGTERM)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(ev.wait(), timeout)
        if rec.state == ContainerState.RUNNING:
            self._kill_tree(rec, signal.SIGKILL)
            try:
                await asyncio.wait_for(ev.wait(), 10)
            except TimeoutError:
                log.warning("container %s did not end after SIGKILL", container_id[:12])
                self._unwatch(container_id)
                self._finish(rec)

    async def remove_container(self, container_id: str) -> None:
        rec = self.containers.get(container_id)
        if rec is None:
            return
        if rec.state == ContainerState.RUNNING:
            await self.stop_container(container_id, 0)
        self._unwatch(container_id)
        if self.root:
            await asyncio.to_thread(self.cgroups.remove_container, rec.pod_uid, rec.id)
        await asyncio.to_thread(shutil.rmtree, rec.dir, True)
        self.containers.pop(container_id, None)
        self._exited.pop(container_id, None)
        self.store.delete(rec)

    def list_containers(self) -> list[ContainerStatus]:
        return [self._status(c) for c in self.containers.values()]

    def container_status(self, container_id: str) -> ContainerStatus | None:
        rec = self.containers.get(container_id)
        return self._status(rec) if rec else None

    def _status(self, c: ContainerRecord) -> ContainerStatus:
        return ContainerStatus(
            id=c.id,
            sandbox_id=c.sandbox_id,
            name=c.name,
            attempt=c.attempt,
            state=ContainerState(c.state),
            image=c.image,
            created_at=c.created_at,
            started_at=c.started_at,
            finished_at=c.finished_at,
            exit_code=c.exit_code,
            reason=c.reason,
            message=c.message,
            log_path=c.log_path,
            pid=c.pid,
            labels=dict(c.labels),
            annotations=dict(c.annotations),
        )

    async def relist(self) -> None:
        for rec in list(self.containers.values()):
            if rec.state == ContainerState.RUNNING and not procfs.alive(rec.pid, rec.pid_start):
                shim_alive = rec.shim_pid and procfs.alive(rec.shim_pid, rec.shim_start)
                if not shim_alive:
                    self._unwatch(rec.id)
                    self._finish(rec)

    # ------------------------------------------------------------------ exec / attach / port-forward
    def _running(self, container_id: str) -> ContainerRecord:
        rec = self.containers.get(container_id)
        if rec is None or rec.state != ContainerState.RUNNING or not procfs.alive(rec.pid, rec.pid_start):
            raise ContainerNotRunning("container not found or not running")
        return rec

    def exec_argv(self, rec: ContainerRecord, cmd: Sequence[str]) -> tuple[list[str], dict[str, str] | None, str | None]:
        """The argv (and env/cwd for a host process) that runs `cmd` inside the container."""
        env = {k: v for k, v in rec.env}
        if not self.root:
            return list(cmd), env, rec.working_dir or None
        spec = {
            "pid": rec.pid,
            "cgroups": self.cgroups.procs_files(rec.pod_uid, rec.id),
            "argv": list(cmd),
            "env": rec.env,
            "cwd": rec.working_dir or None,
            "uid": rec.run_as_user,
            "gid": rec.run_as_group,
            "groups": rec.supplemental_groups,
        }
        return [*python_argv(), "exec", marshal.dumps(spec).hex()], None, None

    def check_executable(self, rec: ContainerRecord, cmd: Sequence[str]) -> None:
        """Fail like a container runtime does when the command cannot be found in the container."""
        if not cmd:
            raise StreamingError("no command given")
        name = cmd[0]
        root = f"/proc/{rec.pid}/root" if self.root else ""
        path = dict((k, v) for k, v in rec.env).get("PATH", "")
        candidates = [name] if "/" in name else [os.path.join(d or ".", name) for d in path.split(":")]
        for c in candidates:
            full = root + c if c.startswith("/") else os.path.join(root + (rec.working_dir or "/"), c)
            if os.path.isfile(full) and os.access(full, os.X_OK):
                return
        raise StreamingError(
            f'failed to exec in container: exec: "{name}": '
            + ("stat: no such file or directory" if "/" in name else "executable file not found in $PATH")
        )

    async def exec_sync(self, container_id: str, cmd: Sequence[str], timeout: float) -> tuple[int, bytes]:
        """Run `cmd` in the container; (exit code, combined output). Raises TimeoutError after `timeout`."""
        rec = self._running(container_id)
        argv, env, cwd = self.exec_argv(rec, cmd)
        try:
            proc = await asyncio.create_subprocess_exec(
                *argv,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.STDOUT,
                env=env,
                cwd=cwd,
                start_new_session=True,
            )
        except OSError as e:
            return 126, str(e).encode()
        try:
            out, _ = await asyncio.wait_for(proc.communicate(), timeout)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            await proc.wait()
            raise
        code = proc.returncode if proc.returncode is not None else -1
        if code < 0:
            code = 128 - code
        return code, out

    async def exec(
        self,
        container_id: str,
        cmd: Sequence[str],
        *,
        stdin: InputStream | None,
        stdout: OutputStream | None,
        stderr: OutputStream | None,
        tty: bool,
        resize: ResizeQueue | None,
    ) -> int:
        rec = self._running(container_id)
        self.check_executable(rec, cmd)
        argv, env, cwd = self.exec_argv(rec, cmd)
        return await run_process(argv, stdin=stdin, stdout=stdout, stderr=stderr, tty=tty, resize=resize, env=env, cwd=cwd)

    async def attach(
        self,
        container_id: str,
        *,
        stdin: InputStream | None,
        stdout: OutputStream | None,
        stderr: OutputStream | None,
        tty: bool,
        resize: ResizeQueue | None,
    ) -> None:
        rec = self._running(container_id)
        ev = self._exited.setdefault(container_id, asyncio.Event())
        await attach_streams(
            rec.log_path,
            Path(rec.dir) / "stdin" if rec.stdin else None,
            Path(rec.dir) / "resize" if rec.tty else None,
            ev,
            stdin=stdin,
            stdout=stdout,
            stderr=stderr,
            tty=tty and rec.tty,
            resize=resize,
        )

    async def port_forward(self, sandbox_id: str, port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        sb = self.sandboxes.get(sandbox_id)
        if sb is None or not sb.ready:
            raise PortForwardError("pod sandbox not found or not ready")
        try:
            if self.root and sb.netns:
                netns = f"/run/netns/{sb.netns}"

                def connect() -> socket.socket:
                    linux.setns(netns, linux.CLONE_NEWNET)
                    s = socket.create_connection(("127.0.0.1", port), timeout=5)
                    s.setblocking(False)
                    return s

                sock = await linux.in_fresh_thread(connect)
                return await asyncio.open_connection(sock=sock)
            return await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), 5)
        except (OSError, TimeoutError) as e:
            raise PortForwardError(
                f"failed to connect to localhost:{port} inside namespace of pod {sb.namespace}/{sb.name}: {e}"
            ) from e

    # ------------------------------------------------------------------ stats
    def pod_network_stats(self, sandbox_id: str) -> dict[str, int] | None:
        """rx/tx of the pod's eth0, read from the host end of its veth (so rx and tx swap)."""
        sb = self.sandboxes.get(sandbox_id)
        if sb is None or not sb.netns:
            return None
        base = f"/sys/class/net/{veth_name(sb.netns)}/statistics"
        return {
            "rxBytes": _read_counter(f"{base}/tx_bytes"),
            "rxErrors": _read_counter(f"{base}/tx_errors"),
            "txBytes": _read_counter(f"{base}/rx_bytes"),
            "txErrors": _read_counter(f"{base}/rx_errors"),
        }

    def container_stats(self, container_id: str) -> ContainerStats | None:
        rec = self.containers.get(container_id)
        if rec is None:
            return None
        now = time.time_ns()
        st = ContainerStats(container_id=container_id, timestamp_ns=now)
        with contextlib.suppress(OSError):
            st.log_bytes = os.path.getsize(rec.log_path)
        if rec.state != ContainerState.RUNNING:
            return st
        if self.root and self.cgroups.available:
            cg = self.cgroups.stats(rec.pod_uid, rec.id)
            st.cpu_usage_core_ns = cg.get("cpu_ns")
            st.memory_usage_bytes = cg.get("memory_usage")
            st.memory_working_set_bytes = cg.get("memory_working_set")
            st.memory_rss_bytes = cg.get("memory_rss")
            st.page_faults = cg.get("pgfault")
            st.major_page_faults = cg.get("pgmajfault")
            st.processes = cg.get("processes")
            return st
        tree = procfs.descendants(rec.pid)
        ticks = sum(p.utime + p.stime for p in tree)
        rss = sum(p.rss_pages for p in tree) * procfs.PAGE_SIZE
        st.cpu_usage_core_ns = ticks * 1_000_000_000 // procfs.CLK_TCK
        st.memory_usage_bytes = rss
        st.memory_working_set_bytes = rss
        st.memory_rss_bytes = rss
        st.page_faults = sum(p.minflt for p in tree)
        st.major_page_faults = sum(p.majflt for p in tree)
        st.processes = len(tree)
        return st


def _tail(path: Path, limit: int = 2000) -> str:
    try:
        return path.read_text(errors="replace")[-limit:].strip()
    except OSError:
        return ""


def _read_counter(path: str) -> int:
    try:
        with open(path, encoding="ascii") as f:
            return int(f.read().strip())
    except (OSError, ValueError):
        return 0
