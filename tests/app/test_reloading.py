"""carpd.app.reloading's ConfigKeeper with the real loader, the real Daemon and in-memory ports
(fake clock): the dry run plans the file on disk and applies nothing, status's `config` section
follows the file (same, changed, a refused reload with the loader's located error or the host's
refusal, fixed), and the running configuration names where passwords come from."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

from carpd.app.reloading import ConfigKeeper, Reloader
from carpd.config.loader import load_config
from carpd.control.protocol import Request
from carpd.ops.configview import render_toml
from carpd.ops.operations import Operations
from tests.driver.fakes import FakeClockLoop, Harness, drive_daemon, fake_ports

FILE = """\
[carpd]
nodes = ["web1", "web2"]

[defaults]
interface = "eth0"
password_file = "{dir}/carp.key"

[vip.web]
vhid = 1
address = "172.16.90.31/24"
advskew = {{ web1 = {skew}, web2 = 100 }}
"""
WALL = 1_800_000_000.0  # 2027-01-15T08:00:00Z


def scene(tmp_path: Path, steps: Any) -> dict[str, Any]:
    """Start web1 on FILE (skew 0), run `steps(keeper, reloader, write, d)`; its results."""
    key = tmp_path / "carp.key"
    key.write_text("s3cret-Zq7\n")
    key.chmod(0o600)
    path = tmp_path / "carpd.toml"

    def write(skew: object = 0, text: str | None = None) -> None:
        path.write_text(text if text is not None else FILE.format(dir=tmp_path, skew=skew))

    write()
    config = load_config(path, node="web1")
    ports = fake_ports()
    out: dict[str, Any] = {}

    async def scenario(d: Harness, loop: FakeClockLoop) -> None:
        await asyncio.sleep(5)
        keeper = ConfigKeeper(d.daemon, config, "web1", wall_clock=lambda: WALL)
        reloader = Reloader(d.daemon, keeper, ports.log)

        async def reload() -> None:
            reloader.request()
            while reloader._task is not None:
                await asyncio.sleep(0.01)

        out.update(await steps(keeper, reload, write, d))

    assert drive_daemon(scenario, ports, config.vips)[0] == 0
    out["log"] = ports.log.messages()  # type: ignore[attr-defined]
    return out


def test_dry_run_plans_the_file_on_disk_and_applies_nothing(tmp_path: Path) -> None:
    async def steps(keeper: ConfigKeeper, reload: Any, write: Any, d: Harness) -> dict[str, Any]:
        write(skew=40)
        reply = await keeper.dry_run()
        return {"reply": reply, "skew": d.node.machine("web").params.advskew}  # type: ignore[union-attr]

    out = scene(tmp_path, steps)
    reply = out["reply"]
    assert reply["valid"] is True and reply["node"] == "web1"
    assert reply["text"].splitlines() == [
        f"dry run of a reload of {tmp_path}/carpd.toml for node web1 (nothing is applied):",
        "web  retuned: advskew 0 -> 40 [MASTER here]",
        "no VIP that is MASTER here would bow out"]
    assert out["skew"] == 0
    assert not [m for m in out["log"] if "reload" in m]  # nothing logged, nothing applied


def test_dry_run_of_a_bad_file_is_the_loaders_located_error(tmp_path: Path) -> None:
    async def steps(keeper: ConfigKeeper, reload: Any, write: Any, d: Harness) -> dict[str, Any]:
        write(skew='"zero"')
        return {"reply": await keeper.dry_run()}

    reply = scene(tmp_path, steps)["reply"]
    error = f"{tmp_path}/carpd.toml:11: vip.web.advskew.web1: must be an integer 0..254, not a " \
            "string"
    assert reply == {"path": f"{tmp_path}/carpd.toml", "node": "web1", "valid": False,
                     "error": error, "text": f"a reload would be refused: {error}"}


def test_status_follows_the_file_through_a_refused_reload(tmp_path: Path) -> None:
    async def steps(keeper: ConfigKeeper, reload: Any, write: Any, d: Harness) -> dict[str, Any]:
        seen = [await keeper.file_state()]
        write(skew=10)
        seen.append(await keeper.file_state())
        write(text=FILE.format(dir=tmp_path, skew=0).replace("web1 =", "wbe1 ="))
        await reload()
        seen.append(await keeper.file_state())
        write(skew=10)
        await reload()
        seen.append(await keeper.file_state())
        return {"seen": seen, "skew": d.node.machine("web").params.advskew}  # type: ignore[union-attr]

    out = scene(tmp_path, steps)
    states = [(s["on_disk"], s["refused_at"], s["refused"]) for s in out["seen"]]
    error = (f"{tmp_path}/carpd.toml:11: vip.web.advskew.wbe1: not a node of [carpd] nodes "
             "(web1, web2); did you mean 'web1'?")
    assert states == [("same", None, None), ("changed", None, None),
                      ("changed", "2027-01-15T08:00:00.000+00:00", error), ("same", None, None)]
    assert out["skew"] == 10


def test_a_host_refusal_is_kept_with_its_reason(tmp_path: Path) -> None:
    async def steps(keeper: ConfigKeeper, reload: Any, write: Any, d: Harness) -> dict[str, Any]:
        write(text=FILE.format(dir=tmp_path, skew=0) + 'interface = "eth9"\n')
        await reload()
        return {"state": await keeper.file_state()}

    state = scene(tmp_path, steps)["state"]
    assert state["on_disk"] == "changed" and "eth9" in state["refused"]


def test_status_and_config_through_the_operator_side(tmp_path: Path) -> None:
    async def steps(keeper: ConfigKeeper, reload: Any, write: Any, d: Harness) -> dict[str, Any]:
        ops = Operations(d.daemon, d.ports, keeper)
        status = await ops.control(Request(cmd="status"))
        config = await ops.control(Request(cmd="config"))
        return {"status": status, "config": config, "running": keeper.running()}

    out = scene(tmp_path, steps)
    assert out["status"]["config"]["on_disk"] == "same"
    assert out["status"]["vips"][0]["name"] == "web"
    assert out["config"] == {"text": render_toml(out["running"])}
    text = out["config"]["text"]
    assert 'source = "172.16.90.101"  # "auto", resolved' in text
    assert f'password_file = "{tmp_path}/carp.key"' in text and "s3cret" not in text


def test_a_fifo_in_place_of_the_file_is_unreadable_and_never_blocks(tmp_path: Path) -> None:
    async def steps(keeper: ConfigKeeper, reload: Any, write: Any, d: Harness) -> dict[str, Any]:
        path = tmp_path / "carpd.toml"
        path.unlink()
        os.mkfifo(path)
        gone = await keeper.file_state()
        path.unlink()
        return {"fifo": gone, "missing": await keeper.file_state()}

    out = scene(tmp_path, steps)
    assert out["fifo"]["on_disk"] == "unreadable" and out["missing"]["on_disk"] == "unreadable"


def test_the_reload_does_what_its_dry_run_said(tmp_path: Path) -> None:
    async def steps(keeper: ConfigKeeper, reload: Any, write: Any, d: Harness) -> dict[str, Any]:
        write(skew=40)
        dry = await keeper.dry_run()
        await reload()
        return {"dry": dry, "after": await keeper.dry_run()}

    out = scene(tmp_path, steps)
    assert [(v["name"], v["verdict"], v["changes"]) for v in out["dry"]["vips"]] == [
        ("web", "retuned", ["advskew 0 -> 40"])]
    assert "configuration reloaded: web retuned (advskew 0 -> 40)" in out["log"]
    assert out["after"]["noop"] is True  # what runs is now the file on disk
