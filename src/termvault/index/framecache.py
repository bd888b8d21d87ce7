"""Decompressed frames kept between searches while the index is unchanged (see
``query.TextSearch``)."""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any

FRAME_CACHE_BYTES = 32 * 1024 * 1024  # decompressed frames an index keeps between searches


class FrameCache:
    """The frames searches decompressed (and ASCII-folded), the most recently used kept up
    to ``FRAME_CACHE_BYTES``, while the index is unchanged: a search as one types, or the
    next page, reads the same frames again."""

    def __init__(self) -> None:
        self._items: OrderedDict[int, list[Any]] = OrderedDict()
        self._size = 0
        self._lock = threading.Lock()

    def get(self, chunk: int) -> tuple[tuple[int, str, str], bytes, bytes | None] | None:
        with self._lock:
            item = self._items.get(chunk)
            if item is None:
                return None
            self._items.move_to_end(chunk)
            return item[0], item[1], item[2]

    def put(self, chunk: int, meta: tuple[int, str, str], raw: bytes) -> None:
        with self._lock:
            if chunk not in self._items:
                self._items[chunk] = [meta, raw, None]
                self._size += len(raw)
                self._trim()

    def put_folded(self, chunk: int, folded: bytes) -> None:
        with self._lock:
            item = self._items.get(chunk)
            if item is not None and item[2] is None:
                item[2] = folded
                self._size += len(folded)
                self._trim()

    def _trim(self) -> None:
        while self._size > FRAME_CACHE_BYTES and self._items:
            _, (_, raw, folded) = self._items.popitem(last=False)
            self._size -= len(raw) + (len(folded) if folded is not None else 0)
