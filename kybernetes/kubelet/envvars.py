"""A container's environment and command line, resolved like the upstream kubelet does it.

`env` values and `command`/`args` may reference variables as `$(VAR)`; `$$` escapes a dollar and references to
undefined variables stay as written (upstream's forked `expansion` package). Values come from literals, ConfigMap
and Secret keys, the pod's own fields (downward API) and its resource requests/limits; `envFrom` imports whole
ConfigMaps/Secrets first and `env` entries override them.
"""

from __future__ import annotations

import base64
import math
import re
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from kybernetes.kubelet.quantity import parse_quantity

Obj = dict[str, Any]
Getter = Callable[[str, str, str], Awaitable[Obj | None]]
"""(kind "configmaps"|"secrets", namespace, name) -> the object, or None when it does not exist."""

_ENV_NAME = re.compile(r"^[-._a-zA-Z][-._a-zA-Z0-9]*$")


class EnvError(Exception):
    """The container cannot start: reason CreateContainerConfigError, with this message."""


def expand(text: str, mapping: Callable[[str], str]) -> str:
    out: list[str] = []
    checkpoint = 0
    cursor = 0
    n = len(text)
    while cursor < n:
        if text[cursor] == "$" and cursor + 1 < n:
            out.append(text[checkpoint:cursor])
            rest = text[cursor + 1 :]
            if rest[0] == "$":
                read, is_var, advance = "$", False, 1
            elif rest[0] == "(":
                close = rest.find(")", 1)
                if close >= 0:
                    read, is_var, advance = rest[1:close], True, close + 1
                else:
                    read, is_var, advance = "$(", False, 1
            else:
                read, is_var, advance = "$" + rest[0], False, 1
            out.append(mapping(read) if is_var else read)
            cursor += advance
            checkpoint = cursor + 1
        cursor += 1
    return "".join(out) + text[checkpoint:]


def mapping_for(*contexts: Mapping[str, str]) -> Callable[[str], str]:
    def lookup(name: str) -> str:
        for ctx in contexts:
            if name in ctx:
                return ctx[name]
        return f"$({name})"

    return lookup


def _subscript(path: str, field: str) -> str | None:
    m = re.fullmatch(rf"{re.escape(field)}\['(.*)'\]", path) or re.fullmatch(rf'{re.escape(field)}\["(.*)"\]', path)
    return m.group(1) if m else None


def field_value(pod: Obj, path: str) -> str:
    """The value of a downward-API fieldRef path on `pod`."""
    meta = pod.get("metadata") or {}
    spec = pod.get("spec") or {}
    status = pod.get("status") or {}
    if path == "metadata.name":
        return str(meta.get("name", ""))
    if path == "metadata.namespace":
        return str(meta.get("namespace", ""))
    if path == "metadata.uid":
        return str(meta.get("uid", ""))
    if path in ("metadata.labels", "metadata.annotations"):
        m = meta.get(path.split(".")[1]) or {}
        return "\n".join(f'{k}="{_escape(str(v))}"' for k, v in sorted(m.items()))
    for field in ("metadata.labels", "metadata.annotations"):
        key = _subscript(path, field)
        if key is not None:
            return str((meta.get(field.split(".")[1]) or {}).get(key, ""))
    if path == "spec.nodeName":
        return str(spec.get("nodeName", ""))
    if path == "spec.serviceAccountName":
        return str(spec.get("serviceAccountName", ""))
    if path == "status.hostIP":
        return str(status.get("hostIP", ""))
    if path == "status.hostIPs":
        return ",".join(str(i.get("ip", "")) for i in status.get("hostIPs") or [])
    if path == "status.podIP":
        return str(status.get("podIP", ""))
    if path == "status.podIPs":
        return ",".join(str(i.get("ip", "")) for i in status.get("podIPs") or [])
    raise EnvError(f"unsupported fieldPath: {path}")


