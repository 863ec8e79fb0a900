"""Pod volumes: make each volume's directory on the node, keep API-backed contents current, tear them down.

Supported: emptyDir (disk, or tmpfs for `medium: Memory` as root, with sizeLimit), hostPath (with its type checks),
configMap, secret (tmpfs as root), downwardAPI and projected (configMap, secret, downwardAPI, serviceAccountToken).
API-backed volumes are written with the atomic `..data` symlink swap and re-synced periodically, so ConfigMap and
Secret updates reach running pods. How a directory appears inside a container is the runtime's business: a bind
mount in the container's private mount namespace as root, a symlink at mountPath otherwise.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
import os
import shutil
import stat
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kybernetes.kubelet.envvars import EnvError, Getter, field_value, resource_value
from kybernetes.kubelet.quantity import bytes_of
from kybernetes.kubelet.runtime import linux
from kybernetes.kubelet.volumes.atomic_writer import FileProjection, write_atomic

log = logging.getLogger(__name__)

Obj = dict[str, Any]
TokenSource = Callable[[Obj, Obj], Awaitable[str]]
"""(pod, serviceAccountToken projection) -> a token."""

PLUGINS = {
    "emptyDir": "kubernetes.io~empty-dir",
    "configMap": "kubernetes.io~configmap",
    "secret": "kubernetes.io~secret",
    "downwardAPI": "kubernetes.io~downward-api",
    "projected": "kubernetes.io~projected",
}
API_BACKED = ("configMap", "secret", "downwardAPI", "projected")


class VolumeError(Exception):
    """A volume cannot be set up (the pod waits in ContainerCreating, event FailedMount)."""


@dataclass
class Volume:
    name: str
    kind: str
    path: str
    readonly: bool = False


def volume_kind(vol: Obj) -> str:
    for k in ("emptyDir", "hostPath", "configMap", "secret", "downwardAPI", "projected"):
        if k in vol:
            return k
    return next((k for k in vol if k != "name"), "")


class VolumeManager:
    def __init__(
        self,
        pods_dir: Path,
        get: Getter,
        *,
        root: bool,
        allocatable: Callable[[], Mapping[str, str]],
        token: TokenSource | None = None,
    ) -> None:
        self.pods_dir = pods_dir
        self.get = get
        self.root = root
        self.allocatable = allocatable
        self.token = token

    def pod_dir(self, uid: str) -> Path:
        return self.pods_dir / uid

    def _vol_dir(self, uid: str, kind: str, name: str) -> Path:
        return self.pod_dir(uid) / "volumes" / PLUGINS[kind] / name

    async def setup(self, pod: Obj) -> dict[str, Volume]:
        """Make every volume of the pod ready (idempotent; API-backed ones are refreshed)."""
        uid = str(pod["metadata"]["uid"])
        out: dict[str, Volume] = {}
        for vol in (pod.get("spec") or {}).get("volumes") or []:
            name = str(vol.get("name", ""))
            kind = volume_kind(vol)
            try:
                out[name] = await self._setup_one(pod, uid, name, kind, vol)
            except VolumeError:
                raise
            except (EnvError, OSError, ValueError) as e:
                raise VolumeError(f'MountVolume.SetUp failed for volume "{name}" : {e}') from e
        return out

    async def _setup_one(self, pod: Obj, uid: str, name: str, kind: str, vol: Obj) -> Volume:
        if kind == "hostPath":
            return Volume(name, kind, _host_path(vol["hostPath"]))
        if kind == "emptyDir":
            d = self._vol_dir(uid, kind, name)
            spec = vol.get("emptyDir") or {}
            self._empty_dir(d, spec)
            return Volume(name, kind, str(d))
        if kind in API_BACKED:
            d = self._vol_dir(uid, kind, name)
            payload = await self._payload(pod, kind, vol[kind] or {})
            tmpfs = self.root and kind in ("secret", "projected")
            self._write(d, payload, tmpfs)
            return Volume(name, kind, str(d), readonly=True)
        raise VolumeError(f'MountVolume.SetUp failed for volume "{name}" : volume type {kind or "unknown"} is not supported by this node')

    def _empty_dir(self, d: Path, spec: Obj) -> None:
        if d.is_dir():
            return
        d.mkdir(parents=True, mode=0o777)
        os.chmod(d, 0o777)
        if spec.get("medium") == "Memory" and self.root:
            size = spec.get("sizeLimit") or self.allocatable().get("memory")
            opts = f"size={bytes_of(size)}" if size else ""
            linux.mount_tmpfs(str(d), opts + ",mode=0777" if opts else "mode=0777")
            (d.parent / f".{d.name}.tmpfs").touch()

    def _write(self, d: Path, payload: dict[str, FileProjection], tmpfs: bool) -> None:
        if tmpfs and not d.is_dir():
            d.mkdir(parents=True)
            linux.mount_tmpfs(str(d), "mode=0755")
            (d.parent / f".{d.name}.tmpfs").touch()
        write_atomic(d, payload)

    async def _payload(self, pod: Obj, kind: str, src: Obj) -> dict[str, FileProjection]:
        ns = str(pod["metadata"].get("namespace", ""))
        if kind == "projected":
            default = int(src.get("defaultMode", 0o644))
            out: dict[str, FileProjection] = {}
            for s in src.get("sources") or []:
                if "configMap" in s:
                    out.update(await self._keys(ns, "configmaps", s["configMap"] or {}, default))
                elif "secret" in s:
                    out.update(await self._keys(ns, "secrets", s["secret"] or {}, default))
                elif "downwardAPI" in s:
                    out.update(self._downward(pod, s["downwardAPI"] or {}, default))
                elif "serviceAccountToken" in s:
                    sat = s["serviceAccountToken"] or {}
                    tok = await self.token(pod, sat) if self.token else "kybernetes-placeholder-token"
                    out[str(sat.get("path", "token"))] = FileProjection(tok.encode(), default & 0o600 or 0o600)
            return out
        default = int(src.get("defaultMode", 0o644))
        if kind == "configMap":
            return await self._keys(ns, "configmaps", src, default)
        if kind == "secret":
            return await self._keys(ns, "secrets", {**src, "name": src.get("secretName", "")}, default)
        return self._downward(pod, src, default)

    async def _keys(self, ns: str, kind: str, src: Obj, default: int) -> dict[str, FileProjection]:
        name = str(src.get("name", ""))
        obj = await self.get(kind, ns, name)
        label = "configmap" if kind == "configmaps" else "secret"
        if obj is None:
            if src.get("optional"):
                return {}
            raise VolumeError(f'{label} "{name}" not found')
        data: dict[str, bytes] = {}
        if kind == "configmaps":
            data.update({k: str(v).encode() for k, v in (obj.get("data") or {}).items()})
            data.update({k: base64.b64decode(str(v)) for k, v in (obj.get("binaryData") or {}).items()})
        else:
            data.update({k: base64.b64decode(str(v)) for k, v in (obj.get("data") or {}).items()})
        items = src.get("items")
        if not items:
            return {k: FileProjection(v, default) for k, v in data.items()}
        out: dict[str, FileProjection] = {}
        for it in items:
            key = str(it.get("key", ""))
            if key not in data:
                if src.get("optional"):
                    continue
                raise VolumeError(f"configmap references non-existent config key: {key}" if kind == "configmaps"
                                  else f"references non-existent secret key: {key}")
            out[str(it.get("path", key))] = FileProjection(data[key], int(it.get("mode", default)))
        return out

    def _downward(self, pod: Obj, src: Obj, default: int) -> dict[str, FileProjection]:
        out: dict[str, FileProjection] = {}
        for it in src.get("items") or []:
            mode = int(it.get("mode", src.get("defaultMode", default)))
            if it.get("fieldRef"):
                v = field_value(pod, str(it["fieldRef"].get("fieldPath", "")))
            elif it.get("resourceFieldRef"):
                v = resource_value(pod, "", it["resourceFieldRef"], self.allocatable())
            else:
                continue
            out[str(it.get("path", ""))] = FileProjection(v.encode(), mode)
        return out

    async def refresh(self, pod: Obj) -> None:
        """Re-sync API-backed volumes (ConfigMap/Secret edits, label changes) of a running pod."""
        uid = str(pod["metadata"]["uid"])
        for vol in (pod.get("spec") or {}).get("volumes") or []:
            kind = volume_kind(vol)
            if kind not in API_BACKED:
                continue
            d = self._vol_dir(uid, kind, str(vol.get("name", "")))
            try:
                payload = await self._payload(pod, kind, vol[kind] or {})
            except (VolumeError, EnvError) as e:
                log.debug("volume %s of pod %s not refreshed: %s", vol.get("name"), uid, e)
                continue
            with contextlib.suppress(OSError, ValueError):
                await asyncio.to_thread(self._write, d, payload, self.root and kind in ("secret", "projected"))

    async def teardown(self, uid: str) -> None:
        await asyncio.to_thread(self._teardown, uid)

    def _teardown(self, uid: str) -> None:
        base = self.pod_dir(uid)
        vols = base / "volumes"
        if vols.is_dir():
            for plugin in vols.iterdir():
                for marker in plugin.glob(".*.tmpfs"):
                    target = plugin / marker.name[1 : -len(".tmpfs")]
                    with contextlib.suppress(OSError):
                        linux.umount(str(target))
                    marker.unlink(missing_ok=True)
        shutil.rmtree(base, ignore_errors=True)

    def known_pods(self) -> list[str]:
        try:
            return [p.name for p in self.pods_dir.iterdir() if p.is_dir()]
        except OSError:
            return []


def _host_path(spec: Obj) -> str:
    path = str(spec.get("path", ""))
    typ = str(spec.get("type") or "")
    try:
        st: os.stat_result | None = os.stat(path)
    except FileNotFoundError:
        st = None
    if typ == "DirectoryOrCreate" and st is None:
        os.makedirs(path, mode=0o755, exist_ok=True)
    elif typ == "FileOrCreate" and st is None:
        with open(path, "a"):
            pass
        os.chmod(path, 0o644)
    checks = {
        "Directory": (stat.S_ISDIR, "a directory"),
        "DirectoryOrCreate": (stat.S_ISDIR, "a directory"),
        "File": (stat.S_ISREG, "a file"),
        "FileOrCreate": (stat.S_ISREG, "a file"),
        "Socket": (stat.S_ISSOCK, "a socket file"),
        "CharDevice": (stat.S_ISCHR, "a character device"),
        "BlockDevice": (stat.S_ISBLK, "a block device"),
    }
    if typ in checks:
        pred, what = checks[typ]
        try:
            ok = pred(os.stat(path).st_mode)
        except FileNotFoundError:
            raise VolumeError(f"hostPath type check failed: {path} is not {what}") from None
        if not ok:
            raise VolumeError(f"hostPath type check failed: {path} is not {what}")
    return path


def hosts_file(pod: Obj, ip: str) -> bytes:
    """The kubelet-managed /etc/hosts of a pod (upstream's format)."""
    spec = pod.get("spec") or {}
    meta = pod.get("metadata") or {}
    hostname = str(spec.get("hostname") or meta.get("name", ""))
    lines = [
        "# Kubernetes-managed hosts file.",
        "127.0.0.1\tlocalhost",
        "::1\tlocalhost ip6-localhost ip6-loopback",
        "fe00::0\tip6-localnet",
        "fe00::0\tip6-mcastprefix",
        "fe00::1\tip6-allnodes",
        "fe00::2\tip6-allrouters",
    ]
    if spec.get("subdomain"):
        fqdn = f"{hostname}.{spec['subdomain']}.{meta.get('namespace', '')}.svc.cluster.local"
        lines.append(f"{ip}\t{fqdn}\t{hostname}")
    else:
        lines.append(f"{ip}\t{hostname}")
    for alias in spec.get("hostAliases") or []:
        lines.append(f"\n# Entries added by HostAliases.\n{alias.get('ip')}\t" + "\t".join(alias.get("hostnames") or []))
    return ("\n".join(lines) + "\n").encode()


def dumps(obj: object) -> str:
    return json.dumps(obj, sort_keys=True)
