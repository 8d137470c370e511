"""Metrics in the Prometheus text exposition format, rendered from the status document.

Owns: `render(status) -> str`. Families (all prefixed carpd_): vip_state (one gauge per
state, 1 for the current one), advskew and effective_advskew, demotion{source}, transitions,
adverts sent/received, send errors, drops{reason} per VIP and per interface, anomalies{kind},
check_up (1 passing, 0 failing, -1 unknown) and check results{result}, unit_jobs{result}
(master-unit jobs by result), hold_down,
maintenance, uptime. Counters end in _total; labels are escaped as the format requires.
Why the status document (carpd.status.document): it is the one place every number is
already named for operators, so `carpctl status --json`, `carpctl metrics` and the textfile
never disagree. State names and check verdicts are the core's enums, in their order.
Must not: read the clock or touch files (the daemon writes the textfile through a port).
"""

from __future__ import annotations

from carpd.core.actions import CheckState, VhidState
from carpd.core.carp.election import MAX_ADVSKEW
from carpd.status.document import StatusDocument, VipStatus

STATES = tuple(state.value for state in VhidState)
CHECK_UP = {CheckState.PASSING: 1, CheckState.FAILING: 0}  # anything else: -1


def _escape(value: object) -> str:
    return str(value).replace("\\", r"\\").replace("\n", r"\n").replace('"', r"\"")


def _labels(**labels: object) -> str:
    return "{" + ",".join(f'{k}="{_escape(v)}"' for k, v in labels.items()) + "}"


class _Families:
    def __init__(self) -> None:
        self._order: list[str] = []
        self._meta: dict[str, tuple[str, str]] = {}
        self._samples: dict[str, list[str]] = {}

    def add(self, name: str, family_type: str, help_text: str, value: float,
            **labels: object) -> None:
        full = f"carpd_{name}"
        if full not in self._meta:
            self._order.append(full)
            self._meta[full] = (family_type, help_text)
            self._samples[full] = []
        shown = int(value) if float(value).is_integer() else value
        self._samples[full].append(f"{full}{_labels(**labels) if labels else ''} {shown}")

    def text(self) -> str:
        lines: list[str] = []
        for name in self._order:
            kind, help_text = self._meta[name]
            lines += [f"# HELP {name} {help_text}", f"# TYPE {name} {kind}", *self._samples[name]]
        return "\n".join(lines) + "\n"


def render(status: StatusDocument) -> str:
    f = _Families()
    f.add("uptime_seconds", "gauge", "Seconds since carpd started.", status.node.uptime_s)
    f.add("maintenance", "gauge", "1 while maintenance mode is on.",
          1 if status.maintenance is not None and status.maintenance.on else 0)
    for vip in status.vips:
        _vip(f, vip)
    for iface, drops in sorted((status.interface_drops or {}).items()):
        for reason, n in sorted(drops.items()):
            f.add("interface_drops_total", "counter", "Received packets dropped, by reason.",
                  n, interface=iface, reason=reason)
    return f.text()


def _vip(f: _Families, v: VipStatus) -> None:
    vip = v.name
    for state in STATES:
        f.add("vip_state", "gauge", "1 for the state the VIP is in.",
              1 if v.state.value == state else 0, vip=vip, vhid=v.vhid,
              interface=v.interface, state=state)
    if v.protocol == "vrrp3":
        f.add("priority", "gauge", "Configured VRRPv3 priority (VRRPv3 VIPs).",
              v.election.get("priority") or 0, vip=vip)
        f.add("effective_priority", "gauge", "Advertised VRRPv3 priority: priority minus "
              "demotions, at least 1 (VRRPv3 VIPs).", v.election.get("effective_priority") or 0,
              vip=vip)
    else:
        f.add("advskew", "gauge", "Configured advskew (CARP VIPs).", v.advskew or 0, vip=vip)
        f.add("effective_advskew", "gauge", "Advertised advskew: advskew plus demotions, at "
              f"most {MAX_ADVSKEW} (CARP VIPs).", v.effective_advskew or 0, vip=vip)
    for source, amount in sorted(v.demotions.items()):
        f.add("demotion", "gauge", "Each named demotion (CARP adds it to advskew, VRRPv3 "
              "subtracts it from the priority).", amount, vip=vip, source=source)
    f.add("hold_down", "gauge", "1 while the boot hold-down is active.",
          1 if v.hold_down else 0, vip=vip)
    _counters(f, v)
    for kind, n in sorted(v.anomalies.items()):
        f.add("anomalies_total", "counter", "Anomalies seen (dual master, foreign advert, "
              "check flapping).", n, vip=vip, kind=kind.value)
    _checks(f, v)
    for result, n in sorted(v.unit_jobs.items(), key=lambda kv: kv[0].value):
        f.add("unit_jobs_total", "counter", "Master-unit jobs, by result (done, failed, "
              "timeout, ...; queued: via systemctl, untracked).", n, vip=vip,
              result=result.value)


def _counters(f: _Families, v: VipStatus) -> None:
    c, vip = v.counters, v.name
    f.add("transitions_total", "counter", "State changes.", c.transitions, vip=vip)
    f.add("adverts_sent_total", "counter", "Adverts sent.", c.adverts_sent, vip=vip)
    f.add("adverts_received_total", "counter", "Valid adverts received.",
          c.adverts_received, vip=vip)
    f.add("send_errors_total", "counter", "Adverts that could not be sent.",
          c.send_errors, vip=vip)
    for reason, n in sorted(c.drops.items()):
        f.add("drops_total", "counter", "Packets for this VIP dropped, by reason.", n,
              vip=vip, reason=reason)


def _checks(f: _Families, v: VipStatus) -> None:
    for check in v.checks:
        labels = {"vip": v.name, "check": check.name, "type": check.type}
        f.add("check_up", "gauge", "1 passing, 0 failing, -1 no result yet.",
              CHECK_UP.get(check.state, -1), **labels)
        f.add("check_results_total", "counter", "Check results, by outcome.",
              check.results - check.failures - check.errors, **labels, result="pass")
        f.add("check_results_total", "counter", "Check results, by outcome.",
              check.failures, **labels, result="fail")
        f.add("check_results_total", "counter", "Check results, by outcome.",
              check.errors, **labels, result="error")
