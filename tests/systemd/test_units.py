"""carpd as operators run it: the .deb on two real systemd servers (tests/systemd/sdlab.py).

The tests run in file order and share the pair: each one leaves it in the steady state
(web MASTER on a, mail MASTER on b) for the next. Root only; skipped otherwise. Bounded:
every wait has a deadline, the whole module takes about a minute.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from carpd.driver.reload import RELOAD_REFUSED, RELOADED
from carpd.status.messages import STATE_CHANGED
from tests.systemd.conftest import install, lab_skip_reason
from tests.systemd.sdlab import SdLab, Server

pytestmark = pytest.mark.skipif(lab_skip_reason() is not None,
                                reason=lab_skip_reason() or "")

WEB, MAIL = "192.0.2.100/24", "192.0.2.101/24"
PASSWORD = "lab-secret-19b"
MASTER_DOWN = 3 + 100 / 256  # advbase 1 * deadratio 3 + advskew 100/256 of the backup
MARGIN = 1.5
EXPOSURE_TARGET = 2.5
DEMO = "carpd-web-demo.service"
CARPD = "carpd.service"
EXAMPLES = "/usr/share/doc/carpd/examples/systemd/system"

CONF = """\
[defaults]
interface = "eth0"
{password}

[vip.web]
vhid = 1
address = "{web}"
advskew = {web_skew}

[vip.mail]
vhid = 2
address = "{mail}"
advskew = {mail_skew}
"""


def conf(web_skew: int, mail_skew: int, *, vhid_web: int = 1,
         password: str = 'password_file = "/etc/carpd/carp.key"') -> str:
    text = CONF.format(password=password, web=WEB, mail=MAIL, web_skew=web_skew,
                       mail_skew=mail_skew)
    return text.replace("vhid = 1", f"vhid = {vhid_web}")


def wait_for(what: str, predicate: Callable[[], object], timeout: float,
             interval: float = 0.05) -> float:
    """Poll until true; returns the seconds it took, fails naming `what` on timeout."""
    t0 = time.monotonic()
    while True:
        if predicate():
            return time.monotonic() - t0
        if time.monotonic() - t0 > timeout:
            pytest.fail(f"timed out after {timeout:.1f} s waiting for: {what}")
        time.sleep(interval)


def states(s: Server) -> dict[str, str]:
    proc = s.run("carpctl", "status", "--json", check=False)
    if proc.returncode != 0:
        return {}
    return {v["name"]: v["state"] for v in json.loads(proc.stdout)["vips"]}


def active(s: Server, unit: str) -> str:
    return s.run("systemctl", "is-active", unit, check=False).stdout.strip()


def show(s: Server, unit: str, prop: str) -> str:
    return s.run("systemctl", "show", "-p", prop, "--value", unit).stdout.strip()


def cursor(s: Server) -> str:
    out = s.run("journalctl", "-n", "0", "--show-cursor", "--no-pager").stdout
    return out.strip().rsplit("-- cursor: ", 1)[1]


def records(s: Server, after: str | None = None, **match: str) -> list[dict[str, Any]]:
    """Journal entries (after the cursor) whose fields equal `match`. Filtered here, not by
    journalctl: systemd 252's --after-cursor finds nothing when combined with matches."""
    argv = ["journalctl", "--no-pager", "-o", "json"]
    argv += [f"--after-cursor={after}"] if after else [f"{k}={v}" for k, v in match.items()]
    out = s.run(*argv).stdout
    found = [json.loads(line) for line in out.splitlines() if line.strip()]
    return [r for r in found if all(r.get(k) == v for k, v in match.items())]


def log_after(s: Server, after: str) -> str:
    """The messages of carpd.service (its own and systemd's about it) after the cursor."""
    return "\n".join(str(r.get("MESSAGE", "")) for r in records(s, after)
                     if CARPD in (r.get("_SYSTEMD_UNIT"), r.get("UNIT")))


