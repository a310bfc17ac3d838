"""CPython's own ``json`` test suite (``test.test_json``) run against ``datason.json``.

The suite is imported with ``json`` and its submodules in ``sys.modules`` pointing at datason's, and with its
``import_fresh_module`` answering datason.json (over the C-accelerated ``json``) for ``CTest`` and a datason.json built
over the pure-Python ``json`` (``_json`` blocked) for ``PyTest``. The stdlib modules' doctests run with the same
``sys.modules``, and ``test_tool`` runs ``python -m datason.json.tool``. The only tests left out check datason's
deliberate differences; each must still fail for its stated reason, and pass once that difference is mapped back to
``json``'s answer, so an exclusion cannot hide anything else.
"""

from __future__ import annotations

import doctest
import functools
import importlib
import json
import json.decoder
import json.encoder
import re
import subprocess
import sys
import tempfile
import types
import unittest
from collections.abc import Iterator
from contextlib import chdir, contextmanager
from typing import Any, NamedTuple
from unittest import mock

import pytest

import datason
import datason.json as djson
import datason.json.tool  # so datason_as_json has a json.tool
from datason.errors import SecurityError

import_helper = pytest.importorskip("test.support.import_helper", reason="CPython's test package is not installed")
script_helper = pytest.importorskip("test.support.script_helper", reason="CPython's test package is not installed")

SUITE = "test.test_json"
JSON_MODULES = ("json", "json.decoder", "json.encoder", "json.scanner", "json.tool")


class Difference(NamedTuple):
    reason: str
    failure: str  # what the test's failure or error must say (regex on its last traceback line)


DEEP = Difference(
    "nesting beyond the stack raises datason's SecurityError, not RecursionError",
    r"^datason\.errors\.SecurityError: JSON nested too deeply",
)
NOT_UTF8 = Difference(
    "undecodable bytes raise JSONDecodeError, not a UnicodeDecodeError quoting the document",
    r"^json\.decoder\.JSONDecodeError: invalid UTF-8 \(invalid start byte\)",
)
WRITES_BYTES = Difference(
    "bytes, which json refuses with TypeError, are written in datason's plain form (base64)",
    r"^AssertionError: TypeError not raised by dumps$",
)

EXCLUDED: dict[str, Difference] = {
    f"{SUITE}.test_recursion.TestPyRecursion.test_highly_nested_objects_decoding": DEEP,
    f"{SUITE}.test_recursion.TestCRecursion.test_highly_nested_objects_decoding": DEEP,
    f"{SUITE}.test_unicode.TestPyUnicode.test_bytes_decode": NOT_UTF8,
    f"{SUITE}.test_unicode.TestCUnicode.test_bytes_decode": NOT_UTF8,
    f"{SUITE}.test_unicode.TestPyUnicode.test_bytes_encode": WRITES_BYTES,
    f"{SUITE}.test_unicode.TestCUnicode.test_bytes_encode": WRITES_BYTES,
}


@contextmanager
def datason_as_json() -> Iterator[None]:
    """``import json`` (and ``json.decoder``, ...) gives datason's modules inside the block."""
    saved = {name: sys.modules.get(name) for name in JSON_MODULES}
    sys.modules.update({name: sys.modules[f"datason.{name}"] for name in JSON_MODULES})
    try:
        yield
    finally:
        for name, module in saved.items():
            if module is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = module


def pure_python_datason_json(fresh_module: Any) -> Any:
    """A second datason.json, over a ``json`` imported with ``_json`` blocked (what the suite's ``pyjson`` is)."""
    try:
        return fresh_module("datason.json", fresh=["json"], blocked=["_json"])
    finally:
        datason.json = djson  # the fresh import rebinds the package attribute


def to_datason_tool(args: Any) -> list[Any]:
    return ["datason.json.tool" if arg == "json.tool" else arg for arg in args]


def redirect_tool_tests(module: types.ModuleType) -> None:
    """``test_tool`` runs ``python -m json.tool`` in subprocesses; make them run ``python -m datason.json.tool``."""
    module.__dict__.update(
        assert_python_ok=lambda *args, **kw: script_helper.assert_python_ok(*to_datason_tool(args), **kw),
        subprocess=types.SimpleNamespace(
            PIPE=subprocess.PIPE,
            run=lambda args, **kw: subprocess.run(to_datason_tool(args), **kw),
            Popen=lambda args, **kw: subprocess.Popen(to_datason_tool(args), **kw),
        ),
    )


def flatten(suite: unittest.TestSuite | unittest.TestCase) -> Iterator[unittest.TestCase]:
    if isinstance(suite, unittest.TestSuite):
        for test in suite:
            yield from flatten(test)
    else:
        yield suite


