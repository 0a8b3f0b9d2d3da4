from xrm_core import ValidationError
import pytest


def test_create_get_update_history(org):
    with org.session() as s:
        r = s.create("person", {"name": "Ada", "email": "ada@example.org", "age": 36})
    with org.session() as s:
        r2 = s.update(r.id, {"age": 37, "email": None})
        assert r2.version == 2
        assert r2.data == {"name": "Ada", "age": 37}
        h = s.history(r.id)
    assert [a["kind"] for a in h] == ["created", "updated"]
    assert {c["pointer"]: (c["old"], c["new"]) for c in h[1]["payload"]["changes"]} == {
        "/email": ("ada@example.org", None), "/age": (36, 37)}
    with pytest.raises(ValidationError):
        with org.session() as s:
            s.create("person", {"name": ""})
