"""Real carpd daemons between network namespaces: the seed scenario and the exit paths.

Hosts a (.101) and b (.102) run carpd with the seed's crossed priorities (web preferred on a,
mail on b); c is the client. Takeover times are printed (pytest -s) and checked only against
the protocol bound plus a generous margin, never as tight wall-clock thresholds.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.carpd_host import Carpd, Vip, wait_for
from tests.integration.netns import REPO, Lab

WEB, MAIL = "172.16.90.31", "172.16.90.32"
MASTER_DOWN_B = 3 + 100 / 256  # the backup's master-down interval (advskew 100)
MARGIN = 1.0


@pytest.fixture
def pair(lab: Lab, tmp_path: Path) -> Iterator[tuple[Carpd, Carpd]]:
    a = Carpd(lab, "a", tmp_path, [Vip("web", 1, WEB + "/24", 0),
                                   Vip("mail", 2, MAIL + "/24", 100)])
    b = Carpd(lab, "b", tmp_path, [Vip("web", 1, WEB + "/24", 100),
                                   Vip("mail", 2, MAIL + "/24", 0)])
    a.start()
    b.start()
    settled = wait_for(lambda: a.states().get("web") == "MASTER"
                       and b.states().get("mail") == "MASTER", 10)
    assert settled is not None, a.log_text() + b.log_text()
    print(f"\nsettled in {settled:.2f} s")
    yield a, b
    for node in (a, b):
        if node.proc is not None and node.proc.poll() is None:
            node.signal(signal.SIGTERM)
            node.wait_exit()


def test_seed_crossed_priorities_link_down_and_preempt_back(lab: Lab, pair: tuple[Carpd, Carpd]
                                                           ) -> None:
    a, b = pair
    assert a.states() == {"web": "MASTER", "mail": "BACKUP"}
    assert b.states() == {"web": "BACKUP", "mail": "MASTER"}
    assert lab.holds("a", WEB) and not lab.holds("a", MAIL)
    assert lab.holds("b", MAIL) and not lab.holds("b", WEB)
    assert lab.ping("c", WEB) and lab.ping("c", MAIL)
    assert lab.neighbour("c", WEB) == lab.hosts["a"].mac
    assert lab.neighbour("c", MAIL) == lab.hosts["b"].mac

    lab.link("a", False)
    took = wait_for(lambda: lab.holds("b", WEB), MASTER_DOWN_B + 1 + MARGIN)
    print(f"link down: b took web after {took} s (bound {MASTER_DOWN_B:.2f} s + last advert age)")
    assert took is not None
    assert b.states() == {"web": "MASTER", "mail": "MASTER"}
    assert wait_for(lambda: lab.neighbour("c", WEB) == lab.hosts["b"].mac, 2) is not None
    assert lab.ping("c", WEB) and lab.ping("c", MAIL)
    assert a.states() == {"web": "INIT", "mail": "INIT"}
    assert not lab.holds("a", WEB)

    lab.link("a", True)
    back = wait_for(lambda: lab.holds("a", WEB) and not lab.holds("b", WEB), 5)
    print(f"link up: a preempted web back after {back} s")
    assert back is not None
    assert wait_for(lambda: a.states() == {"web": "MASTER", "mail": "BACKUP"}, 2) is not None
    assert b.states() == {"web": "BACKUP", "mail": "MASTER"}
    assert wait_for(lambda: lab.neighbour("c", WEB) == lab.hosts["a"].mac, 3) is not None
    assert lab.ping("c", WEB)
    reasons = {v["name"]: v["reason"] for v in a.status()["vips"]}  # type: ignore[index]
    assert reasons["web"] == "preempted_slower_master"


def test_sigkill_master_backup_takes_over_and_restart_removes_stale_vip(
        lab: Lab, pair: tuple[Carpd, Carpd]) -> None:
    a, _ = pair
    t0 = time.monotonic()
    a.signal(signal.SIGKILL)
    a.wait_exit()
    took = wait_for(lambda: lab.holds("b", WEB), MASTER_DOWN_B + 1 + MARGIN)
    print(f"SIGKILL: b took web after {took} s (bound {MASTER_DOWN_B:.2f} s)")
    assert took is not None
    assert time.monotonic() - t0 >= MASTER_DOWN_B - 1.0  # not before the peer could time out
    assert lab.holds("a", WEB), "a killed daemon cannot clean up: its VIP is still there"
    a.start()
    assert wait_for(lambda: not lab.holds("a", WEB), 5) is not None
    log = a.log_text()  # a restart past the resume window: removed at start, or kept for
    # the core's resume decision and released when it starts as BACKUP
    assert ("removed stale VIP 172.16.90.31/24 from eth0" in log
            or "kept carpd's copy 172.16.90.31/24 on eth0" in log), log
    assert wait_for(lambda: a.states().get("web") == "MASTER", 8) is not None  # preempts back
    assert wait_for(lambda: not lab.holds("b", WEB), 3) is not None


def test_sigterm_master_bows_out_and_backup_takes_over_at_once(
        lab: Lab, pair: tuple[Carpd, Carpd]) -> None:
    a, b = pair
    t0 = time.monotonic()
    a.signal(signal.SIGTERM)
    took = wait_for(lambda: lab.holds("b", WEB), 2.0, interval=0.002)
    print(f"SIGTERM: b took web after {took} s (advert interval 1 s, master-down "
          f"{MASTER_DOWN_B:.2f} s)")
    assert took is not None and took < 1.0, "a bow-out must beat one advert interval"
    assert a.wait_exit() == 0
    assert time.monotonic() - t0 < 10
    assert not lab.holds("a", WEB) and not lab.holds("a", MAIL)
    assert "peer_bowed_out" in b.log_text()


def test_carpctl_table_and_json_against_a_live_daemon(pair: tuple[Carpd, Carpd]) -> None:
    a, _ = pair
    base = [sys.executable, "-m", "carpd.carpctl", "--socket", a.socket, "status"]
    table = subprocess.run(base, capture_output=True, text=True, timeout=10, cwd=REPO,
                           check=True).stdout
    lines = table.splitlines()
    assert lines[1].split()[:5] == ["NAME", "VHID", "IFACE", "ADDRESSES", "STATE"]
    assert lines[2].split()[:5] == ["web", "1", "eth0", "172.16.90.31/24", "MASTER"]
    assert lines[3].split()[:5] == ["mail", "2", "eth0", "172.16.90.32/24", "BACKUP"]
    js = subprocess.run([*base, "--json", "mail"], capture_output=True, text=True, timeout=10,
                        cwd=REPO, check=True).stdout
    doc = json.loads(js)
    (mail,) = doc["vips"]
    assert mail["state"] == "BACKUP" and mail["master"] == "172.16.90.102"
    assert mail["counters"]["adverts_received"] > 0 and mail["counters"]["auth_failures"] == 0
    assert set(doc["node"]) == {"hostname", "version", "uptime_s"}
    assert "demo-pass" not in table + js  # the password never shows


def test_carpctl_without_a_daemon_exits_3(tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "carpd.carpctl", "--socket",
                           str(tmp_path / "none.sock"), "status"], capture_output=True,
                          text=True, timeout=10, cwd=REPO, check=False)
    assert proc.returncode == 3
    assert "cannot reach carpd at" in proc.stderr and "Traceback" not in proc.stderr
