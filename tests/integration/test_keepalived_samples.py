"""The keepalived.conf samples of tests/app/keepalived_samples are real keepalived configs.

Each sample (the ones tests/app/test_convert.py converts and loads with carpd's loader) goes
through the installed `keepalived -t` (config test: it parses, checks interfaces, addresses
and scripts, then exits; nothing starts), inside one namespace of the lab that has the
interfaces and addresses the samples name: eth0 with 192.0.2.1/24 and 2001:db8::1/64, and
eth1, eth2 (veth pairs kept inside the namespace). keepalived's pid files go to a temporary
folder. Skipped when keepalived is not installed. Samples do not use a per-script `user`:
keepalived 2.2.7's config test kills itself with SIGTERM when it checks a script as a
non-root user (notify.c compares its parent with a main pid that -t never sets); the unit
tests cover `user`.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.netns import Lab, _ip

SAMPLES = Path(__file__).resolve().parents[1] / "app" / "keepalived_samples"
CASES = [(path.name, config_id) for path in sorted(SAMPLES.glob("*.conf"))
         for config_id in (("lb-a", "lb-b") if path.name == "includes.conf" else ("lb-a",))]

pytestmark = pytest.mark.skipif(shutil.which("keepalived") is None,
                                reason="keepalived is not installed")


@pytest.fixture(scope="module")
def ka_lab() -> Iterator[Lab]:
    with Lab("kaconv") as lab:
        lab.add_host("a", "192.0.2.1/24", 0x21, ip6_cidr="2001:db8::1/64")
        for name in ("eth1", "eth2"):
            _ip("-n", lab.ns("a"), "link", "add", name, "type", "veth", "peer", "name",
                f"{name}p")
            _ip("-n", lab.ns("a"), "link", "set", name, "up")
        yield lab


def test_the_sample_list_is_complete() -> None:
    assert {name for name, _ in CASES} >= {"pair_a.conf", "pair_b.conf", "unicast.conf",
                                           "sync_group.conf", "tracking.conf",
                                           "legacy_v2.conf", "includes.conf"}


@pytest.mark.parametrize(("name", "config_id"), CASES)
def test_keepalived_accepts_the_sample(ka_lab: Lab, tmp_path: Path, name: str,
                                       config_id: str) -> None:
    pids = [str(tmp_path / f"{kind}.pid") for kind in ("main", "vrrp", "checkers")]
    result = ka_lab.run("a", "keepalived", "--config-test", "-f", str(SAMPLES / name),
                        "-i", config_id, "-p", pids[0], "-r", pids[1], "-c", pids[2],
                        check=False, timeout=30)
    assert result.returncode == 0, (result.stdout, result.stderr)
    assert result.stderr == "", result.stderr
