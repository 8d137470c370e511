"""The typed status document, built from a pure Node's statistics with a fake clock
conversion, and its JSON form (the whole daemon document is pinned in tests/ops)."""

from __future__ import annotations

import ipaddress

from carpd.core.actions import AnomalyKind, CheckState, VhidState
from carpd.core.events import (
    AddressesRead,
    BeginHoldDown,
    CheckResult,
    OperatorDemote,
    SetMaintenance,
    Start,
    TimerFired,
)
from carpd.core.node import Node
from carpd.core.params import CheckParams, Secret, VipParams
from carpd.io.ipv4 import parse_datagram
from carpd.status.document import (
    CheckStatus,
    MaintenanceStatus,
    NodeInfo,
    OperatorDemotionStatus,
    StatusDocument,
    build_document,
    iso_time,
)
from carpd.status.jsonform import to_json
from tests.core.test_node import packet

IP = ipaddress.IPv4Address
INFO = NodeInfo(hostname="a", version="1.2", uptime_s=12.5)
NGINX = CheckParams(name="nginx", type="tcp", weight=50, host="127.0.0.1", port=80, rise=1,
                    fall=1)
WEB = VipParams(name="web", vhid=10, interface="eth0",
                addresses=(ipaddress.IPv4Interface("192.0.2.10/24"),), password=Secret(b"webpw"),
                source=IP("10.0.0.1"), checks=(NGINX,))
MAIL = VipParams(name="mail", vhid=11, interface="eth0",
                 addresses=(ipaddress.IPv4Interface("192.0.2.25/24"),),
                 password=Secret(b"mailpw"), source=IP("10.0.0.1"), advskew=128,
                 require_units=("db.service",))
VIP_KEYS = [
    "name", "vhid", "interface", "addresses", "state", "since", "reason", "protocol", "advbase",
    "advskew", "effective_advskew", "preempt", "master", "source", "source6", "peers", "demotions",
    "counters", "faults",
    "hold_down", "send_suppressed", "master_advbase", "master_advskew", "operator_demotion",
    "waiting_for", "checks", "anomalies", "anomaly_peers", "last_transition", "groups",
    "units"]


def at(instant: float) -> str:
    return f"@{instant:g}"


def node() -> Node:
    n = Node([WEB, MAIL], counter_source=lambda _n: 7)
    n.handle(Start(), 0.0)
    n.handle(BeginHoldDown(), 0.0)
    n.handle(AddressesRead(interface="eth0", addresses=frozenset({IP("10.0.0.1")})), 0.5)
    n.handle(CheckResult(name="web", check="nginx", ok=False, detail="refused"), 1.0)
    n.handle(TimerFired(), 3.5)  # web's master-down timer (3.0) has run out
    n.handle(parse_datagram("eth0", packet(vhid=11, password=b"mailpw",
                                           addresses=MAIL.addresses, advskew=5)), 4.0)
    n.handle(parse_datagram("eth0", packet(password=b"other")), 4.5)
    n.handle(OperatorDemote(name="web", amount=20, until_at=100.0), 5.0)
    n.handle(SetMaintenance(on=True), 6.0)
    return n


def test_before_the_vips_run_there_are_only_node_and_vips() -> None:
    doc = build_document(None, node=INFO, wall_iso=at)
    assert doc == StatusDocument(node=INFO)
    assert to_json(doc) == {"node": {"hostname": "a", "version": "1.2", "uptime_s": 12.5},
                            "vips": [], "problems": []}


def test_built_from_the_core_snapshot_with_the_drivers_clock_conversion() -> None:
    doc = build_document(node().statistics(), node=INFO, wall_iso=at)
    assert doc.names == ("web", "mail") and doc.vip("nope") is None
    web, mail = doc.vips
    assert (web.state, web.since, web.since_at, web.master, web.source) == (
        VhidState.MASTER, "@3.5", 3.5, "10.0.0.1", "10.0.0.1")
    assert (web.master_advbase, web.master_advskew) == (1, 254)  # ours: effective advskew
    assert web.demotions == {"check:nginx": 50, "maintenance": 254, "operator": 20}
    assert web.operator_demotion == OperatorDemotionStatus(amount=20, until="@100")
    assert web.checks == (CheckStatus(
        name="nginx", type="tcp", target="127.0.0.1:80", fatal=False, weight=50,
        state=CheckState.FAILING, detail="refused", since="@1", results=1, failures=1,
        changes=0, flapping=False),)
    assert web.anomalies == {AnomalyKind.FOREIGN_ADVERT: 1}
    assert (web.counters.auth_failures, dict(web.counters.drops)) == (1, {"bad_hmac": 1})
    assert (mail.state, mail.master, mail.master_advbase, mail.master_advskew) == (
        VhidState.BACKUP, str(IP("10.0.0.2")), 1, 5)  # the peer's advert
    assert mail.hold_down and mail.waiting_for == ("db.service active",)
    assert doc.maintenance == MaintenanceStatus(on=True, since="@6")
    assert doc.interface_drops == {"eth0": {"bad_hmac": 1}}


def test_json_writes_enums_as_their_values_in_the_documented_key_order() -> None:
    out = to_json(build_document(node().statistics(), node=INFO, wall_iso=at))
    assert list(out) == ["node", "vips", "interface_drops", "maintenance", "problems"]
    web = out["vips"][0]
    assert list(web) == VIP_KEYS
    assert list(web["counters"]) == ["adverts_sent", "adverts_received", "auth_failures",
                                     "send_errors", "address_errors", "transitions", "drops"]
    assert (web["state"], web["checks"][0]["state"], web["anomalies"]) == (
        "MASTER", "failing", {"foreign_advert": 1})
    assert type(next(iter(web["anomalies"]))) is str
    assert web["operator_demotion"] == {"amount": 20, "until": "@100"}
    assert out["vips"][1]["operator_demotion"] is None
    assert out["maintenance"] == {"on": True, "since": "@6"}


def test_iso_time_is_utc_with_milliseconds() -> None:
    assert iso_time(1_800_000_000.25) == "2027-01-15T08:00:00.250+00:00"


def test_iso_time_never_fails_on_an_instant_no_calendar_shows() -> None:
    from carpd.status.document import iso_time

    assert iso_time(0.0) == "1970-01-01T00:00:00.000+00:00"
    for wall in (1e300, float("nan"), float("inf"), -1e300, 253402300800.0):
        assert iso_time(wall) == f"invalid time {wall!r}"
