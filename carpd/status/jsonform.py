"""The JSON form of the status document: `carpctl status --json` and the control socket.

Owns: `to_json(doc) -> dict`, the object scripts read. Its keys, their order and their values
are an interface and stay exactly as documented (tests/ops/test_status_json.py pins a whole
document): "node", "vips" (each VIP's fields in the order below, ending with "anomaly_peers",
"last_transition" (the record of carpd/status/transitions.py or null), "groups" and "units"
(the last job of each master unit)), then, once the
VIPs run, "interface_drops" and "maintenance", and last "problems" (carpd/status/problems.py:
what `carpctl status --check` reports). Enums are written as their values; instants are the
document's ISO strings.
Must not: add, rename or reorder keys without a changelog entry; compute anything.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from carpd.status.document import (
    AnomalyPeerStatus,
    CheckStatus,
    OperatorDemotionStatus,
    StatusDocument,
    VipStatus,
)
from carpd.status.problems import Problem, problem_json
from carpd.status.transitions import TransitionRecord, transition_json


def to_json(doc: StatusDocument, *, problems: Iterable[Problem] = (),
            last: Mapping[str, TransitionRecord] | None = None) -> dict[str, Any]:
    """`last`: each VIP's last transition, by name (carpd/ops/history.py keeps them)."""
    last = last or {}
    out: dict[str, Any] = {
        "node": {"hostname": doc.node.hostname, "version": doc.node.version,
                 "uptime_s": doc.node.uptime_s},
        "vips": [vip_json(v, last.get(v.name)) for v in doc.vips],
    }
    if doc.interface_drops is not None:
        out["interface_drops"] = {i: dict(d) for i, d in doc.interface_drops.items()}
    if doc.maintenance is not None:
        out["maintenance"] = {"on": doc.maintenance.on, "since": doc.maintenance.since}
    out["problems"] = [problem_json(p) for p in problems]
    return out


def vip_json(v: VipStatus, last: TransitionRecord | None = None) -> dict[str, Any]:
    c = v.counters
    return {
        "name": v.name, "vhid": v.vhid, "interface": v.interface,
        "addresses": list(v.addresses), "state": v.state.value, "since": v.since,
        "reason": v.reason, "protocol": v.protocol,
        **{k: n for k, n in v.election.items() if not k.startswith("master_")},
        "preempt": v.preempt, "master": v.master,
        "source": v.source, "source6": v.source6, "peers": list(v.peers),
        "demotions": dict(v.demotions),
        "counters": {"adverts_sent": c.adverts_sent, "adverts_received": c.adverts_received,
                     "auth_failures": c.auth_failures, "send_errors": c.send_errors,
                     "address_errors": c.address_errors, "transitions": c.transitions,
                     "drops": dict(c.drops),
                     **({"checksum_forms": dict(c.checksum_forms)}
                        if v.protocol == "vrrp3" else {})},
        "faults": list(v.faults), "hold_down": v.hold_down,
        "send_suppressed": v.send_suppressed,
        **{k: n for k, n in v.election.items() if k.startswith("master_")},
        "operator_demotion": _operator_json(v.operator_demotion),
        "waiting_for": list(v.waiting_for),
        "checks": [_check_json(ch) for ch in v.checks],
        "anomalies": {kind.value: n for kind, n in v.anomalies.items()},
        "anomaly_peers": [_peer_json(p) for p in v.anomaly_peers],
        "last_transition": None if last is None else transition_json(last),
        "groups": list(v.groups),
        "units": [{"unit": u.unit, "verb": u.verb, "result": u.result.value, "via": u.via,
                   "detail": u.detail, "at": u.at, "failed": u.failed} for u in v.units],
    }


def _peer_json(p: AnomalyPeerStatus) -> dict[str, Any]:
    return {"kind": p.kind.value, "peer": p.peer, "rank": p.rank, "first_seen": p.first_seen,
            "last_seen": p.last_seen, "count": p.count, "detail": p.detail}


def _operator_json(d: OperatorDemotionStatus | None) -> dict[str, Any] | None:
    return None if d is None else {"amount": d.amount, "until": d.until}


def _check_json(c: CheckStatus) -> dict[str, Any]:
    return {"name": c.name, "type": c.type, "target": c.target, "fatal": c.fatal,
            "weight": c.weight, "state": c.state.value, "detail": c.detail, "since": c.since,
            "results": c.results, "failures": c.failures, "errors": c.errors,
            "changes": c.changes, "flapping": c.flapping}