def steady(lab: SdLab, timeout: float = 10.0) -> None:
    """web MASTER on a, mail MASTER on b, and each master target only where its VIP is."""
    a, b = lab.servers["a"], lab.servers["b"]
    wait_for("web MASTER on a, mail MASTER on b", lambda: (
        states(a) == {"web": "MASTER", "mail": "BACKUP"}
        and states(b) == {"web": "BACKUP", "mail": "MASTER"}), timeout)
    wait_for("master targets and the demo service follow the VIPs", lambda: (
        active(a, "carpd-master@web.target") == "active" == active(b, "carpd-master@mail.target")
        and active(b, "carpd-master@web.target") != "active"
        and active(a, "carpd-master@mail.target") != "active"
        and active(a, DEMO) == "active" and active(b, DEMO) != "active"), 5.0)


@dataclass
class Pair:
    lab: SdLab
    a: Server
    b: Server


@pytest.fixture(scope="module")
def pair(lab: SdLab) -> Iterator[Pair]:
    """Crossed-priority configs, the demo service installed, `systemctl enable --now carpd`."""
    a, b = lab.servers["a"], lab.servers["b"]
    for s, (web_skew, mail_skew) in ((a, (0, 100)), (b, (100, 0))):
        s.write("/etc/carpd/carp.key", PASSWORD + "\n", 0o600)
        s.write("/etc/carpd.toml", conf(web_skew, mail_skew))
        s.run("cp", f"{EXAMPLES}/{DEMO}", "/etc/systemd/system/")
        s.run("systemctl", "daemon-reload")
        s.run("systemctl", "enable", DEMO)
        s.run("systemctl", "reset-failed", "carpd", check=False)
        s.run("systemctl", "enable", "--now", "carpd", timeout=60)
    steady(lab, timeout=10)
    yield Pair(lab, a, b)


# -- the package --------------------------------------------------------------------------

def test_package_installs_but_starts_nothing_until_configured(lab: SdLab) -> None:
    a = lab.servers["a"]
    assert "install ok installed" in a.run("dpkg-query", "-W", "-f=${Status}", "carpd").stdout
    # its dependencies are Debian 12's own packages: pyroute2 0.7.2 (no AsyncIPRoute)
    pyroute2 = a.run("dpkg-query", "-W", "-f=${Version}", "python3-pyroute2").stdout
    assert pyroute2.startswith("0.7.2"), pyroute2
    assert a.run("python3", "-c", "import pyroute2; print(hasattr(pyroute2, 'AsyncIPRoute'))"
                 ).stdout.strip() == "False"  # so carpd's netlink adapter runs its thread path
    assert a.run("dpkg-query", "-W", "-f=${Status}", "python3-systemd").stdout.endswith(
        "installed")
    for path in ("/usr/sbin/carpd", "/usr/sbin/carpctl", "/lib/systemd/system/carpd.service",
                 "/lib/systemd/system/carpd-master@.target", "/etc/carpd.toml",
                 "/usr/lib/systemd/catalog/carpd.catalog", "/usr/share/man/man8/carpd.8.gz",
                 "/usr/share/man/man8/carpctl.8.gz", "/usr/share/man/man5/carpd.toml.5.gz"):
        a.run("test", "-e", path)
    assert "/etc/carpd.toml" in a.run("dpkg-query", "-W", "-f=${Conffiles}", "carpd").stdout
    assert active(a, "carpd") == "inactive"
    assert a.run("systemctl", "is-enabled", "carpd", check=False).stdout.strip() == "disabled"
    check = a.run("carpd", "--check", check=False)
    assert check.returncode == 2
    assert "no [vip.NAME] table: at least one VIP is required" in check.stderr
    # started by mistake while unconfigured: one clear failure, no restart loop
    assert a.run("systemctl", "start", "carpd", check=False).returncode != 0
    time.sleep(1.5)  # RestartSec=200ms: a restart would have happened by now
    assert show(a, "carpd", "NRestarts") == "0"
    assert active(a, "carpd") == "failed"
    log = a.run("journalctl", "-u", "carpd", "-o", "cat", "--no-pager").stdout
    assert "/etc/carpd.toml: vip: no [vip.NAME] table" in log
    a.run("systemctl", "reset-failed", "carpd")
    # the catalog is installed and compiled (journalctl -x explains transitions)
    assert "carpd: VIP" in a.run("journalctl", "--list-catalog", STATE_CHANGED).stdout + \
        a.run("journalctl", "--dump-catalog", STATE_CHANGED).stdout


