"""A small least-recently-used map, for what is cached per value a request carries (service URLs, conversation
and user ids): however many distinct values arrive, it keeps at most `size` of them."""

from __future__ import annotations

from collections import OrderedDict
from typing import Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")


class LRU(Generic[K, V]):
    def __init__(self, size: int) -> None:
        self.size = size
        self._items: OrderedDict[K, V] = OrderedDict()

    def get(self, key: K) -> V | None:
        value = self._items.get(key)
        if value is not None:
            self._items.move_to_end(key)
        return value

    def put(self, key: K, value: V) -> list[V]:
        """Keep `value` as the most recent; returns the values dropped to make room (the caller closes them)."""
        self._items[key] = value
        self._items.move_to_end(key)
        dropped: list[V] = []
        while len(self._items) > self.size:
            dropped.append(self._items.popitem(last=False)[1])
        return dropped

    def clear(self) -> list[V]:
        """Forget every entry; returns their values."""
        values = list(self._items.values())
        self._items.clear()
        return values

    def __contains__(self, key: object) -> bool:
        return key in self._items

    def __len__(self) -> int:
        return len(self._items)
