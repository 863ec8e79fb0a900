"""Field tables of the Kubernetes protobuf messages, annotated for JSON.

Why this module exists: the ``.proto`` field tables (``data/k8s-1.33-fields.json.gz``,
1,133 messages of Kubernetes 1.33) say how a message looks on the wire, but the
API server works with the JSON form, and the two differ in ways the tables
cannot tell:

* JSON names.  Most proto field names are the JSON names, but not all
  (``Webhooks`` → ``webhooks``, ``uID`` → ``uid``, ``aPIGroup`` → ``apiGroup``).
* Embedded Go structs.  ``ConfigMapKeySelector.localObjectReference``,
  ``Probe.handler``, ``Volume.volumeSource``, ``IngressRule.ingressRuleValue``…
  are separate proto messages but are inlined in JSON (``json:",inline"``).
* Zero values.  Go's generated marshallers write every non-pointer field,
  zero or not (``generateName: ""``, ``generation: 0``, ``hostNetwork: false``),
  and ``encoding/json`` then drops them through ``omitempty``.  Pointer fields
  (``replicas``, ``backoffLimit``…) are written only when set, and there a zero
  is meaningful (``replicas: 0``).  The wire cannot tell the two apart, so
  :attr:`Field.keep_zero` decides per field (see :func:`_keep_zero`).

The first two are derived from the upstream swagger document shipped in
``kybernetes.api`` (its definitions are named like the messages, with ``io.k8s.``
for ``k8s.io.``).  The tables are loaded lazily, once per process.
"""

from __future__ import annotations

import gzip
import importlib.resources
import re
import threading
from dataclasses import dataclass, field
from typing import Any

import orjson

__all__ = [
    "DURATION",
    "FIELDS_V1",
    "INT_OR_STRING",
    "MICRO_TIME",
    "QUANTITY",
    "QUANTITY_VALUE",
    "RAW_EXTENSION",
    "TIME",
    "Field",
    "Message",
    "Tables",
    "tables",
]

QUANTITY = "k8s.io.apimachinery.pkg.api.resource.Quantity"
QUANTITY_VALUE = "k8s.io.apimachinery.pkg.api.resource.QuantityValue"
INT_OR_STRING = "k8s.io.apimachinery.pkg.util.intstr.IntOrString"
TIME = "k8s.io.apimachinery.pkg.apis.meta.v1.Time"
MICRO_TIME = "k8s.io.apimachinery.pkg.apis.meta.v1.MicroTime"
DURATION = "k8s.io.apimachinery.pkg.apis.meta.v1.Duration"
FIELDS_V1 = "k8s.io.apimachinery.pkg.apis.meta.v1.FieldsV1"
RAW_EXTENSION = "k8s.io.apimachinery.pkg.runtime.RawExtension"
META_V1 = "k8s.io.apimachinery.pkg.apis.meta.v1"

#: Messages with their own JSON form (see decode.py); everything else is a JSON object.
SPECIAL_MESSAGES = frozenset(
    {QUANTITY, QUANTITY_VALUE, INT_OR_STRING, TIME, MICRO_TIME, DURATION, FIELDS_V1, RAW_EXTENSION}
)

# Non-pointer int/bool fields (Go ``omitempty``) whose zero means "unset" although
# nothing in their swagger description says so; mostly in the messages kubectl
# sends as protobuf.  A zero there is dropped like Go's encoding/json drops it.
_NON_POINTER_ZERO_DROPPED = frozenset(
    {
        "apps.v1.DeploymentSpec.paused",
        "apps.v1.DeploymentSpec.minReadySeconds",
        "apps.v1.StatefulSetSpec.minReadySeconds",
        "apps.v1.DaemonSetSpec.minReadySeconds",
        "apps.v1.ReplicaSetSpec.minReadySeconds",
        "core.v1.EphemeralContainerCommon.stdin",
        "core.v1.EphemeralContainerCommon.stdinOnce",
        "core.v1.EphemeralContainerCommon.tty",
        "core.v1.ContainerPort.hostPort",
        "core.v1.Probe.initialDelaySeconds",
        "core.v1.Probe.timeoutSeconds",
        "core.v1.Probe.periodSeconds",
        "core.v1.Probe.successThreshold",
        "core.v1.Probe.failureThreshold",
        "core.v1.ServicePort.nodePort",
        "core.v1.ServiceSpec.healthCheckNodePort",
        "core.v1.ServiceSpec.publishNotReadyAddresses",
        "core.v1.AWSElasticBlockStoreVolumeSource.partition",
        "core.v1.AWSElasticBlockStoreVolumeSource.readOnly",
        "core.v1.GCEPersistentDiskVolumeSource.partition",
        "core.v1.ISCSIVolumeSource.chapAuthDiscovery",
        "core.v1.ISCSIVolumeSource.chapAuthSession",
        "core.v1.LimitRangeItem.type",
        "networking.v1.ServiceBackendPort.number",
        "scheduling.v1.PriorityClass.globalDefault",
        "meta.v1.ObjectMeta.generation",
        "meta.v1.Condition.observedGeneration",
        "meta.v1.ListMeta.remainingItemCount",
        "meta.v1.APIResource.namespaced",
    }
)

