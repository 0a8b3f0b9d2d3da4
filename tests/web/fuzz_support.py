"""The per-operation fuzz loop of the schemathesis tests (test_openapi_fuzz, test_rest12_fuzz).

Each generated request is sent as drawn and, when the test aims it at stored data
(``on_real_data``), once more at a stored record; every answer goes through ``checks``. A
failed check is recorded (with hypothesis' shrunk example last) rather than raised, so that
one test reports the failures of every operation and mode at once.
"""
from __future__ import annotations

from collections.abc import Callable

from hypothesis import HealthCheck, given, settings


def fuzz(operation, mode, *, headers: dict, checks: list, examples: int,
         on_real_data: Callable | None = None, statuses: dict[str, set[int]] | None = None) -> list[str]:
    """The failures of ``examples`` requests to ``operation`` generated in ``mode``
    (schemathesis' GenerationMode), each ``"LABEL [mode]: what failed"``.

    ``on_real_data(case)`` gives the same request aimed at stored data, or None; ``statuses``,
    when given, collects the codes each operation answered (by its label)."""
    failures: list[str] = []

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(max_examples=examples, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    def run(case):
        for c in filter(None, (case, on_real_data(case) if on_real_data else None)):
            try:
                response = c.call_and_validate(headers=headers, checks=checks)
            except Exception as e:  # a failed check (schemathesis' FailureGroup) or anything else
                failures.append(f"{operation.label} [{mode.value}]: {e}")
                raise
            if statuses is not None:
                statuses.setdefault(operation.label, set()).add(response.status_code)

    try:
        run()
    except Exception:  # noqa: BLE001
        pass  # recorded above, with hypothesis' shrunk example last
    return failures
