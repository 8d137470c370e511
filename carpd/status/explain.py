"""`carpctl explain NAME`: one paragraph saying why a VIP is in its state on this node.

Owns: turning one VIP of the status document (carpd.driver.daemon / carpd.ops) into prose:
the state and since when, the reason in words, the master seen and what it advertises, our
effective advskew as base + each named demotion, and which checks fail and why.
Must not: compute anything the status document does not say (it is also what scripts read).
"""

from __future__ import annotations

from typing import Any

REASONS = {
    "configured": "it has not been started yet",
    "start": "carpd started it and it is waiting one master-down interval for a master",
    "master_down_timer": "no master was heard for a whole master-down interval",
    "preempted_slower_master": "it preempted a master that advertised a higher advskew",
    "master_going_to_time_out": "the master advertised an interval longer than our "
                                "master-down interval",
    "peer_bowed_out": "the master bowed out (advbase 255/advskew 255)",
    "preferred_master_heard": "a master with a lower advskew was heard",
    "equal_master_tie_break_lost": "a master with the same interval and a lower address (as "
                                   "ucarp compares them) was heard",
    "link_down": "its interface lost carrier",
    "link_up": "its interface got carrier back",
    "shutdown": "carpd is stopping it",
    "fault_cleared": "its failing fatal checks pass again",
}


def reason_text(reason: str) -> str:
    if reason in REASONS:
        return REASONS[reason]
    if reason.startswith("fault_check:"):
        return f"the fatal check {reason.removeprefix('fault_check:')} fails"
    if reason.startswith("fault_"):
        return f"the fault {reason.removeprefix('fault_')} is set"
    return reason


def explain(vip: dict[str, Any], *, maintenance: bool = False, ago: str = "") -> str:
    """The paragraph for one VIP of the status document."""
    parts = [_state(vip, ago), _master(vip), _skew(vip, maintenance), _checks(vip)]
    return " ".join(p for p in parts if p)


def _state(v: dict[str, Any], ago: str) -> str:
    since = f" since {v['since']}{f' ({ago} ago)' if ago else ''}"
    peer = f" (from {v['reason_peer']})" if v.get("reason_peer") else ""
    text = f"{v['name']} (vhid {v['vhid']} on {v['interface']}) is {v['state']}{since}, " \
           f"because {reason_text(v['reason'])}{peer}."
    if v.get("hold_down"):
        text += " carpd is still in its boot hold-down (advertising 240 more, not preempting)."
    return text


def _master(v: dict[str, Any]) -> str:
    master = v.get("master")
    if v["state"] == "MASTER":
        return "This node is the master and holds " + ", ".join(v["addresses"]) + "."
    if not master:
        return "No master is known right now."
    base, skew = v.get("master_advbase"), v.get("master_advskew")
    adv = f", advertising advbase {base} advskew {skew}" if base is not None else ""
    return f"The master is {master}{adv}."


def _skew(v: dict[str, Any], maintenance: bool) -> str:
    terms = [f"{v['advskew']} (advskew)"]
    terms += [f"{amount} ({name})" for name, amount in sorted(v.get("demotions", {}).items())]
    total = v["advskew"] + sum(v.get("demotions", {}).values())
    text = f"Our effective advskew is {v['effective_advskew']}"
    if len(terms) > 1:
        text += " = " + " + ".join(terms)
        if total != v["effective_advskew"]:
            text += " (capped at 254)" if total > 254 else ""
    if v.get("send_suppressed"):
        text += ", at least 240 after 3 failed sends"
    text += f"; preempt is {'on' if v.get('preempt') else 'off'}."
    if maintenance:
        text += " Maintenance mode is on (carpctl maintenance off ends it)."
    return text


def _checks(v: dict[str, Any]) -> str:
    checks = v.get("checks", [])
    if not checks:
        return ""
    failing = [c for c in checks if c["state"] == "failing"]
    others = [c for c in checks if c["state"] != "failing"]
    if not failing:
        return f"All {len(checks)} checks pass." if all(
            c["state"] == "passing" for c in checks) else "Checks: " + "; ".join(
            f"{c['name']} {c['state']}" for c in checks) + "."
    said = "; ".join(f"{c['name']} ({c['type']} {c['target']}, "
                     f"{'fatal' if c['fatal'] else 'weight ' + str(c['weight'])}): "
                     f"{c['detail'] or 'no detail'}" for c in failing)
    rest = f" Passing: {', '.join(c['name'] for c in others)}." if others else ""
    return f"Failing check{'s' if len(failing) > 1 else ''}: {said}.{rest}"
