"""Health checks against real carpd daemons between network namespaces.

Hosts a (.101) and b (.102) run carpd with the seed's crossed priorities. Host a also runs a
small HTTP server (the "nginx" of the story) on port 8080, tracked on a by an http check with
weight 200 on VIP web (interval 0.1 s, fall 1, rise 2); b has no check. Killing the server
hands web to b (a advertises 0 + 200 > b's 100 at once; b preempts on that advert); starting
it again hands web back (a preempts b's next advert). The times from the kill to b holding
the VIP and to the client's neighbour entry pointing at b are printed (pytest -s) and bounded
loosely, never as tight wall-clock thresholds.
"""

from __future__ import annotations

import json
import select
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.carpd_host import Carpd, Vip, wait_for
from tests.integration.netns import Lab

WEB, MAIL = "172.16.90.31", "172.16.90.32"
CHECK_INTERVAL = 0.1
WEB_CHECK = f"""
[[vip.web.check]]
type = "http"
name = "nginx"
url = "http://127.0.0.1:8080/"
weight = 200
interval = {CHECK_INTERVAL}
timeout = {CHECK_INTERVAL}
rise = 2
fall = 1
"""
MAIL_CHECK = """
[[vip.mail.check]]
type = "exec"
command = ["/nonexistent/check-mail", "--quiet"]
weight = 50
"""
SERVER = r"""
import http.server
class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")
    def log_message(self, *args):
        pass
server = http.server.ThreadingHTTPServer(("0.0.0.0", 8080), Handler)
print("ready", flush=True)
server.serve_forever()
"""


def start_server(lab: Lab) -> subprocess.Popen[bytes]:
    proc = lab.python_bg("a", SERVER)
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == b"ready"
    return proc


@pytest.fixture
def pair(lab: Lab, tmp_path: Path) -> Iterator[tuple[Carpd, Carpd]]:
    a = Carpd(lab, "a", tmp_path, [Vip("web", 1, WEB + "/24", 0),
                                   Vip("mail", 2, MAIL + "/24", 100)],
              vip_toml={"web": WEB_CHECK, "mail": MAIL_CHECK})
    b = Carpd(lab, "b", tmp_path, [Vip("web", 1, WEB + "/24", 100),
                                   Vip("mail", 2, MAIL + "/24", 0)])
    yield a, b
    for node in (a, b):
        if node.proc is not None and node.proc.poll() is None:
            node.signal(signal.SIGTERM)
            node.wait_exit()


def settle(a: Carpd, b: Carpd) -> None:
    a.start()
    b.start()
    settled = wait_for(lambda: a.states().get("web") == "MASTER"
                       and b.states().get("mail") == "MASTER", 10)
    assert settled is not None, a.log_text() + b.log_text()


def test_service_death_hands_web_to_b_and_recovery_hands_it_back(
        lab: Lab, pair: tuple[Carpd, Carpd]) -> None:
    a, b = pair
    server = start_server(lab)
    settle(a, b)
    assert lab.ping("c", WEB)  # c learns a's MAC for the VIP
    assert lab.neighbour("c", WEB) == lab.hosts["a"].mac
    assert wait_for(lambda: _check(a, "web", "nginx")["state"] == "passing", 3) is not None

    t0 = time.monotonic()
    server.send_signal(signal.SIGKILL)
    server.wait()
    b_took = wait_for(lambda: lab.holds("b", WEB), 5, interval=0.002)
    arp = wait_for(lambda: lab.neighbour("c", WEB) == lab.hosts["b"].mac, 5, interval=0.002)
    since_kill = time.monotonic() - t0
    assert b_took is not None, a.log_text() + b.log_text()
    assert arp is not None
    arp_at = b_took + arp
    print(f"\nservice killed: b holds web after {b_took * 1000:.0f} ms, c's ARP entry points "
          f"at b after {arp_at * 1000:.0f} ms (check interval {CHECK_INTERVAL * 1000:.0f} ms, "
          f"fall 1; bound: one interval + timeout + one round trip)")
    assert b_took < 1.0 and since_kill < 6
    released = wait_for(lambda: not lab.holds("a", WEB), 2, interval=0.002)
    assert released is not None  # a steps down on b's first advert (one round trip)
    assert lab.ping("c", WEB)
    assert a.states() == {"web": "BACKUP", "mail": "BACKUP"}

    explained = a.ctl("explain", "web")
    assert explained.returncode == 0
    text = explained.stdout
    print(f"carpctl explain web (on a): {text}")
    assert "is BACKUP" in text and "The master is 172.16.90.102" in text
    assert "Our effective advskew is 200 = 0 (advskew) + 200 (check:nginx)" in text
    assert "Failing check: nginx (http http://127.0.0.1:8080/ (expect 200), weight 200): " \
           "http://127.0.0.1:8080/: Connection refused." in text

    t1 = time.monotonic()
    server = start_server(lab)
    back = wait_for(lambda: lab.holds("a", WEB) and not lab.holds("b", WEB), 5)
    print(f"service back: a preempted web after {back} s (b advertises every "
          f"{1 + 100 / 256:.2f} s; a preempts on the first one after its check rises)")
    assert back is not None and time.monotonic() - t1 < 5
    assert wait_for(lambda: lab.neighbour("c", WEB) == lab.hosts["a"].mac, 3) is not None
    reasons = {v["name"]: v["reason"] for v in a.status()["vips"]}  # type: ignore[index]
    assert reasons["web"] == "preempted_slower_master"
    assert "check nginx is failing" in a.log_text() and "check nginx is passing" in a.log_text()


