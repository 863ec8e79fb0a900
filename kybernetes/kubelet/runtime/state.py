"""The process runtime's records of sandboxes and containers, persisted so a restarted kubelet re-adopts its pods.

Each record is one small JSON file written atomically (write + rename) on every state change; on start the runtime
loads them all and checks every recorded process against /proc (pid and start time) before trusting it.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, TypeVar

log = logging.getLogger(__name__)


@dataclass
class SandboxRecord:
    id: str
    uid: str
    name: str
    namespace: str
    attempt: int = 0
    created_at: int = 0
    hostname: str = ""
    host_network: bool = False
    host_pid: bool = False
    host_ipc: bool = False
    labels: dict[str, str] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)
    netns: str = ""
    ip: str = ""
    ns_dir: str = ""
    ready: bool = True
    mount_points: list[str] = field(default_factory=list)


@dataclass
class ContainerRecord:
    id: str
    sandbox_id: str
    pod_uid: str
    name: str
    attempt: int
    image: str = ""
    argv: list[str] = field(default_factory=list)
    env: list[list[str]] = field(default_factory=list)
    working_dir: str = ""
    mounts: list[dict[str, Any]] = field(default_factory=list)
    log_path: str = ""
    stdin: bool = False
    stdin_once: bool = False
    tty: bool = False
    resources: dict[str, int] = field(default_factory=dict)
    run_as_user: int | None = None
    run_as_group: int | None = None
    supplemental_groups: list[int] = field(default_factory=list)
    labels: dict[str, str] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)
    state: str = "CONTAINER_CREATED"
    created_at: int = 0
    started_at: int = 0
    finished_at: int = 0
    exit_code: int = 0
    reason: str = ""
    message: str = ""
    pid: int = 0
    pid_start: int | None = None
    shim_pid: int = 0
    shim_start: int | None = None
    dir: str = ""


R = TypeVar("R", SandboxRecord, ContainerRecord)


def _from_dict(cls: type[R], d: dict[str, Any]) -> R:
    names = {f.name for f in fields(cls)}
    return cls(**{k: v for k, v in d.items() if k in names})


class RecordStore:
    def __init__(self, root: Path) -> None:
        self.root = root
        (root / "sandboxes").mkdir(parents=True, exist_ok=True)
        (root / "containers").mkdir(parents=True, exist_ok=True)

    def _path(self, rec: SandboxRecord | ContainerRecord) -> Path:
        kind = "sandboxes" if isinstance(rec, SandboxRecord) else "containers"
        return self.root / kind / f"{rec.id}.json"

    def save(self, rec: SandboxRecord | ContainerRecord) -> None:
        path = self._path(rec)
        tmp = path.with_suffix(".tmp")
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(asdict(rec), f)
        os.replace(tmp, path)

    def delete(self, rec: SandboxRecord | ContainerRecord) -> None:
        with contextlib.suppress(FileNotFoundError):
            self._path(rec).unlink()

    def load(self) -> tuple[list[SandboxRecord], list[ContainerRecord]]:
        sbs = [_from_dict(SandboxRecord, d) for d in self._load_dir("sandboxes")]
        cts = [_from_dict(ContainerRecord, d) for d in self._load_dir("containers")]
        return sbs, cts

    def _load_dir(self, kind: str) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for p in sorted((self.root / kind).glob("*.json")):
            try:
                out.append(json.loads(p.read_text()))
            except (OSError, ValueError) as e:
                log.warning("ignoring unreadable runtime record %s: %s", p, e)
        return out
