"""The app's lazy workspace loader (what ``SessionStorage.get_lazy_loader()`` returns):
load the active workspace at start-up, the others in the background, and keep recently
used ones in a small LRU cache. Same classes, methods and statistics as the app's
``lazy_loader`` module; all disk reads go through ``SessionStorage.load_workspaces`` in
the event loop's default executor, so the loop never blocks on disk.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .state import WorkspaceData

if TYPE_CHECKING:
    from .storage import SessionStorage

log = logging.getLogger(__name__)


class LoadPriority(enum.Enum):
    """Loading order: lower values first."""

    IMMEDIATE = 0
    HIGH = 1
    NORMAL = 2
    LOW = 3


@dataclass
class LoadTask:
    workspace_id: int
    priority: LoadPriority
    created_at: float = field(default_factory=time.time)

    def __lt__(self, other: LoadTask) -> bool:
        return self.priority.value < other.priority.value


@dataclass
class CacheStats:
    hits: int = 0
    misses: int = 0
    evictions: int = 0
    current_size: int = 0
    max_size: int = 0

    @property
    def hit_rate(self) -> float:
        asked = self.hits + self.misses
        return self.hits / asked if asked else 0.0

    def reset(self) -> None:
        self.hits = self.misses = self.evictions = 0


class SessionCache:
    """At most ``max_size`` workspaces, least recently used evicted first."""

    def __init__(self, max_size: int = 20):
        self.max_size = max_size
        self.cache: OrderedDict[int, WorkspaceData] = OrderedDict()
        self.stats = CacheStats(max_size=max_size)
        self._lock = asyncio.Lock()

    async def get(self, workspace_id: int) -> WorkspaceData | None:
        async with self._lock:
            found = self.cache.get(workspace_id)
            if found is None:
                self.stats.misses += 1
                return None
            self.cache.move_to_end(workspace_id)
            self.stats.hits += 1
            return found

    async def put(self, workspace_id: int, workspace_data: WorkspaceData) -> None:
        async with self._lock:
            if workspace_id not in self.cache and len(self.cache) >= self.max_size:
                self.cache.popitem(last=False)
                self.stats.evictions += 1
            self.cache[workspace_id] = workspace_data
            self.cache.move_to_end(workspace_id)
            self.stats.current_size = len(self.cache)

    async def invalidate(self, workspace_id: int) -> None:
        async with self._lock:
            self.cache.pop(workspace_id, None)
            self.stats.current_size = len(self.cache)

    async def clear(self) -> None:
        async with self._lock:
            self.cache.clear()
            self.stats.current_size = 0

    def get_stats(self) -> CacheStats:
        self.stats.current_size = len(self.cache)
        return self.stats


async def _read_workspace(storage: SessionStorage, workspace_id: int) -> WorkspaceData | None:
    loop = asyncio.get_running_loop()
    try:
        workspaces = await loop.run_in_executor(None, storage.load_workspaces)
    except Exception as exc:
        log.error("could not load workspace %s: %s", workspace_id, exc)
        return None
    if workspaces and workspace_id in workspaces:
        return workspaces[workspace_id]
    log.warning("workspace %s not found in %s", workspace_id, storage.workspaces_file)
    return None


class BackgroundLoader:
    """Loads queued workspaces one at a time, highest priority first, into the cache."""

    def __init__(self, storage: SessionStorage, cache: SessionCache):
        self.storage = storage
        self.cache = cache
        self.load_queue: asyncio.PriorityQueue = asyncio.PriorityQueue()
        self.is_running = False
        self.loaded_workspaces: set[int] = set()
        self._worker_task: asyncio.Task | None = None
        self._progress_callback: Callable[[int, WorkspaceData], None] | None = None

    async def start(self) -> None:
        if self.is_running:
            return
        self.is_running = True
        self._worker_task = asyncio.create_task(self._worker())

    async def stop(self) -> None:
        if not self.is_running:
            return
        self.is_running = False
        if self._worker_task is not None:
            self._worker_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._worker_task

    def enqueue(self, workspace_id: int, priority: LoadPriority = LoadPriority.NORMAL) -> None:
        if workspace_id not in self.loaded_workspaces:
            self.load_queue.put_nowait((priority.value, LoadTask(workspace_id, priority)))

    def set_progress_callback(self, callback: Callable[[int, WorkspaceData], None]) -> None:
        self._progress_callback = callback

    async def _worker(self) -> None:
        while self.is_running:
            try:
                _, task = await asyncio.wait_for(self.load_queue.get(), timeout=1.0)
            except TimeoutError:
                continue
            wid = task.workspace_id
            if wid in self.loaded_workspaces or await self.cache.get(wid) is not None:
                self.loaded_workspaces.add(wid)
                continue
            data = await self._load_workspace(wid)
            if data is not None:
                await self.cache.put(wid, data)
                self.loaded_workspaces.add(wid)
                if self._progress_callback is not None:
                    try:
                        self._progress_callback(wid, data)
                    except Exception:
                        log.exception("workspace progress callback failed")
            await asyncio.sleep(0.1)  # yield to the app between loads

    async def _load_workspace(self, workspace_id: int) -> WorkspaceData | None:
        return await _read_workspace(self.storage, workspace_id)


class LazyLoader:
    """Loads the active workspace first and the rest in the background."""

    def __init__(self, storage: SessionStorage, cache_size: int = 20):
        self.storage = storage
        self.cache = SessionCache(max_size=cache_size)
        self.background_loader = BackgroundLoader(storage, self.cache)
        self.active_workspace_id: int | None = None
        self.initialization_time: float = 0.0
        self._initialized = False

    async def initialize(self, active_workspace_id: int) -> WorkspaceData | None:
        """Load the active workspace now (None if it is not saved) and queue the others."""
        if self._initialized:
            return await self.get_workspace(active_workspace_id)
        started = time.time()
        self.active_workspace_id = active_workspace_id
        active = await _read_workspace(self.storage, active_workspace_id)
        if active is not None:
            await self.cache.put(active_workspace_id, active)
        await self.background_loader.start()
        await self._enqueue_inactive_workspaces(active_workspace_id)
        self.initialization_time = (time.time() - started) * 1000
        self._initialized = True
        return active

    async def get_workspace(self, workspace_id: int) -> WorkspaceData | None:
        found = await self.cache.get(workspace_id)
        if found is not None:
            return found
        found = await _read_workspace(self.storage, workspace_id)
        if found is not None:
            await self.cache.put(workspace_id, found)
        return found

    async def prefetch_workspace(self, workspace_id: int, priority: LoadPriority = LoadPriority.HIGH) -> None:
        if await self.cache.get(workspace_id) is None:
            self.background_loader.enqueue(workspace_id, priority)

    async def invalidate_workspace(self, workspace_id: int) -> None:
        await self.cache.invalidate(workspace_id)

    async def shutdown(self) -> None:
        await self.background_loader.stop()
        await self.cache.clear()
        self._initialized = False

    def get_performance_stats(self) -> dict[str, Any]:
        cs = self.cache.get_stats()
        return {
            "initialization_time_ms": round(self.initialization_time, 2),
            "cache_hit_rate": round(cs.hit_rate * 100, 2),
            "cache_hits": cs.hits,
            "cache_misses": cs.misses,
            "cache_evictions": cs.evictions,
            "cache_size": cs.current_size,
            "cache_max_size": cs.max_size,
            "loaded_workspaces": len(self.background_loader.loaded_workspaces),
            "meets_target": self.initialization_time < 500,
        }

    async def _enqueue_inactive_workspaces(self, active_workspace_id: int) -> None:
        loop = asyncio.get_running_loop()
        ids = await loop.run_in_executor(None, self.storage.get_workspace_ids)
        for wid in ids:
            if wid != active_workspace_id:
                self.background_loader.enqueue(wid, LoadPriority.NORMAL)
