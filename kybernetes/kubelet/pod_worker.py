"""One worker per pod, moving it through running -> terminating -> terminated (upstream's pod_workers + SyncPod).

A worker owns every runtime action for its pod, so no two things ever start or kill the same container. It wakes
on a pod update from the API, a container event from the runtime, a probe result change, a back-off timer or the
periodic resync, and then does one idempotent sync: volumes, sandbox, the next init container, the app
containers (restarting per restartPolicy with CrashLoopBackOff, killing on liveness failure), probe workers, and a
freshly computed status for the status manager. Termination (deletion, a terminal phase, activeDeadlineSeconds)
runs preStop hooks, stops every container within the grace period, tears the sandbox down and, for pods being
deleted, removes the pod from the API once its final status is written.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kybernetes.client.rest import ApiError, resource_path
from kybernetes.kubelet import envvars
from kybernetes.kubelet.dns import pod_resolv_conf
from kybernetes.kubelet.probes import Result, run_probe
from kybernetes.kubelet.quantity import bytes_of, millicores
from kybernetes.kubelet.runtime.api import (
    ContainerConfig,
    ContainerState,
    ContainerStatus,
    Mount,
    PodSandboxConfig,
    Resources,
    RuntimeError_,
    SandboxState,
)
from kybernetes.kubelet.status import ContainerView, PodView, init_done, init_failed, now, phase, pod_status
from kybernetes.kubelet.volumes import Volume, VolumeError, hosts_file

if TYPE_CHECKING:
    from kybernetes.kubelet.kubelet import Kubelet

log = logging.getLogger(__name__)

Obj = dict[str, Any]
NO_COMMAND = (
    "the process runtime needs an explicit command: container {name!r} has no `command`, and an image's entrypoint "
    "means nothing here (images belong to a container runtime)"
)
MAX_TERMINATION_MESSAGE = 4096
MIN_GRACE_AFTER_PRESTOP = 2.0
FORCE_DELETE_GRACE = 1.0
LABEL_UID = "io.kubernetes.pod.uid"
LABEL_CONTAINER = "io.kubernetes.container.name"


class PodWorker:
    def __init__(self, kubelet: Kubelet, uid: str, pod: Obj) -> None:
        self.k = kubelet
        self.uid = uid
        self.pod = pod
        self.gone = False
        """The pod no longer exists in the API."""
        self.state = "running"
        self.views: dict[str, ContainerView] = {}
        self.volumes: dict[str, Volume] | None = None
        self.start_time: str | None = (pod.get("status") or {}).get("startTime")
        self.terminal_reason = ""
        self.terminal_message = ""
        self.deleted = False
        self._wake = asyncio.Event()
        self._timers: list[asyncio.TimerHandle] = []
        self._task: asyncio.Task[None] | None = None
        self._starting: set[str] = set()
        self._last_volume_refresh = time.monotonic()
        self._born = time.perf_counter()

    def trace(self, what: str) -> None:
        if log.isEnabledFor(logging.DEBUG):
            log.debug("pod %s: %s (+%.1f ms)", self.key, what, (time.perf_counter() - self._born) * 1000)

    # ------------------------------------------------------------------ plumbing
    @property
    def key(self) -> str:
        m = self.pod.get("metadata") or {}
        return f"{m.get('namespace')}/{m.get('name')}"

    @property
    def name(self) -> str:
        return str((self.pod.get("metadata") or {}).get("name", ""))

    @property
    def namespace(self) -> str:
        return str((self.pod.get("metadata") or {}).get("namespace", ""))

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"pod worker {self.key}")

    def on_done(self, fn: Callable[[], None]) -> None:
        assert self._task is not None
        self._task.add_done_callback(lambda _t: fn())

    def update(self, pod: Obj | None) -> None:
        if pod is None:
            self.gone = True
        else:
            self.pod = pod
        self.poke()

    def poke(self) -> None:
        self._wake.set()

    def poke_in(self, seconds: float) -> None:
        loop = asyncio.get_running_loop()
        self._timers = [t for t in self._timers if not t.cancelled() and t.when() > loop.time()]
        self._timers.append(loop.call_later(max(0.0, seconds), self.poke))

    async def wait_done(self) -> None:
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def cancel(self) -> None:
        for t in self._timers:
            t.cancel()
        if self._task is not None:
            self._task.cancel()

    def view(self, name: str) -> ContainerView:
        v = self.views.get(name)
        if v is None:
            v = self.views[name] = ContainerView()
        return v

    def event(self, reason: str, message: str, type_: str = "Normal", field_path: str = "") -> None:
        self.k.events.record(self.pod, reason, message, type_, field_path)

    def instances(self) -> dict[str, list[ContainerStatus]]:
        out: dict[str, list[ContainerStatus]] = {}
        for c in self.k.runtime.list_containers():
            if c.labels.get(LABEL_UID) == self.uid:
                out.setdefault(c.name, []).append(c)
        for v in out.values():
            v.sort(key=lambda c: (c.attempt, c.created_at))
        return out

    def sandbox(self) -> tuple[str, str] | None:
        """(id, ip) of this pod's ready sandbox."""
        best = None
        for s in self.k.runtime.list_pod_sandboxes():
            if s.uid == self.uid and s.state == SandboxState.READY and (best is None or s.attempt > best.attempt):
                best = s
        return (best.id, best.ip) if best else None

    # ------------------------------------------------------------------ main loop
    async def _run(self) -> None:
        while True:
            try:
                await asyncio.wait_for(self._wake.wait(), self.k.config.resync_interval)
            except TimeoutError:
                pass
            self._wake.clear()
            try:
                if self.state == "running":
                    if self._should_terminate():
                        self.state = "terminating"
                    else:
                        await self._sync()
                        if self._should_terminate():
                            self.state = "terminating"
                if self.state == "terminating":
                    await self._terminate()
                    self.state = "terminated"
                if self.state == "terminated":
                    if await self._finish():
                        return
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("pod %s: sync failed", self.key)
                self.poke_in(2.0)

    def _should_terminate(self) -> bool:
        meta = self.pod.get("metadata") or {}
        if self.gone or meta.get("deletionTimestamp"):
            return True
        if self.terminal_reason:
            return True
        deadline = (self.pod.get("spec") or {}).get("activeDeadlineSeconds")
        if deadline is not None and self.start_time:
            started = _parse(self.start_time)
            if started and time.time() - started >= float(deadline):
                self.terminal_reason = "DeadlineExceeded"
                self.terminal_message = "Pod was active on the node longer than the specified deadline"
                self.event("DeadlineExceeded", self.terminal_message, "Normal")
                return True
        if self.sandbox() is None and not self.instances():
            return False
        pv = self.pod_view()
        return phase(pv) in ("Succeeded", "Failed")

    # ------------------------------------------------------------------ sync
    async def _sync(self) -> None:
        spec = self.pod.get("spec") or {}
        if self.start_time is None:
            self.start_time = now()
        deadline = spec.get("activeDeadlineSeconds")
        if deadline is not None:
            started = _parse(self.start_time) or time.time()
            self.poke_in(started + float(deadline) - time.time() + 0.05)
        self.trace("sync")
        if not await self._ensure_volumes():
            self.publish()
            return
        sb = self.sandbox()
        if sb is None:
            # A pod's first start takes a slot (FIFO), so a burst of pods comes up pod by pod instead of all at once
            # at the end; later syncs (restarts, probes) do not wait for slots.
            async with self.k.start_slots:
                sb = await self._create_sandbox()
                self.trace("sandbox created")
                if sb is None:
                    self.publish()
                    return
                await self._sync_containers(spec, *sb)
        else:
            await self._sync_containers(spec, *sb)
        ip = sb[1]
        instances = self.instances()
        self._ensure_probes(spec, instances, ip)
        await self._gc_instances(instances)
        if time.monotonic() - self._last_volume_refresh >= self.k.config.volume_sync_interval:
            self._last_volume_refresh = time.monotonic()
            await self.k.volumes.refresh(self.pod)
        self.poke_in(self.k.config.volume_sync_interval)
        self.publish()

    async def _sync_containers(self, spec: Obj, sid: str, ip: str) -> None:
        instances = self.instances()
        await self._sync_init(spec, sid, ip, instances)
        instances = self.instances()
        pv = self.pod_view(instances)
        if init_done(pv)[0] and not init_failed(pv):
            for c in spec.get("containers") or []:
                await self._sync_container(c, sid, ip, instances.get(c["name"]) or [], init=False)

    async def _ensure_volumes(self) -> bool:
        if self.volumes is not None:
            return True
        try:
            self.volumes = await self.k.volumes.setup(self.pod)
            self._last_volume_refresh = time.monotonic()
            return True
        except VolumeError as e:
            self.event("FailedMount", str(e), "Warning")
            for c in (self.pod.get("spec") or {}).get("containers") or []:
                v = self.view(c["name"])
                v.waiting_reason, v.waiting_message = "ContainerCreating", ""
            self.poke_in(2.0)
            return False

    async def _create_sandbox(self) -> tuple[str, str] | None:
        spec = self.pod.get("spec") or {}
        old = [s for s in self.k.runtime.list_pod_sandboxes() if s.uid == self.uid]
        for s in old:
            await self.k.runtime.remove_pod_sandbox(s.id)
        cfg = PodSandboxConfig(
            uid=self.uid,
            name=self.name,
            namespace=self.namespace,
            attempt=max((s.attempt + 1 for s in old), default=0),
            hostname=str(spec.get("hostname") or self.name)[:63],
            host_network=bool(spec.get("hostNetwork")),
            host_pid=bool(spec.get("hostPID")),
            host_ipc=bool(spec.get("hostIPC")),
            labels={LABEL_UID: self.uid, "io.kubernetes.pod.name": self.name,
                    "io.kubernetes.pod.namespace": self.namespace},
            log_directory=str(self.k.pod_log_dir(self.pod)),
        )
        try:
            sid = await self.k.runtime.run_pod_sandbox(cfg)
        except RuntimeError_ as e:
            self.event("FailedCreatePodSandBox", f"Failed to create pod sandbox: {e.message}", "Warning")
            self.poke_in(2.0)
            return None
        st = self.k.runtime.pod_sandbox_status(sid)
        return sid, st.ip if st else ""

    async def _sync_init(self, spec: Obj, sid: str, ip: str, instances: dict[str, list[ContainerStatus]]) -> None:
        policy = spec.get("restartPolicy", "Always")
        for c in spec.get("initContainers") or []:
            inst = instances.get(c["name"]) or []
            cur = inst[-1] if inst else None
            if c.get("restartPolicy") == "Always":
                await self._sync_container(c, sid, ip, inst, init=True, sidecar=True)
                v = self.view(c["name"])
                if not (cur and cur.state == ContainerState.RUNNING and v.started):
                    if cur is None or cur.state != ContainerState.RUNNING:
                        return
                    if not v.started:
                        return
                continue
            if cur is None:
                await self._start(c, sid, ip, 0, init=True)
                return
            if cur.state == ContainerState.RUNNING:
                return
            if cur.state == ContainerState.EXITED and cur.exit_code == 0:
                continue
            if policy == "Never":
                return
            await self._restart_if_due(c, sid, ip, cur, init=True)
            return

    async def _sync_container(
        self, c: Obj, sid: str, ip: str, inst: list[ContainerStatus], *, init: bool, sidecar: bool = False
    ) -> None:
        name = c["name"]
        cur = inst[-1] if inst else None
        if cur is None or cur.state == ContainerState.CREATED:
            if name not in self._starting:
                await self._start(c, sid, ip, 0 if cur is None else cur.attempt, init=init)
            return
        if cur.state == ContainerState.RUNNING:
            cp = self.k.probes.get(cur.id)
            if cp is not None:
                if cp.result("startupProbe") == Result.FAILURE:
                    await self._kill_for_restart(c, cur, "Startup probe failed")
                elif cp.result("livenessProbe") == Result.FAILURE:
                    await self._kill_for_restart(c, cur, "failed liveness probe")
            return
        policy = "Always" if sidecar else (self.pod.get("spec") or {}).get("restartPolicy", "Always")
        if policy == "Always" or (policy == "OnFailure" and cur.exit_code != 0):
            await self._restart_if_due(c, sid, ip, cur, init=init)
        else:
            v = self.view(name)
            v.waiting_reason = v.waiting_message = ""

    async def _kill_for_restart(self, c: Obj, cur: ContainerStatus, why: str) -> None:
        self.event("Killing", f"Container {c['name']} {why}, will be restarted", "Normal", _fp(c))
        grace = float((self.pod.get("spec") or {}).get("terminationGracePeriodSeconds", 30))
        await self._kill_container(c, cur, grace)
        self.poke()

    async def _restart_if_due(self, c: Obj, sid: str, ip: str, cur: ContainerStatus, *, init: bool) -> None:
        name = c["name"]
        key = f"{self.uid}/{name}"
        finished = cur.finished_at / 1e9
        ran_for = max(0.0, finished - cur.started_at / 1e9) if cur.started_at else 0.0
        wait = self.k.backoff.remaining(key, finished, ran_for)
        v = self.view(name)
        if wait > 0:
            delay = self.k.backoff.current(key)
            v.waiting_reason = "CrashLoopBackOff"
            v.waiting_message = (
                f"back-off {_fmt_duration(delay)} restarting failed container={name} "
                f"pod={self.name}_{self.namespace}({self.uid})"
            )
            if v.backoff_reported != cur.id:
                v.backoff_reported = cur.id
                self.event("BackOff", f"Back-off restarting failed container {name} in pod {self.name}_{self.namespace}({self.uid})",
                           "Warning", _fp(c))
            self.poke_in(wait + 0.01)
            return
        self.k.backoff.next(key, ran_for)
        await self._start(c, sid, ip, cur.attempt + 1, init=init)

    # ------------------------------------------------------------------ starting
    async def _start(self, c: Obj, sid: str, ip: str, attempt: int, *, init: bool) -> None:
        name = c["name"]
        v = self.view(name)
        self._starting.add(name)
        try:
            if not c.get("command"):
                v.waiting_reason = "CreateContainerConfigError"
                v.waiting_message = NO_COMMAND.format(name=name)
                self.event("Failed", f"Error: {v.waiting_message}", "Warning", _fp(c))
                return
            try:
                pod_for_env = self._pod_with_ips(ip)
                env = await envvars.container_env(pod_for_env, c, self.k.get_object, self.k.allocatable())
                argv = envvars.command_line(c, env)
                mounts = self._mounts(c, env, ip, attempt)
            except (envvars.EnvError, VolumeError, OSError, ValueError) as e:
                v.waiting_reason, v.waiting_message = "CreateContainerConfigError", str(e)
                self.event("Failed", f"Error: {e}", "Warning", _fp(c))
                self.poke_in(2.0)
                return
            base_env = [("PATH", self.k.host_path_env), ("HOSTNAME", str((self.pod.get("spec") or {}).get("hostname") or self.name))]
            names = {k for k, _ in env}
            full_env = [(k, val) for k, val in base_env if k not in names] + env
            sc = {**((self.pod.get("spec") or {}).get("securityContext") or {}), **(c.get("securityContext") or {})}
            cfg = ContainerConfig(
                name=name,
                attempt=attempt,
                image=str(c.get("image", "")),
                argv=argv,
                env=full_env,
                working_dir=str(c.get("workingDir") or ""),
                mounts=mounts,
                log_path=str(self.k.pod_log_dir(self.pod) / name / f"{attempt}.log"),
                stdin=bool(c.get("stdin")),
                stdin_once=bool(c.get("stdinOnce")),
                tty=bool(c.get("tty")),
                resources=_resources(c),
                run_as_user=sc.get("runAsUser") if self.k.runtime.mode == "root" else None,
                run_as_group=sc.get("runAsGroup") if self.k.runtime.mode == "root" else None,
                supplemental_groups=list(((self.pod.get("spec") or {}).get("securityContext") or {}).get("supplementalGroups") or [])
                if self.k.runtime.mode == "root" and sc.get("runAsUser") is not None else [],
                labels={LABEL_UID: self.uid, LABEL_CONTAINER: name, "io.kubernetes.pod.name": self.name,
                        "io.kubernetes.pod.namespace": self.namespace},
                annotations={"io.kubernetes.container.restartCount": str(attempt),
                             "kybernetes.io/init": "true" if init else "false"},
            )
            try:
                cid = await self.k.runtime.create_container(sid, cfg)
            except RuntimeError_ as e:
                v.waiting_reason, v.waiting_message = e.reason, e.message
                self.event("Failed", f"Error: {e.message}", "Warning", _fp(c))
                self.poke_in(2.0)
                return
            if attempt == 0:
                self.event("Pulled", f'Container image "{c.get("image")}" already present on machine', "Normal", _fp(c))
            self.event("Created", f"Created container {name}", "Normal", _fp(c))
            try:
                await self.k.runtime.start_container(cid)
            except RuntimeError_ as e:
                v.waiting_reason, v.waiting_message = "RunContainerError", e.message
                self.event("Failed", f"Error: {e.message}", "Warning", _fp(c))
                self.poke_in(0.5)
                return
            v.waiting_reason = v.waiting_message = ""
            self.trace(f"container {name} started")
            self.event("Started", f"Started container {name}", "Normal", _fp(c))
            post = ((c.get("lifecycle") or {}).get("postStart")) or None
            if post:
                ok, out = await run_probe({**post, "timeoutSeconds": 30}, c, ip, cid, self.k.runtime.exec_sync)
                if not ok:
                    msg = f"PostStartHook failed: {out}".strip()
                    self.event("FailedPostStartHook", msg, "Warning", _fp(c))
                    st = self.k.runtime.container_status(cid)
                    if st is not None:
                        v.termination_reason[cid] = "PostStartHookError"
                        v.termination_message[cid] = msg
                        await self._kill_container(c, st, 0, run_pre_stop=False)
            self.publish()
        finally:
            self._starting.discard(name)

    def _pod_with_ips(self, ip: str) -> Obj:
        status = dict(self.pod.get("status") or {})
        status["podIP"] = ip
        status["podIPs"] = [{"ip": ip}]
        status["hostIP"] = self.k.host_ip
        status["hostIPs"] = [{"ip": self.k.host_ip}]
        return {**self.pod, "status": status}

    def _mounts(self, c: Obj, env: list[tuple[str, str]], ip: str, attempt: int) -> list[Mount]:
        vols = self.volumes or {}
        out: list[Mount] = []
        envmap = dict(env)
        for vm in c.get("volumeMounts") or []:
            vol = vols.get(str(vm.get("name", "")))
            if vol is None:
                raise VolumeError(f"volume {vm.get('name')!r} not found in the pod")
            src = vol.path
            sub = vm.get("subPath") or (
                envvars.expand(str(vm["subPathExpr"]), envvars.mapping_for(envmap)) if vm.get("subPathExpr") else ""
            )
            if sub:
                if os.path.isabs(sub) or ".." in Path(sub).parts:
                    raise VolumeError(f"invalid subPath {sub!r}")
                src = os.path.join(src, sub)
                if not os.path.exists(src):
                    os.makedirs(src, mode=0o777, exist_ok=True)
            out.append(Mount(str(vm.get("mountPath", "")), src, bool(vm.get("readOnly")) or (vol.readonly and not sub)))
        if self.k.runtime.mode != "root":
            return out
        spec = self.pod.get("spec") or {}
        cdir = self.k.volumes.pod_dir(self.uid) / "containers" / c["name"]
        cdir.mkdir(parents=True, exist_ok=True)
        if not spec.get("hostNetwork") and not any(m.container_path == "/etc/hosts" for m in out):
            hosts = self.k.volumes.pod_dir(self.uid) / "etc-hosts"
            if not hosts.exists():
                hosts.write_bytes(hosts_file(self.pod, ip))
            out.append(Mount("/etc/hosts", str(hosts)))
        if not spec.get("hostNetwork") and not any(m.container_path == "/etc/hostname" for m in out):
            hn = self.k.volumes.pod_dir(self.uid) / "etc-hostname"
            if not hn.exists():
                hn.write_text(str(spec.get("hostname") or self.name)[:63] + "\n")
            out.append(Mount("/etc/hostname", str(hn)))
        resolv = pod_resolv_conf(self.pod, self.k.cluster_dns(), self.k.config.cluster_domain)
        if resolv is not None and not any(m.container_path == "/etc/resolv.conf" for m in out):
            rfile = self.k.volumes.pod_dir(self.uid) / "resolv.conf"
            rfile.write_text(resolv)
            out.append(Mount("/etc/resolv.conf", str(rfile)))
        tpath = str(c.get("terminationMessagePath") or "/dev/termination-log")
        if not any(m.container_path == tpath for m in out):
            tfile = cdir / f"{attempt}-termination-log"
            tfile.write_bytes(b"")
            os.chmod(tfile, 0o666)
            out.append(Mount(tpath, str(tfile)))
        return out

    # ------------------------------------------------------------------ probes, gc
    def _ensure_probes(self, spec: Obj, instances: dict[str, list[ContainerStatus]], ip: str) -> None:
        keep: set[str] = set()
        api_ready = {
            s.get("containerID", ""): bool(s.get("ready"))
            for s in ((self.pod.get("status") or {}).get("containerStatuses") or [])
        }
        for c in [*(spec.get("initContainers") or []), *(spec.get("containers") or [])]:
            inst = instances.get(c["name"]) or []
            cur = inst[-1] if inst else None
            v = self.view(c["name"])
            if cur is None or cur.state != ContainerState.RUNNING:
                v.ready = False
                v.started = False
                continue
            keep.add(cur.id)
            cp = self.k.probes.ensure(
                self.uid, c, cur.id, cur.started_at / 1e9, lambda: self.sandbox_ip(),
                initial_ready=api_ready.get(f"process://{cur.id}"),
            )
            v.started = cp.result("startupProbe") == Result.SUCCESS
            v.ready = v.started and cp.result("readinessProbe") == Result.SUCCESS
        self.k.probes.keep_only(self.uid, keep)

    def sandbox_ip(self) -> str:
        sb = self.sandbox()
        return sb[1] if sb else self.k.host_ip

    async def _gc_instances(self, instances: dict[str, list[ContainerStatus]]) -> None:
        """Keep the current and the previous instance of each container (status lastState, logs --previous)."""
        for inst in instances.values():
            for old in inst[:-2]:
                if old.state == ContainerState.EXITED:
                    await self.k.runtime.remove_container(old.id)
                    with contextlib.suppress(OSError):
                        os.unlink(old.log_path)

    # ------------------------------------------------------------------ status
    def pod_view(self, instances: dict[str, list[ContainerStatus]] | None = None) -> PodView:
        instances = self.instances() if instances is None else instances
        sb = self.sandbox()
        pod_ip = sb[1] if sb else ""
        if not pod_ip:
            pod_ip = str((self.pod.get("status") or {}).get("podIP") or "") if instances else ""
        for name, inst in instances.items():
            v = self.view(name)
            for c in inst:
                if c.state == ContainerState.EXITED and c.id not in v.termination_message:
                    v.termination_message[c.id] = self._termination_message(name, c)
            if inst and inst[-1].state == ContainerState.RUNNING and v.waiting_reason:
                v.waiting_reason = v.waiting_message = ""
        return PodView(
            pod=self.pod,
            instances=instances,
            views=self.views,
            sandbox_ready=sb is not None,
            pod_ip=pod_ip,
            host_ip=self.k.host_ip,
            start_time=self.start_time,
            terminal_reason=self.terminal_reason,
            terminal_message=self.terminal_message,
            terminating=self.state != "running",
        )

    def _termination_message(self, name: str, c: ContainerStatus) -> str:
        spec: Obj = next(
            (x for x in [*((self.pod.get("spec") or {}).get("initContainers") or []),
                         *((self.pod.get("spec") or {}).get("containers") or [])] if x.get("name") == name),
            {},
        )
        msg = ""
        tfile = self.k.volumes.pod_dir(self.uid) / "containers" / name / f"{c.attempt}-termination-log"
        with contextlib.suppress(OSError):
            with open(tfile, "rb") as f:
                msg = f.read(MAX_TERMINATION_MESSAGE).decode(errors="replace")
        if not msg and c.exit_code != 0 and spec.get("terminationMessagePolicy") == "FallbackToLogsOnError":
            msg = _log_tail(c.log_path, 80, 2048)
        return msg

    def publish(self) -> None:
        if self.gone:
            return
        pv = self.pod_view()
        status = pod_status(pv, self.pod.get("status"))
        self.trace("status computed")
        self.k.status.set(self.uid, self.namespace, self.name, status)

    # ------------------------------------------------------------------ termination
    def grace_period(self) -> float:
        meta = self.pod.get("metadata") or {}
        g = meta.get("deletionGracePeriodSeconds")
        if g is None and self.gone:
            g = FORCE_DELETE_GRACE  # removed from the API without a graceful deletion: the user wants it gone now
        if g is None:
            g = (self.pod.get("spec") or {}).get("terminationGracePeriodSeconds", 30)
        return max(0.0, float(g))

    async def _kill_container(self, c: Obj, st: ContainerStatus, grace: float, run_pre_stop: bool = True) -> None:
        start = time.monotonic()
        pre = ((c.get("lifecycle") or {}).get("preStop")) or None
        if pre and run_pre_stop and grace > 0 and st.state == ContainerState.RUNNING:
            try:
                ok, out = await asyncio.wait_for(
                    run_probe({**pre, "timeoutSeconds": grace}, c, self.sandbox_ip(), st.id, self.k.runtime.exec_sync),
                    grace,
                )
                if not ok:
                    self.event("FailedPreStopHook", f"PreStopHook failed: {out}".strip(), "Warning", _fp(c))
            except TimeoutError:
                self.event("FailedPreStopHook", f"PreStopHook timed out after {grace:g}s", "Warning", _fp(c))
            grace = max(MIN_GRACE_AFTER_PRESTOP, grace - (time.monotonic() - start))
        await self.k.runtime.stop_container(st.id, grace)

    async def _terminate(self) -> None:
        grace = self.grace_period() if not self.k.shutting_down else min(self.grace_period(), self.k.config.shutdown_grace)
        spec = self.pod.get("spec") or {}
        instances = self.instances()
        specs = {c["name"]: c for c in [*(spec.get("initContainers") or []), *(spec.get("containers") or [])]}
        running = [
            (specs.get(name, {"name": name}), inst[-1])
            for name, inst in instances.items()
            if inst and inst[-1].state == ContainerState.RUNNING
        ]
        for c, _st in running:
            self.event("Killing", f"Stopping container {c['name']}", "Normal", _fp(c))
        await asyncio.gather(*(self._kill_container(c, st, grace) for c, st in running))
        self.k.probes.remove_pod(self.uid)
        for v in self.views.values():
            v.ready = False
            if v.waiting_reason in ("CrashLoopBackOff", "ContainerCreating", "PodInitializing"):
                v.waiting_reason = v.waiting_message = ""
        self.publish()
        for s in self.k.runtime.list_pod_sandboxes():
            if s.uid == self.uid:
                await self.k.runtime.stop_pod_sandbox(s.id)

    async def _finish(self) -> bool:
        """After termination: delete a pod being deleted; clean up once it is gone. True when the worker is done."""
        meta = self.pod.get("metadata") or {}
        if not self.gone and meta.get("deletionTimestamp") and not self.deleted:
            self.publish()
            await self.k.status.flush(self.uid)
            path = resource_path("", "v1", "pods", namespace=self.namespace, name=self.name)
            try:
                await self.k.client.delete(path, {"gracePeriodSeconds": 0, "preconditions": {"uid": self.uid}})
                self.deleted = True
            except ApiError as e:
                if e.status in (404, 409):
                    self.deleted = True
                else:
                    log.warning("deleting pod %s: %s", self.key, e)
                    self.poke_in(1.0)
                    return False
        if self.gone or self.deleted:
            await self.cleanup()
            return True
        # A finished pod that stays in the API keeps its exited containers (and logs) until it is deleted.
        self.publish()
        return False

    async def cleanup(self) -> None:
        for s in self.k.runtime.list_pod_sandboxes():
            if s.uid == self.uid:
                await self.k.runtime.remove_pod_sandbox(s.id)
        for c in self.k.runtime.list_containers():
            if c.labels.get(LABEL_UID) == self.uid:
                await self.k.runtime.remove_container(c.id)
        self.k.probes.remove_pod(self.uid)
        self.k.backoff.forget(f"{self.uid}/")
        self.k.status.forget(self.uid)
        self.k.events.forget(self.uid)
        self.k.forget_tokens(self.uid)
        await self.k.volumes.teardown(self.uid)
        await asyncio.to_thread(_rmtree, self.k.pod_log_dir(self.pod))


