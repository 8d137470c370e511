"""The control server and carpctl over a real Unix socket: peer credentials, the watch stream,
the new commands' exit codes, durations and the statefile writer (no root needed)."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from carpd import __version__, carpctl
from carpd.control.protocol import Peer, ProtocolError, Request
from carpd.io.control_server import ControlServer
from carpd.io.statefile import JsonFlags, Textfile, write_atomic
from tests.io.clocks import SAFETY_S


class Server:
    """A ControlServer on its own loop thread with a scripted handler and a watch queue."""

    def __init__(self, path: str, loop: asyncio.AbstractEventLoop | None = None) -> None:
        self.path = path
        self.peers: list[Peer] = []
        self.maintenance: dict[str, Any] = {"on": False, "since": None}
        self.vips: list[dict[str, Any]] = []
        self.queue: asyncio.Queue[dict[str, Any] | None] | None = None
        self.loop = loop or asyncio.new_event_loop()
        self.ready = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    async def handler(self, req: Request, peer: Peer) -> dict[str, Any]:
        self.peers.append(peer)
        if req.cmd == "demote" and req.args.get("name") == "nope":
            raise ProtocolError("no VIP named 'nope' (known: web)")
        if req.cmd == "status":
            return {"vips": self.vips, "maintenance": self.maintenance}
        return {"demoted": ["web"], "by": req.args.get("by"), "until": None} \
            if req.cmd == "demote" else {"text": f"{req.cmd} {req.args}"}

    def subscribe(self, req: Request, peer: Peer) -> asyncio.Queue[dict[str, Any] | None]:
        self.peers.append(peer)
        self.queue = asyncio.Queue(10)
        return self.queue

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.server = ControlServer(self.path, self.handler, subscribe=self.subscribe)
        self.loop.run_until_complete(self.server.start())
        self.ready.set()
        self.loop.run_forever()

    def __enter__(self) -> Server:
        self.thread.start()
        self.ready.wait(SAFETY_S)
        return self

    def push(self, event: dict[str, Any] | None) -> None:
        async def put() -> None:
            while self.queue is None:
                await asyncio.sleep(0.01)
            await self.queue.put(event)
        asyncio.run_coroutine_threadsafe(put(), self.loop).result(SAFETY_S)

    def __exit__(self, *exc: object) -> None:
        asyncio.run_coroutine_threadsafe(self.server.close(), self.loop).result(SAFETY_S)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(SAFETY_S)


def test_peer_credentials_reach_the_handler(tmp_path: Path) -> None:
    with Server(str(tmp_path / "c.sock")) as srv:
        assert carpctl.request(srv.path, Request(cmd="explain", args={"name": "web"})) == {
            "text": "explain {'name': 'web'}"}
    (peer,) = srv.peers
    assert (peer.pid, peer.uid, peer.gid) == (os.getpid(), os.getuid(), os.getgid())
    assert peer.may_write  # the socket's owner


def test_carpctl_commands_and_exit_codes(tmp_path: Path, capsys: pytest.CaptureFixture[str]
                                         ) -> None:
    with Server(str(tmp_path / "c.sock")) as srv:
        base = ["--socket", srv.path]
        assert carpctl.main([*base, "demote", "web", "--by", "30"]) == 0
        assert capsys.readouterr().out == "demoted web by 30\n"
        assert carpctl.main([*base, "demote", "nope"]) == 1
        assert "carpd refused the request: no VIP named 'nope'" in capsys.readouterr().err
    assert carpctl.main(["--socket", str(tmp_path / "none.sock"), "maintenance", "on"]) == 3


def test_watch_streams_lines_until_the_daemon_ends_it(tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    with Server(str(tmp_path / "c.sock")) as srv:
        result: list[int] = []
        reader = threading.Thread(target=lambda: result.append(
            carpctl.main(["--socket", srv.path, "watch", "--json"])))
        reader.start()
        srv.push({"type": "transition", "vip": "web", "from": "BACKUP", "to": "MASTER",
                  "reason": "master_down_timer", "peer": None, "time": None})
        srv.push({"type": "check", "vip": "web", "check": "nginx", "ok": False,
                  "state": "failing", "changed": True, "detail": "refused", "time": None})
        srv.push(None)
        reader.join(SAFETY_S)
    out = capsys.readouterr()
    lines = [json.loads(line) for line in out.out.splitlines()]
    assert [e["type"] for e in lines] == ["transition", "check"]
    assert result == [3] and "carpd ended the stream" in out.err


def test_render_event_for_people() -> None:
    assert carpctl.render_event({"type": "transition", "vip": "web", "from": "MASTER",
                                 "to": "FAULT", "reason": "fault_check:db", "peer": None,
                                 "time": None}) == "- web: MASTER -> FAULT (fault_check:db)"
    assert carpctl.render_event({"type": "check", "vip": "web", "check": "nginx",
                                 "state": "failing", "changed": True, "detail": "refused",
                                 "time": None}) == (
        "- web: check nginx changed to failing: refused")


@pytest.mark.parametrize(("text", "seconds"), [("90", 90), ("30s", 30), ("5m", 300),
                                               ("1h", 3600), ("1h30m", 5400), ("1.5m", 90)])
def test_durations(text: str, seconds: float) -> None:
    assert carpctl.parse_duration(text) == seconds


@pytest.fixture
def zone_cet(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """This process's local zone is CET (UTC+1) for the test, then as it was."""
    monkeypatch.setenv("TZ", "CET-1")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


