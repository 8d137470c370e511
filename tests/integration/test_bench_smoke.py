"""The CI-sized benchmark: `python -m bench smoke` (carpd only, 1 trial of SIGKILL and SIGTERM
over IPv4 and 1 trial of SIGKILL with an IPv6-only VIP, probed with neighbour solicitations).

Runs the real bench as a subprocess with a bounded timeout and checks that it measured a
takeover by the backup for both faults, as the client saw it. No wall-clock thresholds here:
the timing targets are reported by the full benchmark (docs/performance.md), not asserted.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.integration.netns import REPO

pytestmark = pytest.mark.integration


def test_smoke_benchmark_measures_the_takeovers(tmp_path: Path) -> None:
    out = tmp_path / "results"
    proc = subprocess.run([sys.executable, "-m", "bench", "smoke", "--results", str(out)],
                          check=False, cwd=REPO, capture_output=True, text=True,
                          timeout=110)
    assert proc.returncode == 0, f"bench smoke failed:\n{proc.stdout}\n{proc.stderr}"
    assert "| master process SIGKILL | carpd | 1/1 |" in proc.stdout
    assert "| graceful stop (SIGTERM) | carpd | 1/1 |" in proc.stdout
    assert "| ipv6 | master process SIGKILL | carpd | 1/1 |" in proc.stdout
    data = json.loads((out / "results.json").read_text())
    trials = {(t.get("variant", "ipv4"), t["fault"]): t for t in data["trials"]}
    assert set(trials) == {("ipv4", "sigkill"), ("ipv4", "sigterm"), ("ipv6", "sigkill")}
    for (variant, fault), trial in trials.items():
        assert trial["impl"] == "carpd"
        assert trial["takeover_s"] is not None, f"{variant} {fault}: the backup never answered"
        assert trial["takeover_s"] > 0, f"{variant} {fault}: takeover before the fault?"
        assert trial["handback_s"] is not None, f"{variant} {fault}: the master never came back"
    assert "ff02::12" in (trials[("ipv6", "sigkill")]["advert_path"] or "")
    assert (out / "report.md").exists()
