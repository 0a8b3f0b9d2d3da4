"""A large invalid instance is reported by its first error only: jsonschema-rs builds every
error before yielding one, so listing them all let one request hold a worker for minutes."""
from __future__ import annotations

import pytest

from xrm_core import ValidationError


def test_a_large_invalid_record_reports_its_first_error(platform):
    tags = list(range(200_000))  # every item is the wrong type
    with platform.session() as s:
        with pytest.raises(ValidationError) as e:
            s.create("person", {"name": "x", "tags": tags})
        assert [err["pointer"] for err in e.value.errors] == ["/data/tags/0"]
        # ... and says so: the client would otherwise take the rest of its data for right
        assert e.value.extra == {"errors_incomplete": True}
        assert "only its first error is listed: data larger than 64 KiB" in e.value.message
        # a small one still lists every error
        with pytest.raises(ValidationError) as e:
            s.create("person", {"name": "x", "tags": [1, 2, 3], "age": -1})
        assert sorted(err["pointer"] for err in e.value.errors) == ["/data/age", "/data/tags/0", "/data/tags/1",
                                                                     "/data/tags/2"]
        assert e.value.extra == {} and e.value.message == "person data is invalid"
        assert s.count("person") == 0