# Pointer string fields where "" means something different from "unset".
_POINTER_EMPTY_STRING_KEPT = frozenset(
    {
        "core.v1.PersistentVolumeClaimSpec.storageClassName",
        "core.v1.PersistentVolumeClaimSpec.volumeAttributesClassName",
    }
)

_ZERO_DEFAULT = re.compile(r"[Dd]efault(?:s|ed)?(?: value)?(?: is| to)?:? \"?(?:0|false)\b")
_INT_TYPES = frozenset(
    {
        "int32",
        "int64",
        "uint32",
        "uint64",
        "sint32",
        "sint64",
        "fixed32",
        "fixed64",
        "sfixed32",
        "sfixed64",
        "double",
        "float",
        "bool",
    }
)


@dataclass(slots=True)
class Field:
    """One field of a message, with what the JSON form needs."""

    number: int
    name: str  # proto name
    json: str  # JSON name ("" for inline fields)
    type: str  # scalar type name, or message name; for maps the value type
    is_message: bool
    repeated: bool
    is_map: bool = False
    map_key: str = ""
    inline: bool = False
    keep_zero: bool = False


@dataclass(slots=True)
class Message:
    """A message: its fields in declaration order (the Go struct order, which JSON output follows)."""

    name: str
    fields: list[Field]
    by_number: dict[int, Field] = field(default_factory=dict)
    # A Go named slice type (``ExtraValue``, ``Verbs``): JSON is the list itself.
    array_wrapper: bool = False


def _short(name: str) -> str:
    return name.rsplit(".", 1)[-1]


def _swagger_name(proto_name: str) -> str:
    # k8s.io.api.core.v1.Pod -> io.k8s.api.core.v1.Pod
    return "io.k8s." + proto_name[len("k8s.io.") :] if proto_name.startswith("k8s.io.") else proto_name


def _curated_key(proto_name: str, field_name: str) -> str:
    rest = proto_name
    for prefix in ("k8s.io.api.", "k8s.io.apimachinery.pkg.apis."):
        if rest.startswith(prefix):
            rest = rest[len(prefix) :]
            break
    return f"{rest}.{field_name}"


def _keep_zero(msg_name: str, f: dict[str, Any], prop: dict[str, Any] | None, required: bool) -> bool:
    """Whether a zero scalar present on the wire should stay in the JSON form.

    Required fields (no ``omitempty`` in Go) always keep it.  Strings drop "" (nearly
    all are non-pointer ``omitempty``).  Ints and bools keep 0/false (a set pointer
    such as ``replicas: 0`` must survive) unless the field is known or documented to
    have a zero default, or lives in a status message (written by the server).
    """
    if required:
        return True
    key = _curated_key(msg_name, f["name"])
    if f["type"] == "string":
        return key in _POINTER_EMPTY_STRING_KEPT
    if f["type"] not in _INT_TYPES:
        return False
    if key in _NON_POINTER_ZERO_DROPPED:
        return False
    if _short(msg_name).endswith("Status"):
        return False
    desc = (prop or {}).get("description", "")
    return not _ZERO_DEFAULT.search(desc)


def _lower_first(name: str) -> str:
    if len(name) > 1 and name[0].isupper() and name[1].islower():
        return name[0].lower() + name[1:]
    return name


