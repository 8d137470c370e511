"""SIGHUP reloads through the real loader, the real Daemon and in-memory ports (issue 13,
item 8): a file that makes the parser recurse, an oversized one or a device is refused with one
"reload refused" record and READY=1, and a SIGHUP queued during a reload is not lost."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

import carpd.config.reading
from carpd.app.reloading import ConfigKeeper, Reloader
from carpd.config.loader import load_config
from carpd.config.reading import MAX_FILE_BYTES
from carpd.driver.reload import RELOAD_REFUSED, RELOADED
from tests.driver.fakes import FakeClockLoop, Harness, drive_daemon, fake_ports

GOOD = """\
[vip.web]
interface = "eth0"
vhid = 1
address = "172.16.90.31/24"
password = "s3cret"
advskew = {advskew}
"""


def hostile(kind: str) -> str:
    if kind == "recursing":
        return "x = " + "[" * 5000 + "]" * 5000 + "\n"
    if kind == "inline_tables":
        return "x = " + "{a = " * 800 + "1" + "}" * 800 + "\n"
    return "# padding\n" * (MAX_FILE_BYTES // 10 + 1)  # oversized


def run_reloads(path: Path, swaps: list[str], *, queue_second: bool) -> tuple[list[str], list[str],
                                                                              list[dict[str, str]],
                                                                              int]:
    """Start on GOOD (advskew 0), write each of `swaps` and SIGHUP (twice at once for the first
    if `queue_second`), and return the refused and reloaded records, the notifications and
    the advskew running at the end."""
    path.write_text(GOOD.format(advskew=0))
    config = load_config(path)
    ports = fake_ports()
    seen: dict[str, int] = {}

    async def scenario(d: Harness, loop: FakeClockLoop) -> None:
        await asyncio.sleep(5)
        reloader = Reloader(d.daemon, ConfigKeeper(d.daemon, config, None), ports.log)
        for i, text in enumerate(swaps):
            path.write_text(text)
            reloader.request()
            if i == 0 and queue_second:
                await asyncio.sleep(0)  # the first reload has begun (reading the file)
                assert reloader._task is not None
                reloader.request()  # a second SIGHUP while the first reload runs
            while reloader._task is not None:  # the reloads, one at a time
                await asyncio.sleep(0.01)
        seen["advskew"] = d.node.machine("web").params.advskew  # type: ignore[union-attr]

    assert drive_daemon(scenario, ports, config.vips)[0] == 0
    records = ports.log.records  # type: ignore[attr-defined]
    refused = [m for _, m, f in records if f.get("MESSAGE_ID") == RELOAD_REFUSED]
    reloaded = [m for _, m, f in records if f.get("MESSAGE_ID") == RELOADED]
    return refused, reloaded, ports.notifier.messages, seen["advskew"]  # type: ignore[attr-defined]


@pytest.mark.parametrize("kind", ["recursing", "inline_tables", "oversized"])
def test_hostile_file_is_refused_with_ready_and_the_next_reload_works(tmp_path: Path,
                                                                      kind: str) -> None:
    path = tmp_path / "carpd.toml"
    refused, reloaded, notes, advskew = run_reloads(
        path, [hostile(kind), GOOD.format(advskew=50)], queue_second=False)
    assert len(refused) == 1 and "\n" not in refused[0]
    assert refused[0].startswith(f"reload refused, still running the previous configuration: "
                                 f"{path}")
    assert reloaded == ["configuration reloaded: web retuned (advskew 0 -> 50)"]
    assert advskew == 50
    reloading = [i for i, n in enumerate(notes) if n.get("RELOADING") == "1"]
    assert len(reloading) == 2
    for start, end in zip(reloading, [*reloading[1:], len(notes)], strict=True):
        assert any(n.get("READY") == "1" for n in notes[start:end])  # each reload ends READY


def test_a_sighup_during_a_refused_reload_runs_one_more(tmp_path: Path) -> None:
    path = tmp_path / "carpd.toml"
    refused, _, notes, _ = run_reloads(path, [hostile("recursing")], queue_second=True)
    assert len(refused) == 2  # the queued SIGHUP re-read the (still hostile) file
    assert sum(n.get("READY") == "1" for n in notes if "RELOADING" not in n) >= 2


def test_a_parser_crash_still_refuses_and_keeps_the_loop(tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """Whatever the parser raises (the net under the nesting scan) ends in a refusal."""
    real = carpd.config.reading.tomllib.loads

    def crash(text: str) -> object:
        if "advskew = 7" in text:
            raise RecursionError("maximum recursion depth exceeded")
        return real(text)

    monkeypatch.setattr(carpd.config.reading.tomllib, "loads", crash)
    path = tmp_path / "carpd.toml"
    refused, reloaded, _, advskew = run_reloads(
        path, [GOOD.format(advskew=7), GOOD.format(advskew=9)], queue_second=True)
    assert refused == [f"reload refused, still running the previous configuration: {path}: "
                       "the TOML parser gave up: nested too deeply"] * 2
    assert reloaded == ["configuration reloaded: web retuned (advskew 0 -> 9)"]
    assert advskew == 9


def test_a_bug_in_a_reload_is_logged_and_ready_is_sent(tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """Not a file problem: the daemon's reload itself raising must not wedge the reloader."""
    path = tmp_path / "carpd.toml"
    path.write_text(GOOD.format(advskew=0))
    config = load_config(path)
    ports = fake_ports()
    calls: list[int] = []

    async def scenario(d: Harness, loop: FakeClockLoop) -> None:
        await asyncio.sleep(5)

        async def broken(load: object) -> bool:
            calls.append(1)
            await asyncio.sleep(1)
            raise KeyError("a bug")

        monkeypatch.setattr(d.daemon, "reload", broken)
        reloader = Reloader(d.daemon, ConfigKeeper(d.daemon, config, None), ports.log)
        reloader.request()
        await asyncio.sleep(0.5)
        reloader.request()  # during the first
        while reloader._task is not None:
            await asyncio.sleep(0.01)

    assert drive_daemon(scenario, ports, config.vips)[0] == 0
    assert len(calls) == 2
    failed = [m for m in ports.log.messages() if m.startswith("reload failed")]  # type: ignore[attr-defined]
    assert failed == ["reload failed, still running the previous configuration: KeyError: "
                      "'a bug'"] * 2
    assert sum(n.get("READY") == "1" for n in ports.notifier.messages) >= 2  # type: ignore[attr-defined]
