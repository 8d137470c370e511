"""Master-unit jobs over D-Bus on real systemd: each job's result is tracked, and a master unit
that fails to start shows in `carpctl status`, `explain` and the metrics.

Server a (tests/systemd/sdlab.py, the .deb installed) runs carpd alone with web's
`master_units = [goodapp, brokenapp]`: goodapp runs, brokenapp's start fails (ExecStart
exits 1, Type=oneshot). When a becomes MASTER, carpd queues both start jobs with systemd's
Manager.StartUnit and reads their results from JobRemoved: goodapp "done", brokenapp
"failed", via dbus. Root only; skipped without systemd-nspawn or the Debian build tools.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from tests.systemd.conftest import lab_skip_reason
from tests.systemd.sdlab import SdLab, Server
from tests.systemd.test_units import PASSWORD, WEB, states, wait_for

pytestmark = pytest.mark.skipif(lab_skip_reason() is not None,
                                reason=lab_skip_reason() or "")

GOOD, BROKEN = "goodapp.service", "brokenapp.service"
UNITS = {GOOD: "[Service]\nExecStart=/bin/sleep infinity\n",
         BROKEN: "[Service]\nType=oneshot\nExecStart=/bin/false\n"}
CONF = f"""\
[defaults]
interface = "eth0"
password_file = "/etc/carpd/carp.key"

[vip.web]
vhid = 1
address = "{WEB}"
advskew = 0
master_units = ["{GOOD}", "{BROKEN}"]
"""


def units(s: Server) -> list[dict[str, Any]]:
    doc = json.loads(s.run("carpctl", "status", "--json", "web").stdout)
    return doc["vips"][0]["units"]  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def server(lab: SdLab) -> Iterator[Server]:
    a = lab.servers["a"]
    a.write("/etc/carpd/carp.key", PASSWORD + "\n", 0o600)
    a.write("/etc/carpd.toml", CONF)
    for name, text in UNITS.items():
        a.write(f"/etc/systemd/system/{name}", text)
    a.run("systemctl", "daemon-reload")
    a.run("systemctl", "reset-failed", "carpd", check=False)
    a.run("systemctl", "enable", "--now", "carpd", timeout=60)
    yield a
    a.run("systemctl", "disable", "--now", "carpd", check=False, timeout=60)
    a.run("systemctl", "stop", GOOD, check=False)


def test_a_master_unit_that_fails_to_start_shows_in_status_explain_and_metrics(
        server: Server) -> None:
    wait_for("web MASTER on a", lambda: states(server) == {"web": "MASTER"}, 20)
    wait_for("both start jobs finished", lambda: len(units(server)) == 2, 10)
    jobs = {u["unit"]: u for u in units(server)}
    print(f"\nstatus --json units: {json.dumps(list(jobs.values()), indent=1)}")
    assert {u: (j["verb"], j["result"], j["via"], j["failed"]) for u, j in jobs.items()} == {
        GOOD: ("start", "done", "dbus", False), BROKEN: ("start", "failed", "dbus", True)}
    table = server.run("carpctl", "status").stdout
    explain = server.run("carpctl", "explain", "web").stdout
    metrics = server.run("carpctl", "metrics").stdout
    print(f"carpctl status:\n{table}\ncarpctl explain web:\n{explain}")
    assert f"web: master unit {BROKEN} start failed at" in table
    assert f"Master unit job failed: start of {BROKEN} ended failed" in explain
    assert 'carpd_unit_jobs_total{vip="web",result="failed"} 1' in metrics
    # done: the two stops of the start-up release (nothing held yet) and goodapp's start
    assert 'carpd_unit_jobs_total{vip="web",result="done"} 3' in metrics
    log = server.run("journalctl", "-u", "carpd", "-o", "cat", "--no-pager").stdout
    assert f"vip web: start {BROKEN} via dbus: failed" in log
