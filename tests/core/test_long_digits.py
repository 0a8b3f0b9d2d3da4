"""``stored_json.has_long_digits``: the import's test for integers orjson would read as floats
(19 digits in a row) finds exactly what the pattern ``[0-9]{19}`` finds, in bytes and text."""
from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from xrm_core.stored_json import has_long_digits

PATTERN = re.compile(rb"[0-9]{19}")
digitish = st.text(alphabet="0123456789 .-e,\"٣", max_size=80)


@given(st.binary(max_size=300) | digitish.map(lambda t: t.encode()))
def test_the_byte_search_agrees_with_the_pattern(text):
    assert has_long_digits(text) == (PATTERN.search(text) is not None)


@given(digitish)
def test_text_and_its_utf8_agree(text):
    # the Arabic-Indic digit ٣ is no ASCII digit to either
    assert has_long_digits(text) == has_long_digits(text.encode())


def test_boundaries():
    assert has_long_digits(b'{"n": 1234567890123456789}')
    assert not has_long_digits(b'{"n": 123456789012345678}')
    assert not has_long_digits(b'{"n": "12345678901234567-89"}')
    assert has_long_digits("0" * 19) and not has_long_digits("0" * 18 + "x")
