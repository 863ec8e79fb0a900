"""Periodic history compaction, as kube-apiserver does it.

Why it exists: both backends keep every version of every key until compacted, so without this task the store
grows forever. Like upstream's compactor, each tick compacts to the revision observed at the *previous* tick,
so watchers and paginated lists always have at least one interval to read the history they need; a client
that is slower than that gets CompactedError (HTTP 410) and relists.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from kybernetes.storage.interface import Backend, StorageError

log = logging.getLogger(__name__)


async def run_compactor(
    backend: Backend, interval: float = 300.0, on_compacted: Callable[[int], None] | None = None
) -> None:
    """Run until cancelled: every `interval` seconds compact to the revision seen at the previous tick.

    on_compacted(revision) is called after each successful compaction (the API server's watch cache uses it to
    stop replaying history that storage no longer has).
    """
    if interval <= 0:
        raise ValueError("interval must be > 0")
    last_seen = 0
    while True:
        await asyncio.sleep(interval)
        try:
            if last_seen > 0:
                await backend.compact(last_seen)
                if on_compacted is not None:
                    on_compacted(last_seen)
            last_seen = await backend.current_revision()
        except StorageError:
            # etcd unreachable, or another API server compacted further: try again next tick.
            log.warning("storage compaction failed; retrying in %.0f s", interval, exc_info=True)
