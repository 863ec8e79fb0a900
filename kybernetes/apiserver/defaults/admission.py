"""Mutating admission that upstream enables by default and that kubectl users see in every pod.

- DefaultTolerationSeconds: pods that do not tolerate `node.kubernetes.io/not-ready` and `.../unreachable`
  NoExecute taints get 300-second tolerations, so they are evicted five minutes after their node goes away.
- Priority: `spec.priority` (and `preemptionPolicy`) come from the pod's PriorityClass or the global default
  class; an unknown class is Forbidden, a pod may not state a different number itself. PriorityClasses
  themselves are checked here too: one global default at most, `system-` names reserved, values capped.

Both read PriorityClasses from the watch cache, like upstream's plugins read them from an informer.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kybernetes.api.resources import ResourceInfo
from kybernetes.apiserver.defaults.fields import items, struct
from kybernetes.machinery import errors
from kybernetes.machinery.errors import FieldError

if TYPE_CHECKING:
    from kybernetes.apiserver.server import APIServer

NOT_READY = "node.kubernetes.io/not-ready"
UNREACHABLE = "node.kubernetes.io/unreachable"
DEFAULT_TOLERATION_SECONDS = 300
HIGHEST_USER_DEFINABLE_PRIORITY = 1_000_000_000
SYSTEM_CRITICAL_PRIORITY = 2 * HIGHEST_USER_DEFINABLE_PRIORITY
SYSTEM_PRIORITY_CLASSES: tuple[dict[str, Any], ...] = (
    {
        "apiVersion": "scheduling.k8s.io/v1",
        "kind": "PriorityClass",
        "metadata": {"name": "system-node-critical"},
        "value": SYSTEM_CRITICAL_PRIORITY + 1000,
        "description": "Used for system critical pods that must not be moved from their current node.",
    },
    {
        "apiVersion": "scheduling.k8s.io/v1",
        "kind": "PriorityClass",
        "metadata": {"name": "system-cluster-critical"},
        "value": SYSTEM_CRITICAL_PRIORITY,
        "description": "Used for system critical pods that must run in the cluster, but can be moved to another "
        "node if necessary.",
    },
)


def default_toleration_seconds(pod: dict[str, Any]) -> None:
    spec = struct(pod, "spec")
    if spec is None:
        return
    tolerations = spec.get("tolerations")
    if tolerations is not None and not isinstance(tolerations, list):
        return
    not_ready = unreachable = False
    for t in items(spec, "tolerations"):
        key, effect = t.get("key") or "", t.get("effect") or ""
        if effect in ("NoExecute", ""):
            not_ready = not_ready or key in (NOT_READY, "")
            unreachable = unreachable or key in (UNREACHABLE, "")
    added = list(tolerations or [])
    for key, tolerated in ((NOT_READY, not_ready), (UNREACHABLE, unreachable)):
        if not tolerated:
            added.append(
                {"key": key, "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": DEFAULT_TOLERATION_SECONDS}
            )
    if len(added) != len(tolerations or []):
        spec["tolerations"] = added


class PriorityAdmission:
    """Upstream's Priority admission plugin over the watch cache."""

    def __init__(self, api: APIServer) -> None:
        self.api = api

    def _info(self) -> ResourceInfo:
        info = self.api.resources.get("scheduling.k8s.io", "v1", "priorityclasses")
        assert info is not None
        return info

    async def _classes(self) -> list[dict[str, Any]]:
        info = self._info()
        await self.api.cache.wait_fresh()
        return [o.decode() for o in self.api.cache.cache(info.key_prefix).objects.values()]

    async def _class(self, name: str) -> dict[str, Any] | None:
        info = self._info()
        objects = self.api.cache.cache(info.key_prefix).objects
        found = objects.get(info.key("", name))
        if found is None:
            await self.api.cache.wait_fresh()
            found = objects.get(info.key("", name))
        return found.decode() if found is not None else None

    async def _global_default(self) -> dict[str, Any] | None:
        defaults = [pc for pc in await self._classes() if pc.get("globalDefault") is True]
        return min(defaults, key=lambda pc: int(pc.get("value") or 0)) if defaults else None

    async def admit(self, operation: str, info: ResourceInfo, obj: dict[str, Any], old: dict[str, Any] | None) -> None:
        if info.group == "" and info.resource == "pods":
            await self._admit_pod(operation, obj, old)
        elif info.group == "scheduling.k8s.io" and info.resource == "priorityclasses":
            await self._admit_class(operation, obj, old)

    async def _admit_pod(self, operation: str, pod: dict[str, Any], old: dict[str, Any] | None) -> None:
        spec = struct(pod, "spec")
        if spec is None:
            return
        if operation == "UPDATE" and old is not None:
            old_spec = old.get("spec") or {}
            for key in ("priority", "preemptionPolicy"):
                if spec.get(key) is None and old_spec.get(key) is not None:
                    spec[key] = old_spec[key]
            return
        if operation != "CREATE":
            return
        name = str((pod.get("metadata") or {}).get("name") or "")
        class_name = spec.get("priorityClassName") or ""
        policy: str | None
        if not class_name:
            pc = await self._global_default()
            if pc is None:
                priority, policy = 0, "PreemptLowerPriority"
            else:
                spec["priorityClassName"] = (pc.get("metadata") or {}).get("name", "")
                priority, policy = int(pc.get("value") or 0), _str_or_none(pc.get("preemptionPolicy"))
        else:
            pc = await self._class(str(class_name))
            if pc is None:
                raise _forbidden("pods", "", name, f"no PriorityClass with name {class_name} was found")
            priority, policy = int(pc.get("value") or 0), _str_or_none(pc.get("preemptionPolicy"))
        if spec.get("priority") is not None and spec["priority"] != priority:
            raise _forbidden(
                "pods", "", name,
                f"the integer value of priority ({spec['priority']}) must not be provided in pod spec; priority "
                f"admission controller computed {priority} from the given PriorityClass name",
            )
        spec["priority"] = priority
        if policy is not None:
            if spec.get("preemptionPolicy") is not None and spec["preemptionPolicy"] != policy:
                raise _forbidden(
                    "pods", "", name,
                    f"the string value of PreemptionPolicy ({spec['preemptionPolicy']}) must not be provided in pod "
                    f"spec; priority admission controller computed {policy} from the given PriorityClass name",
                )
            spec["preemptionPolicy"] = policy

    async def _admit_class(self, operation: str, pc: dict[str, Any], old: dict[str, Any] | None) -> None:
        name = str((pc.get("metadata") or {}).get("name") or "")
        if operation not in ("CREATE", "UPDATE"):
            return
        _validate_class(pc, old, name)
        if pc.get("globalDefault") is True:
            current = await self._global_default()
            current_name = ((current or {}).get("metadata") or {}).get("name")
            if current is not None and (operation == "CREATE" or current_name != name):
                raise _forbidden(
                    "priorityclasses", "scheduling.k8s.io", name,
                    f"PriorityClass {current_name} is the default priority class. Only one default can exist",
                )