# -- the pair comes up --------------------------------------------------------------------

def test_pair_runs_crossed_masters(pair: Pair) -> None:
    a, b, lab = pair.a, pair.b, pair.lab
    for s in (a, b):
        assert active(s, "carpd") == "active"
    doc = json.loads(a.run("carpctl", "status", "--json").stdout)
    web = next(v for v in doc["vips"] if v["name"] == "web")
    assert (web["state"], web["vhid"], web["addresses"], web["master"]) == (
        "MASTER", 1, [WEB], a.ip)
    doc_b = json.loads(b.run("carpctl", "status", "--json").stdout)
    assert {v["name"]: (v["state"], v["master"]) for v in doc_b["vips"]} == {
        "web": ("BACKUP", a.ip), "mail": ("MASTER", b.ip)}
    assert WEB in lab.addresses("a") and MAIL not in lab.addresses("a")
    assert MAIL in lab.addresses("b") and WEB not in lab.addresses("b")
    status = a.run("systemctl", "status", "carpd", "--no-pager", check=False).stdout
    assert 'Status: "2 VIPs: web MASTER, mail BACKUP"' in status
    assert 'Status: "2 VIPs: web BACKUP, mail MASTER"' in b.run(
        "systemctl", "status", "carpd", "--no-pager", check=False).stdout
    recs = records(a, _SYSTEMD_UNIT=CARPD, CARP_NAME="web")
    changes = [(r["CARP_PREV_STATE"], r["CARP_STATE"]) for r in recs
               if r.get("MESSAGE_ID") == STATE_CHANGED]
    assert ("INIT", "BACKUP") in changes and ("BACKUP", "MASTER") in changes
    master = next(r for r in recs if r.get("CARP_STATE") == "MASTER")
    assert master["CARP_VHID"] == "1" and master["CARP_INTERFACE"] == "eth0"
    assert master["CARP_REASON"] in ("master_down_timer", "preempted_slower_master")
    explained = a.run("journalctl", "-x", "--no-pager", "-u", "carpd", "CARP_NAME=web",
                      "CARP_STATE=MASTER").stdout
    assert "Subject: carpd: VIP web is now MASTER (was BACKUP)" in explained


def test_password_never_leaks(pair: Pair) -> None:
    for s in (pair.a, pair.b):
        assert PASSWORD not in s.sh("cat /proc/[0-9]*/cmdline | tr '\\0' ' '").stdout
        assert PASSWORD not in s.run("journalctl", "-b", "--no-pager", "-o", "verbose").stdout
        assert PASSWORD not in s.run("carpctl", "status", "--json").stdout
        assert PASSWORD not in s.run("systemctl", "status", "carpd", "--no-pager",
                                     check=False).stdout


def test_carpctl_version_and_bash_completion_from_the_package(pair: Pair) -> None:
    a = pair.a
    assert a.run("carpctl", "--version").stdout == "carpctl 0.1.0\n"
    script = ("source /usr/share/bash-completion/completions/carpctl; "
              "COMP_WORDS=(carpctl explain ''); COMP_CWORD=2; _carpctl_bash; "
              "printf '%s\\n' \"${COMPREPLY[@]}\"")
    assert sorted(a.run("bash", "--norc", "-c", script).stdout.split()) == ["mail", "web"]
    assert "maintenance mode off" in a.run("carpctl", "maintenance").stdout


def test_dependent_service_follows_the_vip(pair: Pair) -> None:
    a, b = pair.a, pair.b
    assert active(a, DEMO) == "active" and active(b, DEMO) == "inactive"
    # served on the VIP, from the master, as a client on the other server sees it
    got = b.run("python3", "-c", "import urllib.request as u; print(u.urlopen("
                "'http://192.0.2.100:8080/', timeout=3).status)").stdout.strip()
    assert got == "200"


