"""What both routed tests assert about the fault sequence (tests/integration/routed_faults.py)."""

from __future__ import annotations

import json
import shutil

from tests.integration.routed_faults import run_faults
from tests.integration.routed_lab import ADVERT_INTERVAL_S, RoutedLab


def engine_missing(engine: str) -> str | None:
    needed = {"frr": ("/usr/lib/frr/bgpd", "vtysh"), "bird": ("bird", "birdc", "vtysh")}[engine]
    missing = [p for p in needed if shutil.which(p) is None]
    return f"{engine} not installed ({', '.join(missing)}; scripts/setup.sh)" if missing else None


def assert_faults_moved_the_route(rl: RoutedLab) -> None:
    results = run_faults(rl)
    report = json.dumps([r.__dict__ for r in results], indent=1)
    logs = "\n".join(f"--- {h}\n{n.log_text()[-2000:]}" for h, n in rl.carpd.items())
    for r in results:
        assert r.to_backup_s is not None, \
            f"{r.fault}: the route never moved to s2\n{report}\n{logs}"
        assert r.answered_by_s2, f"{r.fault}: the client never reached s2\n{report}"
        assert r.back_s is not None, \
            f"{r.fault}: the route never came back to s1\n{report}\n{logs}"
        assert r.answered_by_s1_after, f"{r.fault}: the client ends on s1\n{report}"
        assert r.overlap_s <= ADVERT_INTERVAL_S + r.overlap_resolution_s, \
            f"{r.fault}: both servers' routes for {r.overlap_s:.2f} s\n{report}"
    print(report)
