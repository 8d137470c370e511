"""carpctl's side of `reload --dry-run`, `config` and the status note about the file on disk:
what is sent, what is printed, the exit codes (the daemon is replaced by canned replies)."""

from __future__ import annotations

from typing import Any

import pytest

from carpd import carpctl
from carpd.control.protocol import Request

STATUS = {"node": {"version": "1", "hostname": "web1", "uptime_s": 5}, "vips": []}


def run(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
        reply: dict[str, Any], *argv: str) -> tuple[int, str, str, list[Request]]:
    sent: list[Request] = []

    def fake(path: str, req: Request, timeout: float = 5.0) -> dict[str, Any]:
        sent.append(req)
        return reply

    monkeypatch.setattr(carpctl, "request", fake)
    code = carpctl.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err, sent


def test_dry_run_prints_the_plan(monkeypatch: pytest.MonkeyPatch,
                                 capsys: pytest.CaptureFixture[str]) -> None:
    reply = {"valid": True, "text": "dry run of ...:\nweb  unchanged\nnothing would change"}
    code, out, err, sent = run(monkeypatch, capsys, reply, "reload", "--dry-run")
    assert (code, out, err) == (0, reply["text"] + "\n", "")
    assert sent == [Request(cmd="reload", args={"dry_run": True})]


def test_dry_run_of_a_bad_file_prints_the_located_error_and_fails(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    reply = {"valid": False, "error": "/etc/carpd.toml:3: vip.web.vhid: must be 1..255",
             "text": "a reload would be refused: ..."}
    code, out, err, _ = run(monkeypatch, capsys, reply, "reload", "--dry-run")
    assert (code, out) == (carpctl.EXIT_REFUSED, "")
    assert err == "carpctl: a reload would be refused: /etc/carpd.toml:3: vip.web.vhid: must " \
                  "be 1..255\n"
    code, out, _, _ = run(monkeypatch, capsys, reply, "reload", "--dry-run", "--json")
    assert code == carpctl.EXIT_REFUSED and '"valid": false' in out


def test_reload_without_dry_run_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        carpctl.main(["reload"])
    assert exit_.value.code == 2 and "--dry-run" in capsys.readouterr().err


def test_config_prints_the_daemons_toml_or_its_json(monkeypatch: pytest.MonkeyPatch,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _, sent = run(monkeypatch, capsys, {"text": "[carpd]\n"}, "config")
    assert (code, out, sent) == (0, "[carpd]\n", [Request(cmd="config", args={"json": False})])
    code, out, _, sent = run(monkeypatch, capsys, {"path": "/etc/carpd.toml", "vips": []},
                             "config", "--json")
    assert code == 0 and '"path": "/etc/carpd.toml"' in out
    assert sent == [Request(cmd="config", args={"json": True})]


@pytest.mark.parametrize(("config", "note"), [
    (None, None),
    ({"on_disk": "same", "refused": None}, None),
    ({"on_disk": "changed", "refused": None},
     "config on disk differs from the running one (not reloaded; carpctl reload --dry-run "
     "shows what a reload would do)"),
    # a refused reload is one of the daemon's problems (tests/ops/test_configview.py): no note
    ({"on_disk": "changed", "refused_at": "not a time", "refused": "f:3: vip.web.vhid: bad"},
     None),
    ({"on_disk": "unreadable", "path": "/etc/carpd.toml"},
     "config file /etc/carpd.toml cannot be read (carpd runs what it loaded)"),
])
def test_status_notes_a_file_that_is_not_the_running_one(config: dict[str, Any] | None,
                                                         note: str | None) -> None:
    status = {**STATUS, **({} if config is None else {"config": config})}
    last = carpctl.render_table(status).splitlines()[-1]
    if note is None:
        assert last.startswith("NAME")  # nothing after the table
    else:
        assert last == note
