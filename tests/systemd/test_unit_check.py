"""A `unit` health check on real systemd: the VIP follows a service's ActiveState (D-Bus signals).

Servers a and b (tests/systemd/sdlab.py, the .deb installed) run carpd with web preferred on
a (advskew 0, b 100). On a, web tracks `webapp.service` (a small long-running service written
here) with a unit check of weight 200: `systemctl stop webapp` hands web to b, `systemctl
start` hands it back (preempt), and a webapp that dies (SIGKILL, Restart=no: the unit is
"failed") hands it to b again, with `carpctl explain web` naming the failed unit. Root only;
skipped without systemd-nspawn or the Debian build tools.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import pytest

from tests.systemd.conftest import lab_skip_reason
from tests.systemd.sdlab import SdLab, Server
from tests.systemd.test_units import PASSWORD, WEB, active, states, wait_for

pytestmark = pytest.mark.skipif(lab_skip_reason() is not None,
                                reason=lab_skip_reason() or "")

APP = "webapp.service"
APP_UNIT = """\
[Unit]
Description=the web application carpd's unit check tracks (test)

[Service]
ExecStart=/bin/sleep infinity
Restart=no
"""
CONF = """\
[defaults]
interface = "eth0"
password_file = "/etc/carpd/carp.key"
master_units = []

[vip.web]
vhid = 1
address = "{web}"
advskew = {skew}
{check}"""
CHECK = f"""
[[vip.web.check]]
type = "unit"
unit = "{APP}"
weight = 200
"""


def holds(lab: SdLab, name: str) -> bool:
    return WEB in lab.addresses(name)


def web(s: Server) -> dict[str, object]:
    doc = json.loads(s.run("carpctl", "status", "--json", "web").stdout)
    return doc["vips"][0]  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def pair(lab: SdLab) -> Iterator[tuple[SdLab, Server, Server]]:
    a, b = lab.servers["a"], lab.servers["b"]
    for s, skew, check in ((a, 0, CHECK), (b, 100, "")):
        s.write("/etc/carpd/carp.key", PASSWORD + "\n", 0o600)
        s.write("/etc/carpd.toml", CONF.format(web=WEB, skew=skew, check=check))
        s.write(f"/etc/systemd/system/{APP}", APP_UNIT)
        s.run("systemctl", "daemon-reload")
        s.run("systemctl", "start", APP)
        s.run("systemctl", "reset-failed", "carpd", check=False)
        s.run("systemctl", "enable", "--now", "carpd", timeout=60)
    wait_for("web MASTER on a", lambda: states(a) == {"web": "MASTER"}
             and states(b) == {"web": "BACKUP"}, 15)
    yield lab, a, b
    for s in (a, b):
        s.run("systemctl", "disable", "--now", "carpd", check=False, timeout=60)


def test_stopping_the_unit_moves_web_and_starting_it_brings_it_back(
        pair: tuple[SdLab, Server, Server]) -> None:
    lab, a, _ = pair
    check = web(a)["checks"][0]  # type: ignore[index]
    assert (check["name"], check["state"], check["detail"]) == (  # type: ignore[index]
        "webapp", "passing", "webapp.service is active (running)")
    t0 = time.monotonic()
    a.run("systemctl", "stop", APP)
    moved = wait_for("web held by b after systemctl stop", lambda: holds(lab, "b"), 5, 0.01)
    print(f"\nsystemctl stop {APP}: b holds web after {moved * 1000:.0f} ms "
          f"({(time.monotonic() - t0) * 1000:.0f} ms including the stop job)")
    wait_for("a released web", lambda: not holds(lab, "a"), 3, 0.01)
    assert web(a)["effective_advskew"] == 200
    a.run("systemctl", "start", APP)
    back = wait_for("web back on a after systemctl start", lambda: holds(lab, "a")
                    and not holds(lab, "b"), 5)
    print(f"systemctl start {APP}: a preempted web back after {back:.2f} s")
    assert web(a)["state"] == "MASTER" and web(a)["effective_advskew"] == 0


def test_a_failed_unit_moves_web_and_explain_names_it(
        pair: tuple[SdLab, Server, Server]) -> None:
    lab, a, _ = pair
    a.run("systemctl", "kill", "--signal=KILL", APP)
    wait_for(f"{APP} failed", lambda: active(a, APP) == "failed", 5)
    wait_for("web held by b after the unit failed", lambda: holds(lab, "b"), 5, 0.01)
    text = a.run("carpctl", "explain", "web").stdout
    print(f"carpctl explain web: {text}")
    assert "Failing check: webapp (unit webapp.service, weight 200): webapp.service is failed " \
           "(failed)." in text
    log = a.run("journalctl", "-u", "carpd", "-o", "cat", "--no-pager").stdout
    assert "vip web: check webapp is failing: webapp.service is failed (failed)" in log
    a.run("systemctl", "reset-failed", APP)
    a.run("systemctl", "start", APP)
    wait_for("web back on a", lambda: holds(lab, "a") and not holds(lab, "b"), 5)