def _escape(v: str) -> str:
    return v.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def resource_value(pod: Obj, container_name: str, ref: Obj, allocatable: Mapping[str, str]) -> str:
    """A resourceFieldRef value: limits.*/requests.* of a container divided by `divisor`, rounded up."""
    resource = str(ref.get("resource", ""))
    containers = list((pod.get("spec") or {}).get("containers") or []) + list(
        (pod.get("spec") or {}).get("initContainers") or []
    )
    cname = ref.get("containerName") or container_name
    c = next((c for c in containers if c.get("name") == cname), None)
    if c is None:
        raise EnvError(f"container {cname!r} not found for resourceFieldRef")
    kind, _, name = resource.partition(".")
    if kind not in ("limits", "requests") or name not in ("cpu", "memory", "ephemeral-storage"):
        raise EnvError(f"unsupported resource: {resource}")
    res = c.get("resources") or {}
    raw = (res.get(kind) or {}).get(name)
    if raw is None and kind == "requests":
        raw = (res.get("limits") or {}).get(name)
    if raw is None:
        raw = allocatable.get(name, "0") if kind == "limits" else "0"
    divisor = parse_quantity(ref.get("divisor") or "1")
    if divisor == 0:
        divisor = parse_quantity("1")
    value = parse_quantity(raw)
    if name == "cpu":
        return str(max(math.ceil(value / divisor), 1 if kind == "limits" or value > 0 else 0))
    return str(math.ceil(value / divisor))


async def _key_from(get: Getter, kind: str, namespace: str, ref: Obj) -> str | None:
    name = str(ref.get("name", ""))
    key = str(ref.get("key", ""))
    optional = bool(ref.get("optional"))
    obj = await get(kind, namespace, name)
    label = "configmap" if kind == "configmaps" else "secret"
    if obj is None:
        if optional:
            return None
        raise EnvError(f'{label} "{name}" not found')
    data = obj.get("data") or {}
    if kind == "configmaps":
        if key in data:
            return str(data[key])
        if key in (obj.get("binaryData") or {}):
            return base64.b64decode(obj["binaryData"][key]).decode(errors="replace")
    elif key in data:
        return base64.b64decode(str(data[key])).decode(errors="replace")
    elif key in (obj.get("stringData") or {}):
        return str(obj["stringData"][key])
    if optional:
        return None
    raise EnvError(f"couldn't find key {key} in {label.capitalize() if label == 'secret' else 'ConfigMap'} {namespace}/{name}")


async def container_env(
    pod: Obj, container: Obj, get: Getter, allocatable: Mapping[str, str], service_env: Mapping[str, str] | None = None
) -> list[tuple[str, str]]:
    """The container's environment as ordered (name, value) pairs (envFrom first, then env)."""
    namespace = str((pod.get("metadata") or {}).get("namespace", ""))
    env: dict[str, str] = {}
    for src in container.get("envFrom") or []:
        prefix = str(src.get("prefix") or "")
        if src.get("configMapRef"):
            kind, ref = "configmaps", src["configMapRef"]
        elif src.get("secretRef"):
            kind, ref = "secrets", src["secretRef"]
        else:
            continue
        obj = await get(kind, namespace, str(ref.get("name", "")))
        if obj is None:
            if ref.get("optional"):
                continue
            raise EnvError(f'{"configmap" if kind == "configmaps" else "secret"} "{ref.get("name")}" not found')
        for k, v in (obj.get("data") or {}).items():
            name = prefix + k
            if not _ENV_NAME.match(name):
                continue
            env[name] = base64.b64decode(str(v)).decode(errors="replace") if kind == "secrets" else str(v)
    svc = dict(service_env or {})
    for var in container.get("env") or []:
        name = str(var.get("name", ""))
        value_from = var.get("valueFrom")
        if value_from is None or var.get("value"):
            env[name] = expand(str(var.get("value", "")), mapping_for(env, svc))
            continue
        if value_from.get("fieldRef"):
            env[name] = field_value(pod, str(value_from["fieldRef"].get("fieldPath", "")))
        elif value_from.get("resourceFieldRef"):
            env[name] = resource_value(pod, str(container.get("name", "")), value_from["resourceFieldRef"], allocatable)
        elif value_from.get("configMapKeyRef"):
            v = await _key_from(get, "configmaps", namespace, value_from["configMapKeyRef"])
            if v is None:
                continue
            env[name] = v
        elif value_from.get("secretKeyRef"):
            v = await _key_from(get, "secrets", namespace, value_from["secretKeyRef"])
            if v is None:
                continue
            env[name] = v
    for k, v in svc.items():
        env.setdefault(k, v)
    return list(env.items())


def command_line(container: Obj, env: list[tuple[str, str]]) -> list[str]:
    """command + args with `$(VAR)` references expanded from the container's environment."""
    mapping = mapping_for(dict(env))
    return [expand(str(a), mapping) for a in (container.get("command") or [])] + [
        expand(str(a), mapping) for a in (container.get("args") or [])
    ]
