"""carpctl's incident views as an operator runs them, over a real Unix socket with a scripted
daemon: the notes under the status table, `status --check` (its lines and exit codes 0, 1 and
3), `history` (table and --json) and the args `watch NAME --changes` sends; and the views'
rendering on its own (carpd/control/views.py)."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import pytest

from carpd import carpctl
from carpd.control import views
from carpd.control.protocol import Peer, Request
from tests.io.test_control import Server

TAKEOVER = {"time": "2026-12-01T12:01:03.390+00:00", "vip": "web", "vhid": 1,
            "interface": "eth0", "from": "BACKUP", "to": "MASTER",
            "reason": "master_down_timer", "peer": None, "master_before": "172.16.90.102",
            "master_after": "self", "master_last_heard": "2026-12-01T12:01:00.000+00:00",
            "master_last_heard_before_s": 3.39, "rank": "advskew 100", "demotions": {},
            "behind": ""}
STEP_DOWN = {**TAKEOVER, "time": "2026-12-01T12:05:00.000+00:00", "from": "MASTER",
             "to": "BACKUP", "reason": "preferred_master_heard", "peer": "172.16.90.102",
             "master_before": "self", "master_after": "172.16.90.102",
             "master_last_heard": None, "master_last_heard_before_s": None,
             "rank": "advskew 254", "demotions": {"operator": 254},
             "behind": "operator demotion (+254)"}
DUAL = {"kind": "dual_master", "vip": "web",
        "text": "web: dual master with 172.16.90.109 (advbase 1 advskew 200) since "
                "2026-12-01 12:02:00 UTC, last heard 0s ago, 3 times"}


def vip_json(**kw: Any) -> dict[str, Any]:
    base = {"name": "web", "vhid": 1, "interface": "eth0", "addresses": ["172.16.90.31/24"],
            "state": "MASTER", "since": "2026-12-01T12:01:03.390+00:00",
            "reason": "master_down_timer", "master": "172.16.90.101", "advskew": 100,
            "effective_advskew": 100, "checks": [], "hold_down": False, "waiting_for": [],
            "last_transition": TAKEOVER}
    return base | kw


def status_json(problems: list[dict[str, Any]], vips: list[dict[str, Any]] | None = None
                ) -> dict[str, Any]:
    return {"node": {"hostname": "b", "version": "0.1.0", "uptime_s": 62.0},
            "vips": [vip_json()] if vips is None else vips,
            "maintenance": {"on": False, "since": None}, "problems": problems}


class IncidentServer(Server):
    def __init__(self, path: str, status: dict[str, Any]) -> None:
        super().__init__(path)
        self.status = status
        self.requests: list[Request] = []

    async def handler(self, req: Request, peer: Peer) -> dict[str, Any]:
        self.requests.append(req)
        if req.cmd == "history":
            return {"entries": [TAKEOVER, STEP_DOWN]}
        return self.status

    def subscribe(self, req: Request, peer: Peer) -> Any:
        self.requests.append(req)
        return super().subscribe(req, peer)


def test_status_check_exit_codes_and_lines(tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    with IncidentServer(str(tmp_path / "c.sock"), status_json([DUAL])) as srv:
        assert carpctl.main(["--socket", srv.path, "status", "--check"]) == 1
        assert capsys.readouterr().out == f"DUAL_MASTER: {DUAL['text']}\n"
        assert carpctl.main(["--socket", srv.path, "status", "mail", "--check"]) == 1
        assert "no VIP named 'mail'" in capsys.readouterr().err
        srv.status = status_json([])
        assert carpctl.main(["--socket", srv.path, "status", "--check"]) == 0
        assert capsys.readouterr().out == "OK: 1 VIP (web MASTER)\n"
    assert carpctl.main(["--socket", str(tmp_path / "gone.sock"), "status", "--check"]) == 3


def test_status_table_notes_the_problem_and_the_takeover(
        tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TZ", "UTC")
    with IncidentServer(str(tmp_path / "c.sock"), status_json([DUAL])) as srv:
        assert carpctl.main(["--socket", srv.path, "status"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[-3:] == [
        DUAL["text"],
        "web: took over at 2026-12-01 12:01:03 UTC (master_down_timer) from 172.16.90.102, "
        "whose last advert was heard at 2026-12-01 12:01:00 UTC (3.4 s before)",
        "(carpctl explain NAME says more; carpctl history NAME shows what led here)"]


def test_history_table_and_json(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TZ", "UTC")
    with IncidentServer(str(tmp_path / "c.sock"), status_json([])) as srv:
        assert carpctl.main(["--socket", srv.path, "history", "web"]) == 0
        table = capsys.readouterr().out.splitlines()
        assert carpctl.main(["--socket", srv.path, "history", "--json"]) == 0
        assert json.loads(capsys.readouterr().out) == {"entries": [TAKEOVER, STEP_DOWN]}
    assert [r.args for r in srv.requests] == [{"name": "web"}, {}]
    assert table[0].split() == ["TIME", "VIP", "CHANGE", "REASON", "MASTER", "BEFORE", "->",
                                "AFTER", "RANK", "BEHIND"]
    assert table[1].split("  ")[0] == "2026-12-01 12:01:03 UTC"
    assert "172.16.90.102 -> this node (last heard 2026-12-01 12:01:00 UTC)" in table[1]
    assert "master_down_timer" in table[1] and "advskew 100" in table[1]
    assert table[2].endswith("advskew 254  operator demotion (+254)")
    assert "this node -> 172.16.90.102" in table[2]


def test_watch_name_and_changes_are_sent_to_the_daemon(tmp_path: Path,
                                                       capsys: pytest.CaptureFixture[str]
                                                       ) -> None:
    with IncidentServer(str(tmp_path / "c.sock"), status_json([])) as srv:
        reader = threading.Thread(target=lambda: carpctl.main(
            ["--socket", srv.path, "watch", "web", "--changes"]))
        reader.start()
        srv.push(None)
        reader.join(5)
    assert [(r.cmd, r.args) for r in srv.requests] == [
        ("watch", {"name": "web", "changes": True})]


def test_views_when_writes_the_zone(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TZ", "UTC")
    assert views.when("2026-12-01T12:01:03.390+00:00") == "2026-12-01 12:01:03 UTC"
    assert views.when(None) == "-"
    assert views.when("garbage") == "garbage"


def test_views_check_and_history_edge_cases() -> None:
    assert views.check(status_json([], vips=[])) == (0, ["OK: 0 VIPs (no VIP runs yet)"])
    code, lines = views.check(status_json([DUAL, {"kind": "maintenance", "vip": None,
                                                  "text": "maintenance mode on"}]))
    assert code == views.CHECK_PROBLEMS
    assert lines == [f"DUAL_MASTER: {DUAL['text']}", "MAINTENANCE: maintenance mode on"]
    assert views.render_history([]) == "no transitions yet"


def test_no_takeover_note_when_the_master_before_was_unknown_or_this_node() -> None:
    for before in (None, "self"):
        status = status_json([], vips=[vip_json(last_transition={**TAKEOVER,
                                                                  "master_before": before})])
        assert views.notes(status) == []


def test_no_takeover_note_for_a_master_that_bowed_out() -> None:
    status = status_json([], vips=[vip_json(last_transition={**TAKEOVER,
                                                              "reason": "peer_bowed_out"})])
    assert views.notes(status) == []
