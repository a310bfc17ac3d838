"""A JSON tree checked against a config's limits: for payloads that no walker has counted yet.

Handlers that write their payload as JSON themselves (pandas, Arrow, Polars, images) or read it
themselves (``revive_payload=False``) skip the walkers, so the walkers check those payloads with
``check_tree`` at the depth where they sit: ``dumps`` never writes what ``loads`` under the same
config refuses, and ``deserialize`` enforces what the C parser enforces while it reads. The C
check walk answers first (no allocation); the Python walk runs only to name the failure.
"""

from __future__ import annotations

from typing import Any

from ._native import speedups as _speedups
from .errors import DatasonError, SecurityError, path_segment

__all__ = ["check_tree"]


def check_tree(node: Any, depth: int, max_depth: int, max_size: int, max_str: int) -> None:
    """Raise ``SecurityError`` (with the path inside ``node``) where ``node``, sitting at ``depth``, breaks a limit."""
    t = type(node)
    if t is not list and t is not dict:
        if t is str and len(node) > max_str:
            raise SecurityError(f"string longer than max_string_length={max_str}", type_name="str")
        return
    if _speedups is not None and max_depth >= depth:
        try:
            if _speedups.plain_native(node, max_depth - depth + 1, max_size, max_str):
                return
        except RecursionError:
            pass
    _walk(node, depth, max_depth, max_size, max_str)


def _walk(node: Any, depth: int, max_depth: int, max_size: int, max_str: int) -> None:
    t = type(node)
    if t is str:
        if len(node) > max_str:
            raise SecurityError(f"string longer than max_string_length={max_str}", type_name="str")
        return
    if t is not list and t is not dict:
        return
    if depth > max_depth:
        raise SecurityError(f"nesting deeper than max_depth={max_depth}", type_name=t.__name__)
    if len(node) > max_size:
        raise SecurityError(f"container larger than max_size={max_size}", type_name=t.__name__)
    key: Any = None
    if t is list:
        for key, item in enumerate(node):
            if type(item) in _NESTED:
                try:
                    _walk(item, depth + 1, max_depth, max_size, max_str)
                except DatasonError as exc:
                    raise exc.with_parent(f"[{key}]") from None
        return
    for key, item in node.items():
        if type(key) is str and len(key) > max_str:
            # about the key itself: the path stops at this dict, so the key is never quoted
            raise SecurityError(f"key longer than max_string_length={max_str}", type_name="str")
        if type(item) in _NESTED:
            try:
                _walk(item, depth + 1, max_depth, max_size, max_str)
            except DatasonError as exc:
                raise exc.with_parent(path_segment(key)) from None


_NESTED = frozenset({list, dict, str})
