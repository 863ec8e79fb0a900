"""Per-resource strategies, looked up by (group, resource); unknown resources get the default strategy."""

from __future__ import annotations

from kybernetes.registry import core, workloads
from kybernetes.registry.base import Strategy

_DEFAULT = Strategy()
_CUSTOM = type("CustomResourceStrategy", (Strategy,), {"tracks_generation": True})()
_ALL: dict[tuple[str, str], Strategy] = {**core.STRATEGIES, **workloads.STRATEGIES}


def strategy_for(group: str, resource: str, custom: bool = False) -> Strategy:
    s = _ALL.get((group, resource))
    if s is not None:
        return s
    return _CUSTOM if custom else _DEFAULT


__all__ = ["Strategy", "strategy_for"]
