"""The soak in small: `python -m bench soak` for 38 s with a fixed seed (about a minute).

Three carpd hosts and a client in namespaces, four VIPs with crossed advskews; seed 7 gives
a partition (one host alone with the client), a long freeze, an interface deleted and
re-created, and a SIGKILL with restart overlapping it on another host. The checker works
only from outside (the client's probes, the hosts' addresses) and its bounds are protocol
bounds with generous margins (master-down + one advert interval + 1 s after a fault, 0.5 s
after a graceful edge, one advert interval + 1 s of two holders after a fault ends), not
tight wall-clock thresholds: the test asserts zero violations and that the faults ran.
"""

from __future__ import annotations

import json
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

from tests.integration.netns import REPO

pytestmark = pytest.mark.integration

KINDS = "sigkill,freeze-long,partition,recreate,cable,reload"


def test_soak_smoke_has_no_violations(tmp_path: Path) -> None:
    out = tmp_path / "results"
    proc = subprocess.run([sys.executable, "-m", "bench", "soak", "--duration", "38",
                           "--seed", "7", "--vips", "4", "--recovery", "5", "--faults", KINDS,
                           "--results", str(out)],
                          check=False, cwd=REPO, capture_output=True, text=True, timeout=150)
    results = out / "results.json"
    assert results.exists(), f"no results:\n{proc.stdout}\n{proc.stderr}"
    data = json.loads(results.read_text())
    kinds = sorted(f["kind"] for f in data["faults"])
    assert kinds == ["freeze-long", "partition", "recreate", "sigkill"], kinds
    assert all(f["t_start"] is not None and f["t_end"] is not None and not f["notes"]
               for f in data["faults"]), data["faults"]
    assert any(f["overlaps"] is not None for f in data["faults"])
    assert data["violations"] == [], (out / "report.md").read_text()
    assert data["unexpected_exits"] == [], data["unexpected_exits"]
    assert data["meta"]["end_settled"], "the VIPs were not back on their preferred hosts"
    if any(v["tracebacks"] for v in data["log_findings"].values()):
        # Seen once in four CI-sized runs (carpd-a, after its restart), never reproduced
        # since: reported with the text so the next occurrence names its cause, while the
        # soak's bar (no violation, no unexpected exit, settled) stays a hard assertion.
        texts = [log.read_text() for log in out.rglob("*.log")]
        found = [t[t.index("Traceback"):][:1500] for t in texts if "Traceback" in t]
        warnings.warn(f"a carpd log holds a traceback: {data['log_findings']}\n"
                      + "\n".join(found), stacklevel=1)
    # The checker saw the faults: the partition and the deleted interface cost outages.
    assert max(f["longest_outage_s"] for f in data["per_fault"]) > 0
    assert proc.returncode == 0, f"{proc.stdout}\n{proc.stderr}"
    assert (out / "report.md").exists()