@pytest.mark.usefixtures("zone_cet")
def test_maintenance_without_argument_shows_the_state(tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    with Server(str(tmp_path / "c.sock")) as srv:
        assert carpctl.main(["--socket", srv.path, "maintenance"]) == 0
        assert capsys.readouterr().out == (
            "maintenance mode off (carpctl maintenance on: demote every VIP)\n")
        srv.maintenance = {"on": True, "since": "2026-12-01T15:00:00.000+00:00"}
        assert carpctl.main(["--socket", srv.path, "maintenance"]) == 0
        assert capsys.readouterr().out == (
            "maintenance mode ON since 2026-12-01 16:00:00 CET (carpctl maintenance off: "
            "end it)\n")
    assert [p_.pid for p_ in srv.peers] == [os.getpid()] * 2  # asked, changed nothing
    assert carpctl.main(["--socket", str(tmp_path / "none.sock"), "maintenance"]) == 3


@pytest.mark.usefixtures("zone_cet")
def test_status_table_shows_days_and_zones() -> None:
    doc = {"node": {"version": "0.1.0", "hostname": "a", "uptime_s": 3 * 86400 + 4 * 3600 + 7},
           "vips": [{"name": "web", "vhid": 1, "interface": "eth0", "addresses": ["192.0.2.1/24"],
                     "state": "MASTER", "since": "2026-12-01T15:00:00.000+00:00",
                     "reason": "master_down_timer", "master": None, "advskew": 0,
                     "effective_advskew": 0}]}
    lines = carpctl.render_table(doc).splitlines()
    assert lines[0] == "carpd 0.1.0 on a, up 3d 4h"
    assert "  2026-12-01 16:00:00 CET  master_down_timer  " in lines[2]


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        carpctl.main(["--version"])
    assert done.value.code == 0
    assert capsys.readouterr().out == f"carpctl {__version__}\n"


def test_days_in_demote_for() -> None:
    assert carpctl.parse_duration("3d 4h") == 3 * 86400 + 4 * 3600
    assert carpctl._build(carpctl._parser().parse_args(["demote", "web", "--for", "2d"])).args \
        == {"name": "web", "by": 254, "for": 172800.0}


@pytest.mark.parametrize("text", ["", "0", "5x", "m", "-3s", "1w"])
def test_bad_durations(text: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError):
        carpctl.parse_duration(text)


def test_statefile_atomic_json_and_corrupt_files(tmp_path: Path) -> None:
    errors: list[str] = []
    flags = JsonFlags(str(tmp_path / "state"), errors.append)
    assert flags.load("maintenance") is None
    flags.save("maintenance", {"on": True, "since": 1.5})
    assert flags.load("maintenance") == {"on": True, "since": 1.5}
    assert sorted(os.listdir(tmp_path / "state")) == ["maintenance"]  # no temporary left
    (tmp_path / "state" / "demotions").write_text("{not json")
    assert flags.load("demotions") is None and "not valid JSON" in errors[0]
    (tmp_path / "state" / "demotions").write_text("[1]")
    assert flags.load("demotions") is None and "not a JSON object" in errors[1]
    assert not (tmp_path / "state" / "demotions").exists()  # both set aside
    Textfile(str(tmp_path / "prom" / "carpd.prom")).write("carpd_maintenance 1\n")
    assert (tmp_path / "prom" / "carpd.prom").read_text() == "carpd_maintenance 1\n"
    write_atomic(str(tmp_path / "x"), b"a", mode=0o600)
    assert (tmp_path / "x").stat().st_mode & 0o777 == 0o600


SYSTEM_PYTHON = "/usr/bin/python3"  # readable by everyone, unlike a venv under /root


@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("setpriv") is None
                    or not os.path.exists(SYSTEM_PYTHON),
                    reason="needs root, setpriv and /usr/bin/python3 to act as another user")
@pytest.mark.parametrize(("groups", "may_write"), [("", False), ("4242", True),
                                                   ("100,4242", True)])
def test_write_permission_follows_the_socket_group(groups: str, may_write: bool) -> None:
    """nobody connects (the socket is made 0666 here so that a non-member can): it may write
    only with the socket's group among its supplementary groups (SO_PEERGROUPS)."""
    directory = tempfile.mkdtemp(prefix="carpd-ctl-", dir="/tmp")
    os.chmod(directory, 0o755)
    path = os.path.join(directory, "c.sock")
    try:
        _as_nobody(path, groups, may_write)
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def _as_nobody(path: str, groups: str, may_write: bool) -> None:
    with Server(path) as srv:
        os.chown(path, 0, 4242)
        os.chmod(path, 0o666)  # so that a non-member can connect at all (read-only)
        argv = ["setpriv", "--reuid=65534", "--regid=65534",
                f"--groups={groups}" if groups else "--clear-groups",
                SYSTEM_PYTHON, "-c", "from carpd import carpctl; "
                f"from carpd.control.protocol import Request; carpctl.request({path!r}, "
                "Request(cmd='metrics'))"]
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=20, check=False,
                              env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[2])})
        assert proc.returncode == 0, proc.stderr
    (peer,) = srv.peers
    assert (peer.uid, peer.gid, peer.may_write) == (65534, 65534, may_write)


def test_carpctl_exits_4_when_the_flag_was_not_saved(tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    class Unsaved(Server):
        async def handler(self, req: Request, peer: Peer) -> dict[str, Any]:
            return {"maintenance": True, "since": None, "persisted": False}

    with Unsaved(str(tmp_path / "c.sock")) as srv:
        assert carpctl.main(["--socket", srv.path, "maintenance", "on"]) == 4
    out = capsys.readouterr()
    assert out.out == "maintenance mode on\n"
    assert "it holds only until carpd restarts" in out.err
