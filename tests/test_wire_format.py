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
PLACEHOLDER = re.compile(r'"(<[^"]*>|\.\.\.)"')


def _is_envelope(text: str) -> bool:
    try:
        value = json.loads(text)
    except ValueError:
        return False
    return isinstance(value, dict) and set(value) == {"__datason_type__", "__datason_value__"}


def _examples() -> list[str]:
    """Every envelope the doc shows: inline ones, and JSON blocks (whole, or one document per line)."""
    text = DOC.read_text()
    found = INLINE.findall(text)
    for block in BLOCK.findall(text):
        found += [block.strip()] if _is_envelope(block) else block.splitlines()
    # Schematic examples ("data": "<base64 of ...>") show a shape, not a value: not run.
    return [f for f in found if _is_envelope(f) and not PLACEHOLDER.search(f)]


def test_the_doc_has_an_example_per_core_tag() -> None:
    tags = {json.loads(e)["__datason_type__"] for e in _examples()}
    for tag in ("int", "float", "dict", "tuple", "set", "bytes", "complex", "decimal.Decimal", "datetime", "uuid.UUID"):
        assert tag in tags


@pytest.mark.parametrize("example", _examples())
def test_example_reads_and_writes_back(example: str) -> None:
    strict = datason.config.get_strict_config()
    value = datason.loads(example, strict)
    written = datason.dumps(value, strict)
    tag = json.loads(example)["__datason_type__"]
    if "." not in tag or tag.split(".")[0] in ("datetime", "decimal", "fractions", "zoneinfo", "uuid", "pathlib"):
        assert json.loads(written) == json.loads(example)  # core tags: one way to write each value
    else:  # library tags may choose another body (readable vs compact): what is written reads back the same
        assert datason.dumps(datason.loads(written, strict), strict) == written
