"""The README's CLI tour (examples/tour/tour.sh) runs as a new user would, twice."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

TOUR = Path(__file__).resolve().parent.parent / "examples" / "tour" / "tour.sh"


def test_the_tour_runs_and_is_safe_to_run_again(tmp_path):
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
           "XRM_DATABASE_URL": f"sqlite:///{tmp_path / 'tour.db'}"}
    env.pop("XRM_DISABLE_PLUGINS", None)
    for _ in range(2):
        out = subprocess.run(["bash", str(TOUR)], cwd=tmp_path, env=env, capture_output=True, text=True,
                             timeout=300)
        assert out.returncode == 0, out.stderr
    assert "partner_nps from 2025-01-01 to 2025-12-31: 50 score (n=4)" in out.stdout
    assert "/rating: 9 → 9" not in out.stdout  # the second run's update changes nothing
    assert "gold" in out.stdout
