"""docs/wire-format.md is exact: every example envelope in it reads, and writing the value back gives the same JSON."""

from __future__ import annotations

import json
import pathlib
import re

import pytest

import datason

DOC = pathlib.Path(__file__).resolve().parent.parent / "docs" / "wire-format.md"
INLINE = re.compile(r"`(\{\"__datason_type__\".*?\})`")
BLOCK = re.compile(r"^```json\n(.*?)^```", re.S | re.M)


def _examples() -> list[str]:
    text = DOC.read_text()
    found = INLINE.findall(text) + [b.strip() for b in BLOCK.findall(text) if "__datason_type__" in b]
    return [f for f in found if "TAG" not in f]


def test_the_doc_has_an_example_per_core_tag() -> None:
    tags = {json.loads(e)["__datason_type__"] for e in _examples()}
    for tag in ("int", "float", "dict", "tuple", "set", "bytes", "complex", "decimal.Decimal", "datetime", "uuid.UUID"):
        assert tag in tags


@pytest.mark.parametrize("example", _examples())
def test_example_reads_and_writes_back(example: str) -> None:
    strict = datason.config.get_strict_config()
    value = datason.loads(example, strict)
    assert json.loads(datason.dumps(value, strict)) == json.loads(example)