def test_exec_check_with_missing_binary_is_a_failure_named_by_explain(
        lab: Lab, pair: tuple[Carpd, Carpd]) -> None:
    a, b = pair
    start_server(lab)
    settle(a, b)
    assert wait_for(lambda: _check(a, "mail", "check-mail")["state"] == "failing", 5)
    check = _check(a, "mail", "check-mail")
    assert check["detail"] == "cannot run /nonexistent/check-mail: No such file or directory"
    mail = next(v for v in a.status()["vips"] if v["name"] == "mail")  # type: ignore[index]
    assert mail["effective_advskew"] == 150 and mail["demotions"] == {"check:check-mail": 50}
    text = a.ctl("explain", "mail").stdout
    assert "Failing check: check-mail (exec /nonexistent/check-mail --quiet, weight 50): " \
           "cannot run /nonexistent/check-mail: No such file or directory." in text
    table = a.ctl("status").stdout  # the problem is a note under the table
    assert "mail: check check-mail failing (weight 50) since " in table
    assert "cannot run /nonexistent/check-mail: No such file or directory" in table
    assert "(carpctl explain NAME says more" in table


def test_maintenance_survives_a_daemon_restart(lab: Lab, pair: tuple[Carpd, Carpd]) -> None:
    a, b = pair
    start_server(lab)
    settle(a, b)
    on = a.ctl("maintenance", "on")
    assert on.returncode == 0 and on.stdout == "maintenance mode on\n"
    assert wait_for(lambda: lab.holds("b", WEB), 3) is not None
    a.signal(signal.SIGTERM)
    assert a.wait_exit() == 0
    a.start()
    assert wait_for(lambda: a.states().get("web") == "BACKUP", 10) is not None
    doc = a.status()
    assert doc is not None and doc["maintenance"]["on"] is True  # type: ignore[index]
    web = next(v for v in doc["vips"] if v["name"] == "web")  # type: ignore[index]
    assert web["demotions"]["maintenance"] == 254 and web["effective_advskew"] == 254
    time.sleep(3 * (1 + 100 / 256))  # a few of b's adverts: a must not preempt
    assert lab.holds("b", WEB) and not lab.holds("a", WEB)
    assert "maintenance mode on since " in a.ctl("status").stdout
    assert a.ctl("maintenance", "off").returncode == 0
    assert wait_for(lambda: lab.holds("a", WEB), 5) is not None
    state_file = a.workdir / "a-state" / "maintenance"
    assert json.loads(state_file.read_text())["on"] is False


def test_metrics_and_watch_against_a_live_daemon(lab: Lab, pair: tuple[Carpd, Carpd]) -> None:
    a, b = pair
    start_server(lab)
    settle(a, b)
    metrics = a.ctl("metrics").stdout.splitlines()
    assert 'carpd_vip_state{vip="web",vhid="1",interface="eth0",state="MASTER"} 1' in metrics
    assert 'carpd_check_up{vip="mail",check="check-mail",type="exec"} 0' in metrics
    watch = subprocess.Popen([*_ctl_argv(a), "watch", "--json"], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    try:
        assert watch.stdout is not None
        ready, _, _ = select.select([watch.stdout], [], [], 10)  # web's check reports every
        assert ready and json.loads(watch.stdout.readline())  # 0.1 s: subscribed
        demoted = b.ctl("demote", "mail", "--for", "5s")  # the shortest carpctl accepts
        assert demoted.returncode == 0, demoted.stderr
        seen: list[tuple[str, str, str, str]] = []
        deadline = time.monotonic() + 15
        assert watch.stdout is not None
        while len(seen) < 2 and time.monotonic() < deadline:
            ready, _, _ = select.select([watch.stdout], [], [], 0.5)
            if not ready:
                continue
            line = watch.stdout.readline()
            if not line:
                break
            event = json.loads(line)
            if event["type"] == "transition":
                seen.append((event["vip"], event["from"], event["to"], event["reason"]))
        assert seen == [("mail", "BACKUP", "MASTER", "preempted_slower_master"),
                        ("mail", "MASTER", "BACKUP", "preferred_master_heard")], (
            seen, a.log_text()[-3000:])
    finally:
        watch.terminate()
        watch.wait(5)


def _ctl_argv(node: Carpd) -> list[str]:
    import sys
    return [sys.executable, "-m", "carpd.carpctl", "--socket", node.socket]


def _check(node: Carpd, vip: str, name: str) -> dict[str, object]:
    doc = node.status()
    if doc is None:
        return {"state": None}
    v = next(v for v in doc["vips"] if v["name"] == vip)  # type: ignore[index]
    return next((c for c in v["checks"] if c["name"] == name), {"state": None})
