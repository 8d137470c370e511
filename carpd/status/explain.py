"""`carpctl explain NAME`: one paragraph saying why a VIP is in its state on this node.

Owns: turning one VipStatus of the status document (carpd.status.document) into prose: the
state and since when, the reason in words, the master seen and what it advertises, our
effective advskew as base + each named demotion, which checks fail and why, who else claims
the VIP (a dual master: its address, what it advertises, since when, whether it still does)
or sends foreign adverts on our VHID, and, for a takeover, the master it lost and when that
was last heard (from the last transition's record, carpd/status/transitions.py), and which
master unit's last job failed (or that unit jobs fell back to systemctl). The numbers
it names (the hold-down's 240, the cap of 254, the send-error rule) come from the core.
Must not: compute anything the status document does not say (it is also what scripts read).
"""

from __future__ import annotations

from carpd.core.actions import AnomalyKind, CheckState, VhidState
from carpd.core.carp.election import MAX_ADVSKEW, SEND_ERROR_SKEW
from carpd.core.effects import SEND_ERRORS_TO_SUPPRESS
from carpd.core.profile import HOLD_DOWN_DEMOTION
from carpd.status.document import AnomalyPeerStatus, CheckStatus, VipStatus
from carpd.status.problems import claim_text, clock, current, seen_text
from carpd.status.transitions import TransitionRecord

REASONS = {
    "configured": "it has not been started yet",
    "start": "carpd started it and it is waiting one master-down interval for a master",
    "master_down_timer": "no master was heard for a whole master-down interval",
    "master_down_timer_inet6": "no IPv6 advert of the master was heard for a whole "
                               "master-down interval (IPv6 multicast filtered, or the master "
                               "is gone)",
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
    "fault_foreign_address": "an address equal to the VIP that carpd did not add is on its "
                             "interface (carpd neither takes nor removes it; see the journal)",
}


def reason_text(reason: str) -> str:
    if reason in REASONS:
        return REASONS[reason]
    if reason.startswith("fault_check:"):
        return f"the fatal check {reason.removeprefix('fault_check:')} fails"
    if reason.startswith("fault_"):
        return f"the fault {reason.removeprefix('fault_')} is set"
    return reason


def explain(vip: VipStatus, *, maintenance: bool = False, ago: str = "",
            now: float | None = None, last: TransitionRecord | None = None) -> str:
    """The paragraph for one VIP of the status document; `now` (the monotonic instant the
    document's `*_at` are in) adds who else claims the VIP, `last` (its last transition) the
    master a takeover lost."""
    parts = [_state(vip, ago), _takeover(vip, last), _master(vip)]
    if now is not None:
        parts += [_claim(vip, p, now) for p in vip.anomaly_peers]
    parts += [_path(vip), _forms(vip), _skew(vip, maintenance), _checks(vip), _units(vip)]
    return " ".join(p for p in parts if p)


def _takeover(v: VipStatus, last: TransitionRecord | None) -> str:
    if last is None or not last.took_over or v.state is not VhidState.MASTER:
        return ""
    before = last.last_heard_before_s
    gap = "" if before is None else f", {before:.1f} s before"
    return (f"It took over from {last.master_before}, whose last advert was heard at "
            f"{clock(last.last_heard)}{gap}.")


def _claim(v: VipStatus, p: AnomalyPeerStatus, now: float) -> str:
    still = current(v, p, now)
    if p.kind is AnomalyKind.DUAL_MASTER:
        rank = f" ({p.rank})" if p.rank else ""
        if still and v.state is VhidState.MASTER:
            return (f"Another node claims this VIP: {p.peer} advertises as master{rank} while "
                    f"we are MASTER, {seen_text(p, now)}: a split brain (both may answer for "
                    "the addresses; carpd re-announces ours and waits for it to yield).")
        return f"Earlier another node claimed this VIP as master: {claim_text(p, now)}."
    if p.kind is AnomalyKind.FOREIGN_ADVERT:
        when = "" if still else " (not lately)"
        return (f"Adverts on vhid {v.vhid} that fail our HMAC come from {claim_text(p, now)}"
                f"{when}: another cluster on our VHID, or a peer with a different password "
                "or address set.")
    return ""


def _state(v: VipStatus, ago: str) -> str:
    since = f" since {clock(v.since)}{f' ({ago} ago)' if ago else ''}"
    vrrp = v.protocol == "vrrp3"
    text = f"{v.name} ({'vrid' if vrrp else 'vhid'} {v.vhid} on {v.interface}) is " \
           f"{v.state.value}{since}, because {reason_text(v.reason)}."
    if v.hold_down:
        rank = (f"a priority {HOLD_DOWN_DEMOTION} lower" if vrrp
                else f"an advskew {HOLD_DOWN_DEMOTION} higher")
        text += f" carpd is still in its boot hold-down (advertising {rank}, not preempting)."
    return text


