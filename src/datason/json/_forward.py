"""The module-level ``__getattr__`` and ``__dir__`` that make a submodule of datason.json read every name
it does not define itself from the standard module of the same name (PEP 562)."""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType
from typing import Any


def forward(name: str, std: ModuleType, own: dict[str, Any]) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """``__getattr__`` and ``__dir__`` for module ``name`` (globals ``own``) forwarding to ``std``."""

    def getattr_(attr: str) -> Any:
        try:
            return getattr(std, attr)
        except AttributeError:
            raise AttributeError(f"module {name!r} has no attribute {attr!r}") from None

    def dir_() -> list[str]:
        return sorted({*own, *dir(std)})

    return getattr_, dir_
