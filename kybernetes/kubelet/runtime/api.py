"""The CRI-shaped seam between the kubelet and whatever runs containers.

The kubelet decides *what* should run (from pods) and a runtime decides *how*; the operations and records mirror the
CRI RuntimeService (RunPodSandbox, CreateContainer, StartContainer, StopContainer, ListContainers, ExecSync,
ContainerStats ...) so that a containerd CRI client can implement the same Protocol later. Everything the kubelet
needs to rebuild its view after a restart travels in the records' labels and annotations, as with CRI.
"""

from __future__ import annotations

import asyncio
import enum
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from kybernetes.streaming.runtime_api import InputStream, OutputStream, ResizeQueue


class ContainerState(enum.StrEnum):
    CREATED = "CONTAINER_CREATED"
    RUNNING = "CONTAINER_RUNNING"
    EXITED = "CONTAINER_EXITED"
    UNKNOWN = "CONTAINER_UNKNOWN"


class SandboxState(enum.StrEnum):
    READY = "SANDBOX_READY"
    NOTREADY = "SANDBOX_NOTREADY"


@dataclass
class PodSandboxConfig:
    uid: str
    name: str
    namespace: str
    attempt: int = 0
    hostname: str = ""
    host_network: bool = False
    host_pid: bool = False
    host_ipc: bool = False
    labels: dict[str, str] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)
    log_directory: str = ""


@dataclass
class Mount:
    container_path: str
    host_path: str
    readonly: bool = False
    tmpfs_options: str | None = None
    """Set to mount a fresh tmpfs (with these options) instead of binding host_path."""


@dataclass
class Resources:
    cpu_shares: int = 0
    cpu_quota_us: int = 0
    cpu_period_us: int = 100_000
    memory_limit_bytes: int = 0
    pids_limit: int = 0


@dataclass
class ContainerConfig:
    name: str
    attempt: int
    image: str
    argv: list[str]
    env: list[tuple[str, str]] = field(default_factory=list)
    working_dir: str = ""
    mounts: list[Mount] = field(default_factory=list)
    log_path: str = ""
    stdin: bool = False
    stdin_once: bool = False
    tty: bool = False
    resources: Resources = field(default_factory=Resources)
    run_as_user: int | None = None
    run_as_group: int | None = None
    supplemental_groups: list[int] = field(default_factory=list)
    labels: dict[str, str] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)


@dataclass
class ContainerStatus:
    id: str
    sandbox_id: str
    name: str
    attempt: int
    state: ContainerState
    image: str = ""
    created_at: int = 0
    started_at: int = 0
    finished_at: int = 0
    exit_code: int = 0
    reason: str = ""
    message: str = ""
    log_path: str = ""
    pid: int = 0
    labels: dict[str, str] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)


@dataclass
class SandboxStatus:
    id: str
    uid: str
    name: str
    namespace: str
    attempt: int
    state: SandboxState
    created_at: int = 0
    ip: str = ""
    host_network: bool = False
    labels: dict[str, str] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)


@dataclass
class ContainerStats:
    container_id: str
    timestamp_ns: int
    cpu_usage_core_ns: int | None = None
    memory_usage_bytes: int | None = None
    memory_working_set_bytes: int | None = None
    memory_rss_bytes: int | None = None
    page_faults: int | None = None
    major_page_faults: int | None = None
    processes: int | None = None
    log_bytes: int | None = None


@dataclass
class ContainerEvent:
    """A container changed state (CRI GetContainerEvents); the kubelet wakes that pod's worker."""

    container_id: str
    sandbox_id: str
    pod_uid: str
    state: ContainerState


class RuntimeError_(Exception):
    """A runtime operation failed; `reason` is the CRI-style reason shown in container status."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


class RuntimeService(Protocol):
    """What the kubelet needs from a container runtime (the CRI RuntimeService, in asyncio)."""

    mode: str
    """"root" (isolation: namespaces, cgroups) or "rootless" (host processes)."""

    async def start(self) -> None: ...

    async def close(self) -> None: ...

    def version(self) -> str: ...

    def subscribe(self, callback: Callable[[ContainerEvent], None]) -> None: ...

    async def run_pod_sandbox(self, config: PodSandboxConfig) -> str: ...

    async def stop_pod_sandbox(self, sandbox_id: str) -> None: ...

    async def remove_pod_sandbox(self, sandbox_id: str) -> None: ...

    def list_pod_sandboxes(self) -> list[SandboxStatus]: ...

    def pod_sandbox_status(self, sandbox_id: str) -> SandboxStatus | None: ...

    async def create_container(self, sandbox_id: str, config: ContainerConfig) -> str: ...

    async def start_container(self, container_id: str) -> None: ...

    async def stop_container(self, container_id: str, timeout: float) -> None: ...

    async def remove_container(self, container_id: str) -> None: ...

    def list_containers(self) -> list[ContainerStatus]: ...

    def container_status(self, container_id: str) -> ContainerStatus | None: ...

    async def relist(self) -> None:
        """Refresh states of containers this process did not start (re-adopted after a restart)."""
        ...

    async def exec_sync(self, container_id: str, cmd: Sequence[str], timeout: float) -> tuple[int, bytes]: ...

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
    ) -> int: ...

    async def attach(
        self,
        container_id: str,
        *,
        stdin: InputStream | None,
        stdout: OutputStream | None,
        stderr: OutputStream | None,
        tty: bool,
        resize: ResizeQueue | None,
    ) -> None: ...

    async def port_forward(self, sandbox_id: str, port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]: ...

    def container_stats(self, container_id: str) -> ContainerStats | None: ...
