"""CrashLoopBackOff: per-container restart delays, doubling from a base (10 s) to a cap (5 min).

Same rules as upstream's `flowcontrol.Backoff` use in kuberuntime: the first restart is immediate; while a container
keeps dying, each restart waits the current delay counted from when it finished, and the delay doubles; a
container that ran for `reset_after` (10 min) before dying starts over from the base.
"""

from __future__ import annotations

import time
from dataclasses import dataclass


@dataclass
class _Entry:
    delay: float
    last: float


class Backoff:
    def __init__(self, base: float = 10.0, cap: float = 300.0, reset_after: float = 600.0) -> None:
        self.base = base
        self.cap = cap
        self.reset_after = reset_after
        self._entries: dict[str, _Entry] = {}

    def remaining(self, key: str, finished_at: float, ran_for: float, now: float | None = None) -> float:
        """Seconds to wait before restarting the container that finished at `finished_at` (0: restart now)."""
        now = time.time() if now is None else now
        e = self._entries.get(key)
        if e is None or ran_for >= self.reset_after or now - e.last > 2 * self.cap + self.reset_after:
            return 0.0
        return max(0.0, finished_at + e.delay - now)

    def current(self, key: str) -> float:
        e = self._entries.get(key)
        return e.delay if e else 0.0

    def next(self, key: str, ran_for: float, now: float | None = None) -> None:
        """A restart is happening now: grow the delay for the one after."""
        now = time.time() if now is None else now
        e = self._entries.get(key)
        if e is None or ran_for >= self.reset_after:
            self._entries[key] = _Entry(self.base, now)
        else:
            e.delay = min(e.delay * 2, self.cap)
            e.last = now

    def forget(self, prefix: str) -> None:
        for k in [k for k in self._entries if k.startswith(prefix)]:
            del self._entries[k]