def _rmtree(p: Path) -> None:
    import shutil

    shutil.rmtree(p, ignore_errors=True)


def _fp(c: Obj) -> str:
    return f"spec.containers{{{c.get('name')}}}"


def _fmt_duration(seconds: float) -> str:
    s = int(seconds) if seconds >= 1 else seconds
    if isinstance(s, float):
        return f"{s * 1000:.0f}ms"
    m, sec = divmod(s, 60)
    return f"{m}m{sec}s" if m else f"{sec}s"


def _parse(ts: str) -> float | None:
    from datetime import datetime

    try:
        return datetime.fromisoformat(ts.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def _resources(c: Obj) -> Resources:
    res = c.get("resources") or {}
    limits = res.get("limits") or {}
    requests = res.get("requests") or {}
    r = Resources()
    try:
        if "memory" in limits:
            r.memory_limit_bytes = bytes_of(limits["memory"])
        cpu_req = requests.get("cpu", limits.get("cpu"))
        if cpu_req is not None:
            r.cpu_shares = max(2, millicores(cpu_req) * 1024 // 1000)
        if "cpu" in limits:
            r.cpu_quota_us = millicores(limits["cpu"]) * r.cpu_period_us // 1000
    except ValueError:
        pass
    return r


def _log_tail(path: str, lines: int, limit: int) -> str:
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            size = f.tell()
            f.seek(max(0, size - 64 * 1024))
            data = f.read()
    except OSError:
        return ""
    out: list[bytes] = []
    for line in data.split(b"\n")[-lines - 1 :]:
        parts = line.split(b" ", 3)
        if len(parts) >= 3:
            out.append((parts[3] if len(parts) > 3 else b"") + (b"" if parts[2].startswith(b"P") else b"\n"))
    return b"".join(out)[-limit:].decode(errors="replace")
