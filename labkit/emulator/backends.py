"""One backend object per (account, region) for each of labkit's own services, as moto does."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

B = TypeVar("B")


class RegionalBackends(Generic[B]):
    def __init__(self, factory: Callable[[str, str], B]):
        self._factory = factory
        self._backends: dict[tuple[str, str], B] = {}
        self._lock = threading.Lock()

    def get(self, account_id: str, region: str) -> B:
        key = (account_id, region)
        with self._lock:
            if key not in self._backends:
                self._backends[key] = self._factory(account_id, region)
            return self._backends[key]

    def __iter__(self) -> Iterator[B]:
        with self._lock:
            return iter(list(self._backends.values()))

    def reset(self) -> None:
        with self._lock:
            self._backends.clear()
