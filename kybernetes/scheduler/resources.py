"""Resource quantities and pod requests, computed once per pod object.

The scheduler compares integers, never strings: CPU in millicores, everything else in base units. A pod's
effective request follows upstream's rule (`resourcehelper.PodRequests`): the sum of its containers plus its
restartable (sidecar) init containers, or the largest single init container if that is bigger, plus the pod
overhead. Scoring uses the "non-zero" variant where a container without a CPU/memory request counts as
100m / 200Mi, so best-effort pods still spread.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

CPU = "cpu"
MEMORY = "memory"
EPHEMERAL = "ephemeral-storage"
PODS = "pods"

DEFAULT_MILLI_CPU = 100
DEFAULT_MEMORY = 200 * 1024 * 1024

_BIN = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60}
_DEC = {"n": Decimal("1e-9"), "u": Decimal("1e-6"), "m": Decimal("1e-3"), "": Decimal(1), "k": Decimal(10**3),
        "M": Decimal(10**6), "G": Decimal(10**9), "T": Decimal(10**12), "P": Decimal(10**15), "E": Decimal(10**18)}

_cache: dict[tuple[str, bool], int] = {}


def parse_quantity(value: Any, milli: bool = False) -> int:
    """A resource.Quantity as an integer (rounded up like Quantity.Value / MilliValue); bad input is 0."""
    if isinstance(value, int | float):
        d = Decimal(str(value))
        return math.ceil(d * 1000) if milli else math.ceil(d)
    s = str(value).strip()
    key = (s, milli)
    hit = _cache.get(key)
    if hit is not None:
        return hit
    num, mult = s, Decimal(1)
    if s[-2:] in _BIN:
        num, mult = s[:-2], Decimal(_BIN[s[-2:]])
    elif s and s[-1] in _DEC and not s[-1].isdigit():
        num, mult = s[:-1], _DEC[s[-1]]
    elif "e" in s.lower():
        pass
    try:
        d = Decimal(num) * mult
    except (InvalidOperation, ValueError):
        d = Decimal(0)
    if milli:
        d *= 1000
    out = int(d.to_integral_value(rounding="ROUND_CEILING"))
    if len(_cache) < 10000:
        _cache[key] = out
    return out


def parse_resource_list(rl: Mapping[str, Any] | None) -> dict[str, int]:
    """{"cpu": "500m", "memory": "1Gi"} -> {"cpu": 500, "memory": 1073741824} (cpu in millicores)."""
    if not rl:
        return {}
    return {k: parse_quantity(v, milli=(k == CPU)) for k, v in rl.items()}


def _add(into: dict[str, int], other: Mapping[str, int]) -> None:
    for k, v in other.items():
        into[k] = into.get(k, 0) + v


def _max(into: dict[str, int], other: Mapping[str, int]) -> None:
    for k, v in other.items():
        if v > into.get(k, 0):
            into[k] = v


def _non_zero(req: Mapping[str, int], raw: Mapping[str, Any]) -> dict[str, int]:
    out = dict(req)
    if CPU not in raw:
        out[CPU] = DEFAULT_MILLI_CPU
    if MEMORY not in raw:
        out[MEMORY] = DEFAULT_MEMORY
    return out


def _combine(containers: list[dict[str, int]], inits: list[tuple[dict[str, int], bool]],
             overhead: dict[str, int]) -> dict[str, int]:
    total: dict[str, int] = {}
    for req in containers:
        _add(total, req)
    restartable: dict[str, int] = {}
    init_max: dict[str, int] = {}
    for req, sidecar in inits:
        if sidecar:
            _add(restartable, req)
            _add(total, req)
            effective = dict(restartable)
        else:
            effective = dict(restartable)
            _add(effective, req)
        _max(init_max, effective)
    _max(total, init_max)
    if overhead:
        _add(total, overhead)
    return total


def pod_requests_pair(spec: Mapping[str, Any]) -> tuple[dict[str, int], dict[str, int]]:
    """(requests, non-zero requests) of a pod spec, parsing each quantity once."""
    conts: list[dict[str, int]] = []
    nz_conts: list[dict[str, int]] = []
    for c in spec.get("containers") or ():
        raw = (c.get("resources") or {}).get("requests") or {}
        req = parse_resource_list(raw)
        conts.append(req)
        nz_conts.append(_non_zero(req, raw))
    inits: list[tuple[dict[str, int], bool]] = []
    nz_inits: list[tuple[dict[str, int], bool]] = []
    for c in spec.get("initContainers") or ():
        raw = (c.get("resources") or {}).get("requests") or {}
        req = parse_resource_list(raw)
        sidecar = c.get("restartPolicy") == "Always"
        inits.append((req, sidecar))
        nz_inits.append((_non_zero(req, raw), sidecar))
    overhead = parse_resource_list(spec.get("overhead"))
    return _combine(conts, inits, overhead), _combine(nz_conts, nz_inits, overhead)


def pod_requests(spec: Mapping[str, Any], non_zero: bool = False) -> dict[str, int]:
    """Effective requests of a pod spec (upstream PodRequests, with sidecars and overhead)."""
    return pod_requests_pair(spec)[1 if non_zero else 0]
