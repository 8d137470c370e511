"""The control commands about the configuration file: `reload` (dry run), `config`, and the
`config` section that `status` gains.

Owns: `ConfigService`, what these commands need from the side that can read and load the
file (carpd.app.reloading implements it; ops never imports the loader), and `ConfigCommands`,
which answers them:
- `reload` with `dry_run: true`: the service loads the file on disk and plans the reload as a
  reload would (carpd.driver.preview); nothing is applied. It changes nothing, yet only a
  peer that may write may ask: it shows the file on disk, which may be readable by root only
  (anyone who may look sees what runs, in status and `config`). `dry_run: false` is refused
  with a pointer to `systemctl reload carpd`: applying goes through SIGHUP, one reload at a
  time;
- `config` (`json: true` for the JSON form): the running configuration, rendered by
  carpd.ops.configview, passwords only by where they come from;
- `status`: `config` tells whether the file on disk is the one running, and the last refused
  reload (when, and the loader's located error); a refused reload while the file on disk
  still differs from the running one is also a `config_refused` problem (carpd/status/
  problems.py), so `carpctl status` notes it and `status --check` fails until the file is
  fixed or reverted (a mere edit not reloaded yet is no problem).
Must not: load the file, read the clock, or apply a configuration.
"""

from __future__ import annotations

from typing import Any, Protocol

from carpd.control.protocol import Peer, ProtocolError, Request
from carpd.ops.configview import RunningConfig, render_json, render_toml
from carpd.status.problems import Problem, ProblemKind, clock, problem_json


class ConfigService(Protocol):
    async def dry_run(self) -> dict[str, Any]:
        """The plan of a reload of the file on disk, as the `reload` reply (never applied)."""

    def running(self) -> RunningConfig:
        """What the daemon runs now."""

    async def file_state(self) -> dict[str, Any]:
        """The `config` section of status: the file on disk against the running one."""


class ConfigCommands:
    def __init__(self, service: ConfigService) -> None:
        self._service = service

    async def reload(self, req: Request, peer: Peer | None) -> dict[str, Any]:
        if peer is not None and not peer.may_write:
            raise ProtocolError(f"permission denied: uid {peer.uid} may look at what runs but "
                                "not at the file on disk (root or the control socket's group "
                                "may)")
        if req.args.get("dry_run") is not True:
            raise ProtocolError("only a dry run is done through the control socket "
                                "(dry_run: true); apply with `systemctl reload carpd` "
                                "(SIGHUP)")
        return await self._service.dry_run()

    def config(self, req: Request) -> dict[str, Any]:
        running = self._service.running()
        if req.args.get("json") is True:
            return render_json(running)
        return {"text": render_toml(running)}

    async def status(self, document: dict[str, Any]) -> dict[str, Any]:
        state = await self._service.file_state()
        found = list(document.get("problems", []))
        if state.get("refused") and state.get("on_disk") != "same":
            found.append(problem_json(Problem(
                kind=ProblemKind.CONFIG_REFUSED, vip=None,
                text=f"config on disk differs from the running one (reload refused at "
                     f"{clock(state.get('refused_at'))}: {state['refused']})")))
        return {**document, "config": state, "problems": found}
