"""`carpctl config`'s renderings (carpd.ops.configview) and the routing of the configuration's
commands (carpd.ops.configcmds): what runs, written as a file would be, and never a password."""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import ipaddress
import json
from pathlib import Path
from typing import Any

import pytest

from carpd.config.loader import load_config
from carpd.config.written import written_keys
from carpd.control.protocol import Peer, ProtocolError, Request
from carpd.core.params import CheckParams, Secret, VipParams
from carpd.ops.configcmds import ConfigCommands
from carpd.ops.configview import RunningConfig, render_json, render_toml

SECRET = "Zq7-s3cret-!\"\\"  # distinctive, with characters TOML would have to escape
FILE = """\
[carpd]
control_socket = "{dir}/carpd.sock"
nodes = ["web1", "web2"]

[defaults]
interface = "eth0"
password_file = "{dir}/carp.key"

[vip.web]
vhid = 1
addresses = ["172.16.90.31/24", "2001:db8:90::31/64"]
advskew = {{ web1 = 0, web2 = 100 }}
master_units = ["nginx.service"]

[[vip.web.check]]
type = "http"
url = "http://127.0.0.1/"
weight = 120

[[vip.web.check]]
type = "exec"
command = ["/bin/true", "--x"]
fatal = true

[vip.mail]
vhid = 2
address = "172.16.90.32/24"
source = "172.16.90.101"
password = "{secret}"

[vip.api]
protocol = "vrrp3"
vrid = 51
address = "172.16.90.51/24"
priority = {{ web1 = 150, web2 = 100 }}
advert_interval = 0.1
"""


@pytest.fixture
def loaded(tmp_path: Path) -> RunningConfig:
    key = tmp_path / "carp.key"
    key.write_text(SECRET + "\n")
    key.chmod(0o600)
    text = FILE.format(dir=tmp_path, secret=SECRET.replace("\\", "\\\\").replace('"', '\\"'))
    (tmp_path / "carpd.toml").write_text(text)
    config = load_config(tmp_path / "carpd.toml", node="web2")
    web = dataclasses.replace(config.vips[0], source=ipaddress.IPv4Address("172.16.90.102"))
    vips = (web, *config.vips[1:])
    return RunningConfig(path=config.path, vips=vips, node=config.node,
                         keys={v.name: written_keys(v) for v in vips},
                         carpd={"control_socket": config.control_socket,
                                "state_directory": config.state_directory,
                                "metrics_textfile": None, "nodes": config.nodes},
                         password_sources=config.password_sources,
                         auto=frozenset({("web", "source")}))


def leaks(text: str) -> list[str]:
    raw = SECRET.encode()
    forms = [SECRET, raw.hex(), base64.b64encode(raw).decode(), json.dumps(SECRET)[1:-1]]
    return [form for form in forms if form in text]


def test_toml_shows_what_runs_with_defaults_and_the_password_origin(
        loaded: RunningConfig, tmp_path: Path) -> None:
    text = render_toml(loaded)
    assert leaks(text) == []
    web = text.split("[vip.web]\n", 1)[1].split("\n\n", 1)[0].splitlines()
    assert web[:6] == ['interface = "eth0"', 'protocol = "carp"', "vhid = 1",
                       'addresses = ["172.16.90.31/24", "2001:db8:90::31/64"]',
                       "advbase = 1", "advskew = 100"]  # node web2's value
    assert "priority" not in "\n".join(web)  # only the keys of its protocol
    assert 'source = "172.16.90.102"  # "auto", resolved' in web
    assert 'source6 = "auto"' in web and 'na_router = "auto"' in web
    assert "upscript" not in text  # None, as a file leaves it out
    assert web[-1] == f'password_file = "{tmp_path}/carp.key"'
    assert f"# password: written inline in {loaded.path} (not shown)" in text
    assert text.count("[[vip.web.check]]") == 2 and 'command = ["/bin/true", "--x"]' in text
    assert "# the configuration carpd runs, loaded from " in text and "for node web2" in text
    assert 'nodes = ["web1", "web2"]' in text and "metrics_textfile" not in text


