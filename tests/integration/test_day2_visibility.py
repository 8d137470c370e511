"""A provoked split brain as an operator sees it, against two live carpd daemons (issue 14,
items 1 and 4): the status table's notes, explain's sentence, `status --check`'s exit status
and lines, `history`, `watch NAME --changes` and the takeover's journal line.

One lab (hosts a .101 and b .102, tag "dv") for the whole module. VIP web (vhid 1): a
advskew 0, b advskew 100. VIP api (vhid 2): b's password differs from a's, so each sees the
other's adverts as foreign (bad HMAC). The split brain: b drops protocol 112 from a (nft in
b's namespace), so b's master-down timer takes web over from a, and a, still MASTER, hears
b advertise as a worse master: a dual master. Lifting the rule ends it (b yields to a).
Every output is printed (pytest -s) for the closing note; assertions are on what the texts
say, never on wall-clock thresholds.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest

from tests.integration.carpd_host import Carpd, Vip, wait_for
from tests.integration.netns import REPO, Lab, stop_process

A_IP, B_IP = "172.16.90.101", "172.16.90.102"
WEB, API = "172.16.90.31/24", "172.16.90.33/24"
NFT_TABLE = "dvsplit"
DROP_FROM_A = f"""
table inet {NFT_TABLE} {{
  chain input {{
    type filter hook input priority 0; policy accept;
    ip saddr {A_IP} ip protocol 112 counter drop comment "carp_from_a"
  }}
}}
"""


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Lab, Carpd, Carpd]]:
    with Lab("dv") as lab:
        lab.add_host("a", A_IP + "/24", 0x01)
        lab.add_host("b", B_IP + "/24", 0x02)
        if not lab.multicast_crosses("a", "b"):
            pytest.fail("protocol-112 multicast to 224.0.0.18 does not cross the lab bridge")
        workdir = tmp_path_factory.mktemp("dv")
        other_key = workdir / "other.key"
        other_key.write_text("other-pass-77\n")
        other_key.chmod(0o600)
        a = Carpd(lab, "a", workdir, [Vip("web", 1, WEB, 0), Vip("api", 2, API, 0)])
        b = Carpd(lab, "b", workdir, [Vip("web", 1, WEB, 100), Vip("api", 2, API, 100)],
                  vip_toml={"api": f'password_file = "{other_key}"'})
        try:
            a.start()
            assert wait_for(lambda: a.states().get("web") == "MASTER", 10) is not None, \
                a.log_text()
            b.start()
            settled = wait_for(lambda: b.states().get("web") == "BACKUP"
                               and b.states().get("api") == "MASTER", 10)
            assert settled is not None, b.log_text()
            yield lab, a, b
        finally:
            for node in (a, b):
                if node.proc is not None and node.proc.poll() is None:
                    node.signal(signal.SIGTERM)
                    node.wait_exit()


def show(node: Carpd, *argv: str) -> subprocess.CompletedProcess[str]:
    """Run carpctl against `node` as an operator would, and print what it printed."""
    done = node.ctl(*argv)
    print(f"\n$ carpctl {' '.join(argv)}   # on {node.host}, exit status {done.returncode}\n"
          f"{done.stdout}{done.stderr}", end="")
    return done


def test_1_before_the_split_both_are_healthy_for_web(pair: tuple[Lab, Carpd, Carpd]) -> None:
    _, a, b = pair
    for node in (a, b):
        assert show(node, "status", "web", "--check").returncode == 0
    history = show(b, "history", "web")
    assert "INIT -> BACKUP" in history.stdout
    # api: each side sees the other's adverts fail its HMAC, from the start
    check = show(a, "status", "--check")
    assert check.returncode == 1
    assert (f"FOREIGN_ADVERT: api: foreign adverts on vhid 2 (bad HMAC: another cluster, or a "
            f"different password or address set) from {B_IP} since ") in check.stdout


def test_2_split_brain_is_visible_everywhere(pair: tuple[Lab, Carpd, Carpd]) -> None:
    lab, a, b = pair
    lab.nft("b", DROP_FROM_A)
    took = wait_for(lambda: b.states().get("web") == "MASTER", 10)
    assert took is not None, b.log_text()
    print(f"\nb took web over {took:.2f} s after dropping a's adverts")
    dual = wait_for(lambda: any(p["kind"] == "dual_master"
                                for p in (a.status() or {}).get("problems", [])), 10)
    assert dual is not None, a.log_text()

    table = show(a, "status")
    assert f"web: dual master with {B_IP} (advbase 1 advskew 100) since " in table.stdout
    explain = show(a, "explain", "web")
    assert (f"Another node claims this VIP: {B_IP} advertises as master (advbase 1 advskew "
            "100) while we are MASTER, since ") in explain.stdout
    check = show(a, "status", "--check")
    assert check.returncode == 1
    lines = check.stdout.splitlines()
    assert any(line.startswith(f"DUAL_MASTER: web: dual master with {B_IP}") for line in lines)
    assert any(line.startswith("FOREIGN_ADVERT: api: ") for line in lines)

    history = show(b, "history", "web")
    takeover = history.stdout.splitlines()[-1]
    assert "BACKUP -> MASTER" in takeover and "master_down_timer" in takeover
    assert f"{A_IP} -> this node (last heard " in takeover
    entry = json.loads(show(b, "history", "web", "--json").stdout)["entries"][-1]
    assert (entry["master_before"], entry["master_after"], entry["rank"]) == (
        A_IP, "self", "advskew 100")
    assert entry["master_last_heard_before_s"] > 0
    b_table = show(b, "status", "web")
    assert "web: took over at " in b_table.stdout and f"from {A_IP}, whose last advert" \
        in b_table.stdout
    assert f"It took over from {A_IP}, whose last advert was heard at " in show(
        b, "explain", "web").stdout
    assert f"took over from master {A_IP}, last heard " in b.log_text()


def test_3_healing_the_split_is_history_and_watch_shows_only_changes(
        pair: tuple[Lab, Carpd, Carpd]) -> None:
    lab, a, b = pair
    watch = subprocess.Popen([sys.executable, "-m", "carpd.carpctl", "--socket", b.socket,
                              "watch", "web", "--changes", "--json"], cwd=REPO,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        time.sleep(1.0)  # the subscription is in place before the heal
        lab.run("b", "nft", "delete", "table", "inet", NFT_TABLE)
        assert wait_for(lambda: b.states().get("web") == "BACKUP", 10) is not None, \
            b.log_text()
        time.sleep(1.5)  # a few more adverts of every kind reach b
    finally:
        stop_process(watch)  # type: ignore[arg-type]
    out = watch.stdout.read().decode() if watch.stdout else ""
    print(f"\n$ carpctl watch web --changes --json   # on b, during the heal\n{out}", end="")
    events = [json.loads(line) for line in out.splitlines()]
    assert [(e["type"], e["vip"], e["from"], e["to"]) for e in events] == [
        ("transition", "web", "MASTER", "BACKUP")]

    history = show(b, "history", "web")
    last = history.stdout.splitlines()[-1]
    assert "MASTER -> BACKUP" in last and "preferred_master_heard" in last
    assert f"this node -> {A_IP}" in last
    show(b, "history")  # both VIPs
    # the dual master ends on a once it has not been heard for RECENT_S (10 s)
    over = wait_for(lambda: a.ctl("status", "web", "--check").returncode == 0, 15, 0.5)
    assert over is not None
    show(a, "status", "web", "--check")
    assert "Earlier another node claimed this VIP as master" in show(a, "explain", "web").stdout
