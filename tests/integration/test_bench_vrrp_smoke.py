"""The CI-sized VRRPv3 benchmark: `python -m bench vrrp3` at one interval (100 ms), one crash
and one graceful trial, a 1 s CPU window and a 3 s soak; carpd, and keepalived beside it when
it is installed (bench/setup.sh).

Runs the real bench as a subprocess with a bounded timeout and checks the structure of what
it measured: per implementation a takeover by the backup in both trials as the wire and the
client saw it (b's first advert, the VIP added on b, an ARP reply from b, all after the
fault), a's priority-0 advert on the graceful stop, CPU figures, and a soak that counted.
No wall-clock thresholds: the timing targets are reported by the full benchmark
(docs/performance.md), never asserted here.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.integration.netns import REPO

pytestmark = pytest.mark.integration


def test_vrrp3_benchmark_runs_and_reports_takeovers(tmp_path: Path) -> None:
    impls = ["carpd"] + (["keepalived"] if shutil.which("keepalived") else [])
    out = tmp_path / "results"
    argv = [sys.executable, "-m", "bench", "vrrp3", "--intervals", "0.1", "--repeats", "1",
            "--cpu-seconds", "1", "--soak-seconds", "3", "--impl", ",".join(impls),
            "--results", str(out)]
    proc = subprocess.run(argv, check=False, cwd=REPO, capture_output=True, text=True,
                          timeout=150)
    assert proc.returncode == 0, f"bench vrrp3 failed:\n{proc.stdout}\n{proc.stderr}"
    data = json.loads((out / "results.json").read_text())
    assert [b["impl"] for b in data["blocks"]] == impls
    for block in data["blocks"]:
        impl = block["impl"]
        assert block["error"] is None, f"{impl}: {block['error']}"
        assert block["cpu"]["a"]["seconds"] > 0 and block["cpu"]["b"]["seconds"] > 0
        trials = {t["fault"]: t for t in block["trials"]}
        assert set(trials) == {"crash", "graceful"}, f"{impl}: {trials}"
        for fault, t in trials.items():
            ev = t["events"]
            assert t["ok"], f"{impl} {fault}: {t}"
            for key in ("b_advert", "b_add", "b_reply"):
                assert ev[key] is not None and ev[key] > 0, f"{impl} {fault}: {key} {ev}"
            assert ev["last_a_advert"] is not None and ev["last_a_advert"] <= 0
        graceful = trials["graceful"]["events"]
        assert graceful["a_prio0"] is not None, f"{impl}: no priority-0 advert on SIGTERM"
        assert graceful["a_prio0"] < graceful["b_advert"]
        assert trials["graceful"]["events"]["b_interval_cs"] == 10
    soak = data["soak"]
    assert set(soak["per_impl"]) == set(impls)
    for impl, figures in soak["per_impl"].items():
        assert figures["a_adverts"] > 0, f"{impl}: the master never advertised in the soak"
        assert isinstance(figures["spurious_takeovers"], int)
    report = (out / "report.md").read_text()
    assert "### Targets" in report and "carpd" in report