def test_toml_loads_back_to_the_running_vips(loaded: RunningConfig, tmp_path: Path) -> None:
    path = tmp_path / "again.toml"
    path.write_text(render_toml(loaded).replace("# password: written inline",
                                                f'password_file = "{tmp_path}/carp.key" #'))
    again = load_config(path, node="web2")
    assert again.vips == loaded.vips  # every setting, the checks and the password included
    api = render_toml(loaded).split("[vip.api]\n", 1)[1].splitlines()
    assert api[:4] == ['interface = "eth0"', 'protocol = "vrrp3"', "vrid = 51",
                       'addresses = ["172.16.90.51/24"]']
    assert "priority = 100" in api and "advert_interval = 0.1" in api
    assert not any(line.startswith(("advskew", "password")) for line in api)
    assert again.control_socket == loaded.carpd["control_socket"]


def test_json_names_the_password_by_origin(loaded: RunningConfig, tmp_path: Path) -> None:
    doc = render_json(loaded)
    assert leaks(json.dumps(doc)) == []
    web, mail, api = doc["vips"]
    assert api["priority"] == 100 and "password" not in api  # VRRPv3 has none
    assert web["password"] == {"from": f"file {tmp_path}/carp.key"}
    assert mail["password"] == {"from": "inline"}
    assert web["advskew"] == 100 and web["addresses"] == ["172.16.90.31/24",
                                                          "2001:db8:90::31/64"]
    assert [c["name"] for c in web["check"]] == ["http-127.0.0.1", "true"]
    assert web["check"][1]["fatal"] is True and "weight" not in web["check"][1]
    assert doc["node"] == "web2" and doc["carpd"]["nodes"] == ["web1", "web2"]


def test_a_credential_is_named_and_any_secret_stays_hidden() -> None:
    check = CheckParams(name="c", type="tcp", weight=5, host="::1", port=1)
    vip = VipParams(name="x", vhid=9, interface="eth0", password=Secret(SECRET.encode()),
                    addresses=(ipaddress.IPv4Interface("10.0.0.9/24"),), checks=(check,))
    running = RunningConfig(path="/etc/carpd.toml", vips=(vip,), keys={},
                            password_sources={"x": "credential carp"})
    text = render_toml(running)
    assert 'password_credential = "carp"' in text and leaks(text) == []
    assert leaks(json.dumps(render_json(running))) == []


class FakeService:
    def __init__(self, running: RunningConfig) -> None:
        self._running = running

    async def dry_run(self) -> dict[str, Any]:
        return {"valid": True, "text": "planned"}

    def running(self) -> RunningConfig:
        return self._running

    async def file_state(self) -> dict[str, Any]:
        return {"on_disk": "changed"}


def test_commands_route_dry_run_config_and_the_status_section(loaded: RunningConfig) -> None:
    commands = ConfigCommands(FakeService(loaded))
    dry = Request(cmd="reload", args={"dry_run": True})
    writer = Peer(pid=1, uid=0, gid=0, may_write=True)
    assert asyncio.run(commands.reload(dry, writer)) == {"valid": True, "text": "planned"}
    with pytest.raises(ProtocolError, match="systemctl reload carpd"):
        asyncio.run(commands.reload(Request(cmd="reload"), None))
    with pytest.raises(ProtocolError, match="permission denied: uid 1000 may look at what "
                       "runs but not at the file on disk"):
        asyncio.run(commands.reload(dry, Peer(pid=2, uid=1000, gid=1000, may_write=False)))
    assert commands.config(Request(cmd="config"))["text"] == render_toml(loaded)
    assert commands.config(Request(cmd="config", args={"json": True})) == render_json(loaded)
    assert asyncio.run(commands.status({"vips": [], "problems": []})) == {
        "vips": [], "config": {"on_disk": "changed"}, "problems": []}


@pytest.mark.parametrize(("on_disk", "problem"), [("changed", True), ("same", False)])
def test_a_refused_reload_is_a_problem_while_the_file_still_differs(
        loaded: RunningConfig, on_disk: str, problem: bool) -> None:
    state = {"on_disk": on_disk, "refused_at": "2027-01-15T08:00:00.000+00:00",
             "refused": "/etc/carpd.toml:3: vip.web.vhid: bad"}

    class Refused(FakeService):
        async def file_state(self) -> dict[str, Any]:
            return state

    maintenance = {"kind": "maintenance", "vip": None, "text": "maintenance mode on"}
    doc = asyncio.run(ConfigCommands(Refused(loaded)).status({"problems": [maintenance]}))
    assert doc["config"] == state
    assert doc["problems"] == [maintenance] + ([{
        "kind": "config_refused", "vip": None,
        "text": "config on disk differs from the running one (reload refused at 2027-01-15 "
                "08:00:00 UTC: /etc/carpd.toml:3: vip.web.vhid: bad)"}] if problem else [])