# -- failures -----------------------------------------------------------------------------

def test_sigkill_of_the_master_leaves_no_stale_vip(pair: Pair) -> None:
    a, b, lab = pair.a, pair.b, pair.lab
    pid = show(a, "carpd", "MainPID")
    restarts = int(show(a, "carpd", "NRestarts"))
    mark_b = cursor(b)
    t0 = time.monotonic()
    a.run("kill", "-KILL", pid)
    wait_for("VIPs removed from a by ExecStopPost", lambda: WEB not in lab.addresses("a"),
             timeout=5, interval=0.01)
    gone = time.monotonic() - t0
    print(f"stale VIP gone from a {gone:.3f} s after SIGKILL")  # ~0.25 s on an idle machine
    # the bound that matters: gone before b can take over (no moment with the VIP on both);
    # `carpd --cleanup` is a Python start, which a loaded 2-core machine slows past 1 s
    assert gone < MASTER_DOWN
    took = wait_for("b takes web over", lambda: any(
        r.get("CARP_STATE") == "MASTER"
        for r in records(b, mark_b, _SYSTEMD_UNIT=CARPD, CARP_NAME="web")),
                    MASTER_DOWN + MARGIN)
    print(f"b MASTER for web {took + gone:.2f} s after the SIGKILL")
    # the target is started by a job carpd queues right after the transition: wait for it,
    # unless a's restarted carpd preempted web back first (a loaded machine can delay the
    # job past that): then the latest state wins and the start never runs (steady() below
    # checks that b's target is stopped either way)
    reached = wait_for("b reached carpd-master@web.target, or gave web back first", lambda: any(
        "Reached target" in r.get("MESSAGE", "")
        for r in records(b, mark_b, UNIT="carpd-master@web.target")) or any(
        r.get("CARP_PREV_STATE") == "MASTER"
        for r in records(b, mark_b, _SYSTEMD_UNIT=CARPD, CARP_NAME="web")), 5)
    print(f"b's target reached, or web given back, {reached:.2f} s after b's takeover")
    wait_for("systemd restarted carpd on a", lambda: (
        active(a, "carpd") == "active" and show(a, "carpd", "MainPID") not in (pid, "0")), 10)
    assert int(show(a, "carpd", "NRestarts")) == restarts + 1
    log = a.run("journalctl", "-u", "carpd", "-o", "cat", "--no-pager", "-n", "40").stdout
    assert "cleanup: removed stale VIP 192.0.2.100/24 of vip web" in log
    steady(lab, timeout=10)  # preempt: web comes back to a, b's target stops


def test_power_off_and_boot_again(pair: Pair) -> None:
    a, b, lab = pair.a, pair.b, pair.lab
    t0 = time.monotonic()
    a.poweroff()
    wait_for("b holds both VIPs and both master targets", lambda: (
        states(b) == {"web": "MASTER", "mail": "MASTER"}
        and WEB in lab.addresses("b") and MAIL in lab.addresses("b")
        and active(b, "carpd-master@web.target") == "active"
        and active(b, "carpd-master@mail.target") == "active"
        and active(b, DEMO) == "active"), MASTER_DOWN + MARGIN)
    print(f"b holds both VIPs {time.monotonic() - t0:.2f} s after a's power-off began")
    assert WEB not in lab.addresses("a")  # a released it when it shut down
    mark_b = cursor(b)
    boot = a.boot()
    print(f"a booted again in {boot:.2f} s")
    assert a.run("systemctl", "is-enabled", "carpd").stdout.strip() == "enabled"
    steady(lab, timeout=3 + MASTER_DOWN + 2 * MARGIN)
    left = records(b, mark_b, CARP_NAME="web", MESSAGE_ID=STATE_CHANGED)
    assert [(r["CARP_PREV_STATE"], r["CARP_STATE"]) for r in left] == [("MASTER", "BACKUP")]
    assert left[0]["CARP_PEER"] == a.ip


