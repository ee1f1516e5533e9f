"""One registry per kind of thing: ``srlib.models.MODELS``, ``srlib.losses.LOSSES``,
``srlib.data.DATASETS`` and ``srlib.metrics.METRICS``.

A registry maps a lower-case name to a constructor (or, for metrics, to the metric function,
flagged ``set_level`` when it takes the whole set). Unknown names raise a ``KeyError`` that
lists what is known, so a typo in a notebook parameter is a one-line fix, not a stack trace.
"""
from __future__ import annotations

from typing import Callable, Dict, Iterator, TypeVar

T = TypeVar("T", bound=Callable)


class Registry:
    def __init__(self, kind: str):
        self.kind = kind
        self._items: Dict[str, Callable] = {}

    def register(self, name: str | None = None) -> Callable[[T], T]:
        """Decorator: ``@MODELS.register("edsr")``. The name defaults to the lower-cased object name."""

        def deco(obj: T) -> T:
            key = (name or obj.__name__).lower()
            if key in self._items and self._items[key] is not obj:
                raise ValueError(f"{self.kind} {key!r} is registered twice")
            self._items[key] = obj
            return obj

        return deco

    def get(self, name: str) -> Callable:
        key = str(name).lower()
        if key not in self._items:
            known = ", ".join(sorted(self._items)) or "(none)"
            raise KeyError(f"unknown {self.kind} {name!r}; known {self.kind}s: {known}")
        return self._items[key]

    def build(self, name: str, *args, **kwargs):
        return self.get(name)(*args, **kwargs)

    def names(self) -> list[str]:
        return sorted(self._items)

    def __contains__(self, name: str) -> bool:
        return str(name).lower() in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())