def _str_or_none(value: Any) -> str | None:
    return None if value is None else str(value)


def _validate_class(pc: dict[str, Any], old: dict[str, Any] | None, name: str) -> None:
    """The PriorityClass rules of upstream's validation that need the system class table."""
    errs: list[FieldError] = []
    value = pc.get("value")
    if name.startswith("system-"):
        problem = _system_class_problem(name, value, pc.get("globalDefault") is True)
        if problem:
            errs.append(
                FieldError(
                    "forbidden", "metadata.name",
                    detail=f"priority class names with 'system-' prefix are reserved for system use only. error: {problem}",
                )
            )
    elif isinstance(value, int) and value > HIGHEST_USER_DEFINABLE_PRIORITY:
        errs.append(
            FieldError(
                "forbidden", "value",
                detail=f"maximum allowed value of a user defined priority is {HIGHEST_USER_DEFINABLE_PRIORITY}",
            )
        )
    if old is not None:
        if value != old.get("value"):
            errs.append(FieldError("forbidden", "value", detail="may not be changed in an update."))
        if pc.get("preemptionPolicy") != old.get("preemptionPolicy"):
            errs.append(FieldError("forbidden", "preemptionPolicy", detail="may not be changed in an update."))
    if errs:
        raise errors.invalid("PriorityClass", "scheduling.k8s.io", name, errs)


def _system_class_problem(name: str, value: Any, global_default: bool) -> str:
    for spc in SYSTEM_PRIORITY_CLASSES:
        if spc["metadata"]["name"] == name:
            if spc["value"] != value:
                return f"value of {name} PriorityClass must be {spc['value']}"
            if global_default:
                return f"globalDefault of {name} PriorityClass must be false"
            return ""
    return f"{name} is not a known system priority class"


def _forbidden(resource: str, group: str, name: str, why: str) -> errors.StatusError:
    qualified = f"{resource}.{group}" if group else resource
    details: dict[str, Any] = {"name": name, "kind": resource}
    if group:
        details["group"] = group
    return errors.forbidden(f'{qualified} "{name}" is forbidden: {why}', details)
