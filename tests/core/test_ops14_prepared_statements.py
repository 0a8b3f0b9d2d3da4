"""PgBouncer in transaction pooling (docs/deployment.md suggests it past max_connections)
hands each transaction any server connection, so a statement psycopg prepared on one
(it prepares a query after running it 5 times) is missing on the next: "prepared statement
_pg3_0 does not exist". ``?prepare_threshold=none`` in the URL turns preparing off;
psycopg took the URL's text as the threshold and failed every query ("'>=' not supported
between instances of 'int' and 'str'")."""
from __future__ import annotations

import pytest

from xrm_core import ValidationError, db


@pytest.fixture
def pg_url(db_url):
    if not db_url.startswith("postgresql"):
        pytest.skip("psycopg's prepared statements: PostgreSQL only")
    return db_url


def _prepared_after_repeats(url: str) -> tuple:
    engine = db.make_engine(url)
    try:
        with engine.connect() as conn:
            for _ in range(8):
                conn.exec_driver_sql("SELECT 1 WHERE 1 = %s", (1,))
            threshold = conn.connection.dbapi_connection.prepare_threshold
            return threshold, conn.exec_driver_sql("SELECT count(*) FROM pg_prepared_statements").scalar()
    finally:
        engine.dispose()


def _with(url: str, param: str) -> str:
    return url + ("&" if "?" in url else "?") + param


def test_prepare_threshold_none_in_the_url_prepares_nothing(pg_url):
    assert _prepared_after_repeats(_with(pg_url, "prepare_threshold=none")) == (None, 0)


def test_prepare_threshold_number_in_the_url_is_a_number(pg_url):
    threshold, prepared = _prepared_after_repeats(_with(pg_url, "prepare_threshold=2"))
    assert threshold == 2 and prepared >= 1


def test_a_bad_prepare_threshold_is_refused_naming_it(pg_url):
    with pytest.raises(ValidationError, match="prepare_threshold must be a whole number or none, not 'often'"):
        db.make_engine(_with(pg_url, "prepare_threshold=often"))