def _master(v: VipStatus) -> str:
    if v.state is VhidState.MASTER:
        return "This node is the master and holds " + ", ".join(v.addresses) + "."
    if not v.master:
        return "No master is known right now."
    if v.protocol == "vrrp3":
        prio, cs = v.election.get("master_priority"), v.election.get("master_adver_interval_cs")
        adv = (f", advertising priority {prio} every {cs * 10} ms"
               if prio is not None and cs is not None else "")
        return f"The master is {v.master}{adv}."
    base, skew = v.master_advbase, v.master_advskew
    adv = f", advertising advbase {base} advskew {skew}" if base is not None else ""
    return f"The master is {v.master}{adv}."


_FORM_WORDS = {"pseudo_header_group": "summed with the group address (keepalived up to 1.3.6 "
                                      "in unicast, FRR)",
               "message_only": "summed over the message only (RFC 9568: Cisco, Arista)"}


def _forms(v: VipStatus) -> str:
    """VRRPv3: say so when peers' checksums take another form than RFC 5798's own."""
    odd = [f"{n} {_FORM_WORDS[k]}" for k, n in sorted(v.counters.checksum_forms.items())
           if k in _FORM_WORDS and n]
    return f"Accepted adverts with a checksum {'; '.join(odd)}." if odd else ""


def _path(v: VipStatus) -> str:
    """Where adverts go and what is accepted back; silent for the plain IPv4 group."""
    if not v.peers and v.groups == ("224.0.0.18",):
        return ""
    said = []
    if v.peers:
        floor = "any TTL" if v.accept_ttl <= 1 else (
            "TTL 255 only (on-link)" if v.accept_ttl == 255 else f"TTL {v.accept_ttl} or more")
        said.append(f"Adverts go unicast to {', '.join(v.peers)}, accepting {floor}")
    if v.groups:
        said.append(("and" if said else "Adverts go") + f" to the group "
                    f"{' and '.join(v.groups)}")
    return " ".join(said) + "."


def _priority(v: VipStatus) -> str:
    """VRRPv3: the configured priority minus each named demotion (at least 1)."""
    base, eff = v.election.get("priority"), v.election.get("effective_priority")
    terms = [f"{base} (priority)"] + [f"{amount} ({name})"
                                       for name, amount in sorted(v.demotions.items())]
    text = f"Our effective priority is {eff}"
    if len(terms) > 1:
        text += " = " + " - ".join(terms)
        if base is not None and eff != base - sum(v.demotions.values()):
            text += " (at least 1)"
    if v.send_suppressed:
        text += f", 1 after {SEND_ERRORS_TO_SUPPRESS} failed sends"
    return text + " (higher wins)"


def _skew(v: VipStatus, maintenance: bool) -> str:
    if v.protocol == "vrrp3":
        return _rank_tail(v, _priority(v), maintenance)
    assert v.advskew is not None and v.effective_advskew is not None
    terms = [f"{v.advskew} (advskew)"]
    terms += [f"{amount} ({name})" for name, amount in sorted(v.demotions.items())]
    total = v.advskew + sum(v.demotions.values())
    text = f"Our effective advskew is {v.effective_advskew}"
    if len(terms) > 1:
        text += " = " + " + ".join(terms)
        if total != v.effective_advskew and total > MAX_ADVSKEW:
            text += f" (capped at {MAX_ADVSKEW})"
    if v.send_suppressed:
        text += f", at least {SEND_ERROR_SKEW} after {SEND_ERRORS_TO_SUPPRESS} failed sends"
    return _rank_tail(v, text, maintenance)


def _rank_tail(v: VipStatus, text: str, maintenance: bool) -> str:
    text += f"; preempt is {'on' if v.preempt else 'off'}."
    if maintenance:
        text += " Maintenance mode is on (carpctl maintenance off ends it)."
    return text


def _checks(v: VipStatus) -> str:
    checks = v.checks
    if not checks:
        return ""
    failing = [c for c in checks if c.state is CheckState.FAILING]
    if not failing:
        if all(c.state is CheckState.PASSING for c in checks):
            return f"All {len(checks)} checks pass."
        return "Checks: " + "; ".join(f"{c.name} {c.state.value}" for c in checks) + "."
    said = "; ".join(_failing(c) for c in failing)
    others = [c.name for c in checks if c.state is not CheckState.FAILING]
    rest = f" Passing: {', '.join(others)}." if others else ""
    return f"Failing check{'s' if len(failing) > 1 else ''}: {said}.{rest}"


def _failing(c: CheckStatus) -> str:
    effect = "fatal" if c.fatal else f"weight {c.weight}"
    return f"{c.name} ({c.type} {c.target}, {effect}): {c.detail or 'no detail'}"


def _units(v: VipStatus) -> str:
    """The master units whose last job failed, and a fallback to systemctl."""
    said = [f"{u.verb} of {u.unit} ended {u.result.value} at {u.at}"
            + (f" ({u.detail})" if u.detail else "") for u in v.units if u.failed]
    text = (f"Master unit job{'s' if len(said) > 1 else ''} failed: {'; '.join(said)} "
            "(systemctl status UNIT; the election does not depend on it).") if said else ""
    fallback = next((u for u in v.units if u.via == "systemctl"), None)
    if fallback is not None:
        text += (" " if text else "") + ("Unit jobs go through systemctl --no-block, their "
                                         f"results untracked: {fallback.detail}.")
    return text