# -- reload -------------------------------------------------------------------------------

def test_reload_changing_only_mail_leaves_web_untouched(pair: Pair) -> None:
    a = pair.a
    pid = show(a, "carpd", "MainPID")
    target = show(a, "carpd-master@web.target", "InvocationID")
    demo = show(a, DEMO, "InvocationID")
    mark = cursor(a)
    a.write("/etc/carpd.toml", conf(0, 50))
    a.run("systemctl", "reload", "carpd")
    wait_for("the reload record", lambda: records(a, mark, MESSAGE_ID=RELOADED), 5)
    rec = records(a, mark, MESSAGE_ID=RELOADED)[0]
    assert rec["MESSAGE"] == ("configuration reloaded: mail retuned (advskew 100 -> 50); "
                              "web unchanged")
    assert rec["CARP_RELOAD_UNCHANGED"] == "web" and rec["CARP_RELOAD_RETUNED"] == "mail"
    assert rec.get("CARP_RELOAD_CHANGED", "") == ""
    time.sleep(1.0)  # anything that would flap has flapped by now
    assert not records(a, mark, CARP_NAME="web", MESSAGE_ID=STATE_CHANGED)
    assert not records(a, mark, CARP_NAME="mail", MESSAGE_ID=STATE_CHANGED)  # retuned in place
    assert show(a, "carpd-master@web.target", "InvocationID") == target
    assert show(a, DEMO, "InvocationID") == demo
    assert show(a, "carpd", "MainPID") == pid
    doc = json.loads(a.run("carpctl", "status", "mail", "--json").stdout)
    assert (doc["vips"][0]["advskew"], doc["vips"][0]["state"]) == (50, "BACKUP")
    steady(pair.lab, timeout=3)


def test_invalid_file_is_refused_and_the_old_config_keeps_running(pair: Pair) -> None:
    a = pair.a
    pid = show(a, "carpd", "MainPID")
    mark = cursor(a)
    a.write("/etc/carpd.toml", conf(0, 50, vhid_web=300))
    reload = a.run("systemctl", "reload", "carpd", check=False)
    assert reload.returncode != 0  # ExecReload's check failed: the operator sees it at once
    assert "/etc/carpd.toml:6: vip.web.vhid: 300 is out of range" in log_after(a, mark)
    # a SIGHUP that bypasses the unit's check: carpd refuses the file itself
    a.run("kill", "-HUP", pid)
    wait_for("the refusal record", lambda: records(a, mark, MESSAGE_ID=RELOAD_REFUSED), 5)
    refused = records(a, mark, MESSAGE_ID=RELOAD_REFUSED)[0]["MESSAGE"]
    assert refused == ("reload refused, still running the previous configuration: "
                       "/etc/carpd.toml:6: vip.web.vhid: 300 is out of range: must be an "
                       "integer 1..255")
    assert active(a, "carpd") == "active" and show(a, "carpd", "MainPID") == pid
    assert show(a, "carpd", "StatusText") == "2 VIPs: web MASTER, mail BACKUP"
    assert not records(a, mark, MESSAGE_ID=STATE_CHANGED)
    a.write("/etc/carpd.toml", conf(0, 100))
    a.run("systemctl", "reload", "carpd")
    steady(pair.lab, timeout=3)