@functools.cache
def suite_cases() -> dict[str, unittest.TestCase]:
    """Every test of CPython's json suite, by id, imported so that it exercises datason.json."""
    fresh_module = import_helper.import_fresh_module

    def answer(name: str, fresh: Any = (), blocked: Any = (), **_: Any) -> Any:
        assert name == "json", name
        return pure_python_datason_json(fresh_module) if "_json" in blocked else djson

    test_package = importlib.import_module("test")
    saved = {name: module for name, module in sys.modules.items() if name.split(".")[:2] == SUITE.split(".")}
    saved_attr = getattr(test_package, "test_json", None)
    for name in saved:
        del sys.modules[name]
    try:
        with datason_as_json(), mock.patch.object(import_helper, "import_fresh_module", answer):
            suite = unittest.defaultTestLoader.loadTestsFromModule(importlib.import_module(SUITE))
            redirect_tool_tests(sys.modules[f"{SUITE}.test_tool"])
    finally:
        for name in [name for name in sys.modules if name.split(".")[:2] == SUITE.split(".")]:
            del sys.modules[name]
        sys.modules.update(saved)
        if saved_attr is None:
            vars(test_package).pop("test_json", None)
        else:
            vars(test_package)["test_json"] = saved_attr
    for module in (json, json.encoder, json.decoder):  # their examples `import json`: datason's, run below
        suite.addTest(doctest.DocTestSuite(module))
    return {case.id(): case for case in flatten(suite)}


def run(cases: list[unittest.TestCase]) -> unittest.TestResult:
    """Run with datason's json modules, in a scratch directory (``test_tool`` writes files to the current one)."""
    result = unittest.TestResult()
    with tempfile.TemporaryDirectory() as scratch, chdir(scratch), datason_as_json():
        unittest.TestSuite(cases).run(result)
    return result


def again(case: unittest.TestCase) -> unittest.TestCase:
    return type(case)(case._testMethodName)


def with_json_answers(case: unittest.TestCase) -> unittest.TestCase:
    """The test again, with ``loads``/``dumps`` mapping datason's deliberate differences back to json's answers."""
    module: Any = case.json  # type: ignore[attr-defined]
    loads, dumps = case.loads, case.dumps  # type: ignore[attr-defined]

    def json_loads(s: Any, **kwargs: Any) -> Any:
        try:
            return loads(s, **kwargs)
        except SecurityError:
            raise RecursionError("maximum recursion depth exceeded") from None
        except module.JSONDecodeError:
            if isinstance(s, bytes | bytearray):
                s.decode(module.detect_encoding(s), "surrogatepass")  # json's UnicodeDecodeError, if that was why
            raise

    def json_dumps(obj: Any, **kwargs: Any) -> str:
        return dumps(obj, **{"default": module.JSONEncoder().default, **kwargs})

    undone = again(case)
    undone.loads, undone.dumps = json_loads, json_dumps  # type: ignore[attr-defined]
    return undone


def outcome(result: unittest.TestResult) -> list[str]:
    """The last traceback line of each failure and error, and any unexpected success."""
    problems = [f"{test.id()}: {trace.strip().splitlines()[-1]}" for test, trace in result.failures + result.errors]
    return problems + [f"{test.id()}: unexpected success" for test in result.unexpectedSuccesses]


def test_the_suite_is_datasons() -> None:
    cases = suite_cases()
    assert len(cases) > 150, "CPython's json suite was not found"
    assert EXCLUDED.keys() <= cases.keys()
    py, c = (
        cases[f"{SUITE}.test_decode.TestPyDecode.test_decimal"],
        cases[f"{SUITE}.test_decode.TestCDecode.test_decimal"],
    )
    assert c.json is djson  # type: ignore[attr-defined]
    assert py.json.__name__ == "datason.json" and py.json is not djson  # type: ignore[attr-defined]
    assert py.json.scanner.make_scanner.__module__ == "json.scanner"  # type: ignore[attr-defined]
    assert c.json.scanner.make_scanner.__module__ == "_json"  # type: ignore[attr-defined]
    tool_test = cases[f"{SUITE}.test_tool.TestTool.test_stdin_stdout"]
    tool_globals = getattr(type(tool_test), tool_test._testMethodName).__globals__
    assert isinstance(tool_globals["subprocess"], types.SimpleNamespace)  # python -m datason.json.tool
    assert datason.json is djson and sys.modules["json"] is json  # nothing leaked


def test_cpython_json_suite_passes() -> None:
    cases = suite_cases()
    result = run([case for test_id, case in cases.items() if test_id not in EXCLUDED])
    assert outcome(result) == []
    assert result.testsRun == len(cases) - len(EXCLUDED)


@pytest.mark.parametrize("test_id", sorted(EXCLUDED))
def test_excluded_tests_differ_only_deliberately(test_id: str) -> None:
    case, difference = suite_cases()[test_id], EXCLUDED[test_id]
    problems = outcome(run([again(case)]))
    assert len(problems) == 1 and re.search(difference.failure, problems[0].split(": ", 1)[1]), (problems, difference)
    result = run([with_json_answers(case)])
    assert outcome(result) == [] and result.testsRun == 1 and not result.skipped