class Tables:
    """All messages, keyed by fully qualified proto name."""

    def __init__(self, raw: dict[str, Any], swagger: dict[str, Any] | None) -> None:
        self.packages: list[str] = list(raw.get("packages", []))
        self._raw_messages: dict[str, Any] = raw["messages"]
        self.messages: dict[str, Message] = {}
        defs: dict[str, Any] = (swagger or {}).get("definitions", {})
        self._annotate(defs)

    def _annotate(self, defs: dict[str, Any]) -> None:
        raw = self._raw_messages
        learned_names: dict[str, str] = {}
        learned_inline: set[tuple[str, str]] = set()
        with_def: dict[str, tuple[dict[str, Any], set[str]]] = {}
        for name in raw:
            d = defs.get(_swagger_name(name))
            if d is not None:
                with_def[name] = (d.get("properties", {}), set(d.get("required", [])))
        # Pass 1: messages with a swagger definition tell JSON names and inline fields.
        plans: dict[str, list[tuple[dict[str, Any], str, bool, dict[str, Any] | None, bool]]] = {}
        for name, (props, required_names) in with_def.items():
            plan = []
            lower = {p.lower(): p for p in props}
            for f in raw[name]["fields"]:
                fname = f["name"]
                if fname in props:
                    plan.append((f, fname, False, props[fname], fname in required_names))
                elif fname.lower() in lower:
                    j = lower[fname.lower()]
                    learned_names[fname] = j
                    plan.append((f, j, False, props[j], j in required_names))
                elif f["kind"] == "message" and f["label"] != "repeated" and name not in SPECIAL_MESSAGES:
                    learned_inline.add((_short(f["type"]), fname))
                    plan.append((f, "", True, None, False))
                else:
                    plan.append((f, fname, False, None, False))
            plans[name] = plan
        # Pass 2: the others (beta versions not served, internal types) reuse what pass 1 learned.
        for name, m in raw.items():
            if name in plans:
                continue
            plan = []
            for f in m["fields"]:
                fname = f["name"]
                if f["kind"] == "message" and (_short(f["type"]), fname) in learned_inline:
                    plan.append((f, "", True, None, False))
                else:
                    plan.append((f, learned_names.get(fname, _lower_first(fname)), False, None, False))
            plans[name] = plan
        for name, plan in plans.items():
            fields: list[Field] = []
            for f, json_name, inline, prop, required in plan:
                is_map = f["kind"] == "map"
                if is_map:
                    mp = f["map"]
                    fl = Field(
                        f["number"],
                        f["name"],
                        json_name,
                        mp["value"],
                        mp["value_kind"] == "message",
                        True,
                        is_map=True,
                        map_key=mp["key"],
                    )
                else:
                    fl = Field(
                        f["number"],
                        f["name"],
                        json_name,
                        f["type"],
                        f["kind"] == "message",
                        f["label"] == "repeated",
                        inline=inline,
                    )
                    if f["kind"] == "scalar" and not fl.repeated:
                        fl.keep_zero = _keep_zero(name, f, prop, required)
                fields.append(fl)
            msg = Message(name, fields, {fl.number: fl for fl in fields})
            if (
                len(fields) == 1
                and fields[0].name == "items"
                and fields[0].repeated
                and not fields[0].is_map
                and not name.endswith("List")
                and name not in with_def
            ):
                msg.array_wrapper = True
            self.messages[name] = msg

    def message_for_kind(self, api_version: str, kind: str) -> Message | None:
        """Map apiVersion + kind to the message, by the tables' package names.

        Group ``""`` is package ``core``; ``apps``/``batch``… are their own names;
        ``*.k8s.io`` groups use their first label (``rbac.authorization.k8s.io`` →
        ``rbac``) or, failing that, the reversed labels (``internal.apiserver.k8s.io``
        → ``apiserverinternal``).  Kinds shared by all groups (``Status``,
        ``DeleteOptions``, ``WatchEvent``…) come from meta/v1.  Groups outside
        Kubernetes (CRDs) have no message.
        """
        if not kind or "." in kind:
            return None
        group, _, version = api_version.rpartition("/")
        if not version:
            return None
        candidates: list[str] = []
        if group == "":
            candidates.append("core")
        elif group.endswith(".k8s.io") or "." not in group:
            labels = group.removesuffix(".k8s.io").split(".")
            candidates += [labels[0], "".join(reversed(labels)), "".join(labels)]
        for c in candidates:
            m = self.messages.get(f"k8s.io.api.{c}.{version}.{kind}")
            if m is not None:
                return m
        if group in ("", "meta.k8s.io") or version == "v1":
            m = self.messages.get(f"{META_V1}.{kind}")
            if m is not None and kind not in ("Time", "MicroTime", "Duration", "FieldsV1"):
                return m
        return None


_lock = threading.Lock()
_tables: Tables | None = None


def _load_gz_json(package: str, resource: str) -> Any:
    data = importlib.resources.files(package).joinpath(resource).read_bytes()
    return orjson.loads(gzip.decompress(data))


def tables() -> Tables:
    """The process-wide tables (loaded and annotated on first use, ~0.2 s)."""
    global _tables
    t = _tables
    if t is not None:
        return t
    with _lock:
        if _tables is None:
            raw = _load_gz_json(
                __package__ or "kybernetes.machinery.protobuf", "data/k8s-1.33-fields.json.gz"
            )
            try:
                swagger = _load_gz_json("kybernetes.api", "data/swagger.json.gz")
            except (FileNotFoundError, ModuleNotFoundError):  # pragma: no cover - packaging error
                swagger = None
            _tables = Tables(raw, swagger)
        return _tables