def test_watchdog_restarts_a_wedged_event_loop(pair: Pair) -> None:
    b = pair.b
    b.run("mkdir", "-p", "/etc/systemd/system/carpd.service.d")
    b.write("/etc/systemd/system/carpd.service.d/test-hooks.conf",
            "[Service]\nEnvironment=CARPD_TEST_HOOKS=1\n")
    b.run("systemctl", "daemon-reload")
    b.run("systemctl", "restart", "carpd")
    steady(pair.lab, timeout=MASTER_DOWN + 3 * MARGIN)
    pid = show(b, "carpd", "MainPID")
    restarts = int(show(b, "carpd", "NRestarts"))
    mark = cursor(b)
    b.run("kill", "-USR2", pid)  # CARPD_TEST_HOOKS=1: the loop blocks in time.sleep(3600)
    took = wait_for("systemd's watchdog restarts carpd", lambda: (
        show(b, "carpd", "MainPID") not in (pid, "0") and active(b, "carpd") == "active"), 15)
    print(f"watchdog restart {took:.2f} s after the loop was wedged (WatchdogSec=5s)")
    # the last ping was at most WatchdogSec/2 before the wedge: the kill comes 2.5..5 s later
    assert took >= 2.5
    assert "carpd.service: Watchdog timeout" in log_after(b, mark)
    assert int(show(b, "carpd", "NRestarts")) == restarts + 1
    b.run("rm", "/etc/systemd/system/carpd.service.d/test-hooks.conf")
    b.run("systemctl", "daemon-reload")
    steady(pair.lab, timeout=MASTER_DOWN + 3 * MARGIN)


# -- hardening and secrets ----------------------------------------------------------------

def test_security_exposure_is_at_most_the_target(pair: Pair) -> None:
    out = pair.a.run("systemd-analyze", "security", "carpd.service", "--no-pager").stdout
    score = float(re.search(r"Overall exposure level for carpd\.service: ([\d.]+)",
                            out).group(1))  # type: ignore[union-attr]
    kept = [line.split("  ")[0] for line in out.splitlines() if line.startswith("✗")]
    print(f"systemd-analyze security carpd.service: exposure {score} "
          f"(target <= {EXPOSURE_TARGET}); not applied: {'; '.join(kept)}")
    assert score <= EXPOSURE_TARGET


def test_password_from_a_systemd_credential(pair: Pair) -> None:
    a = pair.a
    a.run("mkdir", "-p", "/etc/systemd/system/carpd.service.d")
    a.run("cp", f"{EXAMPLES}/carpd.service.d/credential.conf",
          "/etc/systemd/system/carpd.service.d/")
    a.write("/etc/carpd.toml", conf(0, 100, password='password_credential = "carp"'))
    a.run("systemctl", "daemon-reload")
    mark = cursor(a)
    a.run("systemctl", "restart", "carpd")
    steady(pair.lab, timeout=MASTER_DOWN + 3 * MARGIN)
    assert "password from credential carp" in log_after(a, mark)
    environ = a.sh("tr '\\0' '\\n' < /proc/$(systemctl show -p MainPID --value carpd)/environ")
    assert "CREDENTIALS_DIRECTORY=" in environ.stdout and PASSWORD not in environ.stdout


def test_upgrade_restarts_a_running_carpd_and_keeps_the_config(pair: Pair, deb: Path) -> None:
    a = pair.a
    pid = show(a, "carpd", "MainPID")
    before = a.run("cat", "/etc/carpd.toml").stdout
    install(a, deb, again=True)  # as an upgrade: postinst configure runs with $2 set
    assert a.run("cat", "/etc/carpd.toml").stdout == before  # the conffile stays the operator's
    wait_for("carpd restarted by the upgrade", lambda: show(a, "carpd", "MainPID") not in (
        pid, "0") and active(a, "carpd") == "active", 10)
    steady(pair.lab, timeout=MASTER_DOWN + 3 * MARGIN)


def test_removing_the_package_stops_carpd_and_hands_over(pair: Pair) -> None:
    a, b, lab = pair.a, pair.b, pair.lab
    t0 = time.monotonic()
    b.run("env", "DEBIAN_FRONTEND=noninteractive", "apt-get", "remove", "-y", "carpd",
          timeout=120)
    assert active(b, "carpd") in ("inactive", "unknown")
    assert MAIL not in lab.addresses("b") and WEB not in lab.addresses("b")
    assert active(b, "carpd-master@mail.target") != "active"
    wait_for("a takes mail over", lambda: states(a) == {"web": "MASTER", "mail": "MASTER"},
             MASTER_DOWN + MARGIN)
    print(f"a holds mail {time.monotonic() - t0:.2f} s after `apt remove carpd` began on b")
