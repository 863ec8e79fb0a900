"""The scheduling queue: activeQ, backoffQ and unschedulable pods, like upstream's PriorityQueue.

* activeQ: pods ready to be tried, highest priority first, then oldest.
* backoffQ: pods that failed recently, released after 1 s x 2^(attempts-1), at most 10 s.
* unschedulable: pods no node could take. They stay until a cluster event that could help them happens (a
  node added or changed, an assigned pod deleted...), filtered by which plugins rejected the pod (a simplified
  form of upstream's queueing hints), or until 5 minutes pass.

If such an event arrives while a pod is being scheduled, the pod goes to backoffQ instead of unschedulable
when it fails (upstream's moveRequestCycle), so no wake-up is lost.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from collections.abc import Callable, Iterable

from kybernetes.scheduler.podinfo import PodInfo

INITIAL_BACKOFF = 1.0
MAX_BACKOFF = 10.0
MAX_UNSCHEDULABLE = 300.0
UNSCHEDULABLE_FLUSH = 30.0


class QueuedPod:
    __slots__ = ("attempts", "cycle", "initial_attempt", "pod", "timestamp", "unschedulable_plugins")

    def __init__(self, pod: PodInfo, now: float) -> None:
        self.pod = pod
        self.timestamp = now
        self.initial_attempt = 0.0
        self.attempts = 0
        self.cycle = 0
        self.unschedulable_plugins: set[str] = set()


class SchedulingQueue:
    def __init__(self, initial_backoff: float = INITIAL_BACKOFF, max_backoff: float = MAX_BACKOFF,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.initial_backoff = initial_backoff
        self.max_backoff = max_backoff
        self.clock = clock
        self._seq = itertools.count()
        self._active: list[tuple[int, float, int, str]] = []
        self._active_seq: dict[str, int] = {}
        self._backoff: list[tuple[float, int, str]] = []
        self._backoff_seq: dict[str, int] = {}
        self.entries: dict[str, QueuedPod] = {}  # every queued pod, wherever it is
        self.unschedulable: dict[str, QueuedPod] = {}
        self.in_flight: dict[str, QueuedPod] = {}
        self.scheduling_cycle = 0
        self.move_request_cycle = -1  # last cycle in which an event could help any pod
        self._move_cycle_by_plugin: dict[str, int] = {}  # ... or pods rejected by this plugin
        self._by_plugin: dict[str, set[str]] = {}  # unschedulable pod keys by rejecting plugin
        self._wake = asyncio.Event()
        self.idle = asyncio.Event()  # set while pop() waits: no pod is ready to be tried
        self._closed = False
        self._last_flush = clock()

    # ----------------------------------------------------------------- sizes
    def __len__(self) -> int:
        return len(self.entries)

    def stats(self) -> dict[str, int]:
        return {"active": len(self._active_seq), "backoff": len(self._backoff_seq),
                "unschedulable": len(self.unschedulable), "in_flight": len(self.in_flight)}

    # ------------------------------------------------------------ internals
    def _drop_unschedulable(self, key: str) -> None:
        qp = self.unschedulable.pop(key, None)
        if qp is not None:
            for p in qp.unschedulable_plugins or ("",):
                keys = self._by_plugin.get(p)
                if keys is not None:
                    keys.discard(key)
                    if not keys:
                        del self._by_plugin[p]

    def _push_active(self, qp: QueuedPod) -> None:
        key = qp.pod.key
        self._backoff_seq.pop(key, None)
        self._drop_unschedulable(key)
        seq = next(self._seq)
        self._active_seq[key] = seq
        heapq.heappush(self._active, (-qp.pod.priority, qp.timestamp, seq, key))
        self._wake.set()

    def _push_backoff(self, qp: QueuedPod) -> None:
        key = qp.pod.key
        self._active_seq.pop(key, None)
        self._drop_unschedulable(key)
        seq = next(self._seq)
        self._backoff_seq[key] = seq
        heapq.heappush(self._backoff, (self.backoff_until(qp), seq, key))
        self._wake.set()

    def _push_unschedulable(self, qp: QueuedPod) -> None:
        key = qp.pod.key
        self._active_seq.pop(key, None)
        self._backoff_seq.pop(key, None)
        self._drop_unschedulable(key)
        self.unschedulable[key] = qp
        for p in qp.unschedulable_plugins or ("",):
            self._by_plugin.setdefault(p, set()).add(key)

    def backoff_duration(self, qp: QueuedPod) -> float:
        if qp.attempts <= 0:
            return 0.0
        return float(min(self.initial_backoff * (2 ** (qp.attempts - 1)), self.max_backoff))

    def backoff_until(self, qp: QueuedPod) -> float:
        return qp.timestamp + self.backoff_duration(qp)

    def _requeue(self, qp: QueuedPod) -> None:
        """To backoffQ while still backing off, else straight to activeQ."""
        if self.backoff_until(qp) > self.clock():
            self._push_backoff(qp)
        else:
            self._push_active(qp)

    def _flush_backoff(self, now: float) -> None:
        h = self._backoff
        while h and h[0][0] <= now:
            _, seq, key = heapq.heappop(h)
            if self._backoff_seq.get(key) == seq:
                del self._backoff_seq[key]
                self._push_active(self.entries[key])

    def _flush_unschedulable(self, now: float) -> None:
        if now - self._last_flush < UNSCHEDULABLE_FLUSH:
            return
        self._last_flush = now
        for qp in [q for q in self.unschedulable.values() if now - q.timestamp > MAX_UNSCHEDULABLE]:
            self._requeue(qp)

    # --------------------------------------------------------------- events
    def add(self, pod: PodInfo) -> None:
        """A new pending pod (or a changed one)."""
        if pod.key in self.entries or pod.key in self.in_flight:
            self.update(pod)
            return
        qp = QueuedPod(pod, self.clock())
        self.entries[pod.key] = qp
        self._push_active(qp)

    def update(self, pod: PodInfo) -> None:
        key = pod.key
        fl = self.in_flight.get(key)
        if fl is not None:
            fl.pod = pod
            return
        qp = self.entries.get(key)
        if qp is None:
            self.add(pod)
            return
        old = qp.pod
        qp.pod = pod
        if key in self._active_seq:
            if old.priority != pod.priority:
                self._push_active(qp)
        elif key in self.unschedulable:
            if _scheduling_relevant_change(old, pod):
                self._requeue(qp)
            else:
                self.unschedulable[key] = qp

    def delete(self, key: str) -> None:
        self.entries.pop(key, None)
        self.in_flight.pop(key, None)
        self._drop_unschedulable(key)
        self._active_seq.pop(key, None)
        self._backoff_seq.pop(key, None)

    def move_all(self, plugins: Iterable[str] | None = None) -> int:
        """A cluster event happened; retry unschedulable pods rejected by one of `plugins` (None: all)."""
        if plugins is None:
            self.move_request_cycle = self.scheduling_cycle
            keys: Iterable[str] = list(self.unschedulable)
        else:
            found: set[str] = set(self._by_plugin.get("", ()))
            for p in plugins:
                self._move_cycle_by_plugin[p] = self.scheduling_cycle
                found |= self._by_plugin.get(p, set())
            keys = found
        moved = 0
        for key in keys:
            qp = self.unschedulable.get(key)
            if qp is not None:
                self._requeue(qp)
                moved += 1
        return moved

    # ---------------------------------------------------------------- pop
    async def pop(self) -> QueuedPod | None:
        while not self._closed:
            now = self.clock()
            self._flush_backoff(now)
            self._flush_unschedulable(now)
            while self._active:
                _, _, seq, key = heapq.heappop(self._active)
                if self._active_seq.get(key) != seq:
                    continue
                del self._active_seq[key]
                qp = self.entries.pop(key)
                self.scheduling_cycle += 1
                qp.cycle = self.scheduling_cycle
                qp.attempts += 1
                if not qp.initial_attempt:
                    qp.initial_attempt = now
                self.in_flight[key] = qp
                self.idle.clear()
                return qp
            self._wake.clear()
            self.idle.set()
            timeout = max(self._backoff[0][0] - now, 0.001) if self._backoff else UNSCHEDULABLE_FLUSH
            try:
                await asyncio.wait_for(self._wake.wait(), timeout)
            except TimeoutError:
                pass
        return None

    def done(self, key: str) -> None:
        self.in_flight.pop(key, None)

    def add_unschedulable(self, qp: QueuedPod, plugins: set[str]) -> None:
        """Back into the queue after a failed attempt (unless the pod was deleted meanwhile)."""
        key = qp.pod.key
        if self.in_flight.pop(key, None) is None:
            return
        qp.timestamp = self.clock()
        qp.unschedulable_plugins = plugins
        self.entries[key] = qp
        helped = self.move_request_cycle >= qp.cycle or any(self._move_cycle_by_plugin.get(p, -1) >= qp.cycle for p in plugins)
        if helped or not plugins:
            self._push_backoff(qp)
        else:
            self._push_unschedulable(qp)

    def add_backoff(self, qp: QueuedPod) -> None:
        """After an error (e.g. binding failed): retry after backoff."""
        self.add_unschedulable(qp, set())

    @property
    def closed(self) -> bool:
        return self._closed

    def close(self) -> None:
        self._closed = True
        self._wake.set()


def _scheduling_relevant_change(old: PodInfo, new: PodInfo) -> bool:
    """Ignore status-only updates (like our own PodScheduled=False patch)."""
    return (old.pod.get("spec") != new.pod.get("spec") or old.labels != new.labels
            or (old.pod.get("metadata") or {}).get("annotations") != (new.pod.get("metadata") or {}).get("annotations"))
