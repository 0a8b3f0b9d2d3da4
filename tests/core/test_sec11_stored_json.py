"""Security review of the check for numbers a double would change (xrm_core/stored_json.py):
its cost on a hostile body. Any user who may POST (or upload an import) chooses the text;
a 16 MB body of ``1e-999`` items took 13 s of CPU, most of it walking the parsed value for
an inexact number with a stack that held every pending child."""
from __future__ import annotations

import tracemalloc

import orjson
import pytest

from xrm_core import stored_json
from xrm_core.stored_json import InexactNumber, inexact_at, loads_exact, read_float


def _peak_bytes(fn, *args) -> int:
    tracemalloc.start()
    try:
        fn(*args)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_the_walk_for_an_inexact_number_holds_memory_by_depth_not_by_size():
    wide = [read_float("1e-999")] * 200_000 + [{"b": [read_float("12345678901234567.01")]}]
    assert inexact_at(wide)[0] == "/200000/b/0"
    # A stack of every pending (child, path) pair held ~20 MB here (and the garbage
    # collector scanned it again and again: superlinear time).
    assert _peak_bytes(inexact_at, wide) < 200_000


def test_a_body_without_an_inexact_number_is_not_walked(monkeypatch):
    def walked(value):
        raise AssertionError("walked for nothing")
    monkeypatch.setattr(stored_json, "inexact_at", walked)
    text = orjson.dumps({"a": [1e-300, 0.1234567890123456, 12345678901234567890]})
    assert loads_exact(text) == {"a": [1e-300, 0.1234567890123456, 12345678901234567890]}


@pytest.mark.parametrize("text, where", [
    (b'{"x": [], "y": {}, "z": [1, {"q": 12345678901234567.01}]}', "/z/1/q"),
    (b'[[1e-999], [12345678901234567.01], 100.000000000000001]', "/1/0"),
    (b'12345678901234567.01', ""),
])
def test_the_first_inexact_number_is_named_at_its_pointer(text, where):
    with pytest.raises(InexactNumber) as e:
        loads_exact(text)
    assert e.value.pointer == where
