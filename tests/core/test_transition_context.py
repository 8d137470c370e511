"""The context a StateChanged and an Anomaly carry for the records (the master lost and when it
was last heard, our rank and demotions, the peer's rank) and the node's anomaly book."""

from __future__ import annotations

import ipaddress

from carpd.core.actions import Anomaly, AnomalyKind, StateChanged, VhidState
from carpd.core.anomalies import MAX_PEERS, AnomalyBook
from carpd.core.events import SetDemotion, Start, TimerFired
from carpd.core.machine import VhidMachine
from tests.core.test_machine import COUNTER, PEER, advert, as_master, make_params, started
from tests.core.test_node import packet, receive, started_node

IP = ipaddress.IPv4Address
BACKUP, MASTER = VhidState.BACKUP, VhidState.MASTER


def first_change(actions: list[object]) -> StateChanged:
    change = actions[0]
    assert isinstance(change, StateChanged)
    return change


def test_takeover_names_the_master_lost_and_when_it_was_last_heard() -> None:
    m = started(0.0, advskew=50)
    m.handle(advert(advskew=0), 1.0)
    m.handle(advert(advskew=0), 2.0)  # the last advert of the master: 2.0
    deadline = m.next_deadline()
    assert deadline == 2.0 + 3 + 50 / 256
    change = first_change(m.handle(TimerFired(), deadline))
    assert (change.old, change.new, change.reason) == (BACKUP, MASTER, "master_down_timer")
    assert (change.last_master, change.last_master_heard_at) == (PEER, 2.0)
    assert change.rank == "advskew 50"
    assert change.demotions == ()


def test_takeover_without_a_master_ever_heard_names_none() -> None:
    m = started(0.0)
    change = first_change(m.handle(TimerFired(), 3.0))
    assert change.new is MASTER
    assert (change.last_master, change.last_master_heard_at) == (None, None)


def test_a_master_stepping_down_names_no_lost_master_and_carries_its_demotions() -> None:
    m = as_master()  # MASTER since 3.0 (its own master, not a peer's)
    m.handle(SetDemotion(name="web", source="operator", amount=200), 4.0)
    change = first_change(m.handle(advert(advskew=10), 4.5))
    assert (change.old, change.new, change.peer) == (MASTER, BACKUP, PEER)
    assert (change.last_master, change.last_master_heard_at) == (None, None)
    assert change.rank == "advskew 200"
    assert change.demotions == (("operator", 200),)


def test_context_fields_do_not_change_action_equality() -> None:
    """Exact action lists in the other tests stay about what happens, not the context."""
    a = StateChanged(name="web", vhid=10, interface="eth0", old=BACKUP, new=MASTER,
                     reason="master_down_timer", last_master=PEER, rank="advskew 0")
    b = StateChanged(name="web", vhid=10, interface="eth0", old=BACKUP, new=MASTER,
                     reason="master_down_timer")
    assert a == b


def test_dual_master_anomaly_carries_the_peer_rank_in_protocol_words() -> None:
    m = as_master()
    actions = m.handle(advert(advskew=100, source=IP("10.0.0.7")), 3.0 + 1 + 100 / 256)
    anomaly = actions[-1]
    assert isinstance(anomaly, Anomaly)
    assert anomaly.rank == "advbase 1 advskew 100"


# -- the anomaly book -------------------------------------------------------------------------

def anomaly(peer: str | None, *, rank: str = "", detail: str = "d") -> Anomaly:
    return Anomaly(kind=AnomalyKind.DUAL_MASTER, name="web", peer=None if peer is None
                   else IP(peer), detail=detail, log=True, rank=rank)


def test_book_keeps_first_and_last_seen_count_and_rank() -> None:
    book = AnomalyBook()
    book.record(anomaly("10.0.0.7", rank="advbase 1 advskew 100", detail="one"), 10.0)
    book.record(anomaly("10.0.0.7", detail="two"), 11.0)  # no rank: the known one stays
    book.record(anomaly("10.0.0.7", rank="advbase 1 advskew 90", detail="three"), 12.5)
    (r,) = book.statistics()
    assert (r.name, r.kind, r.peer) == ("web", "dual_master", IP("10.0.0.7"))
    assert (r.first_at, r.last_at, r.count) == (10.0, 12.5, 3)
    assert (r.rank, r.detail) == ("advbase 1 advskew 90", "three")


def test_book_is_bounded_per_vip_and_kind_dropping_the_longest_unseen() -> None:
    book = AnomalyBook()
    for i in range(MAX_PEERS):
        book.record(anomaly(f"10.0.1.{i}"), float(i))
    book.record(anomaly("10.0.1.0"), 100.0)  # seen again: now the newest
    book.record(anomaly("10.0.2.1"), 101.0)  # replaces 10.0.1.1, the longest unseen
    peers = {str(r.peer) for r in book.statistics()}
    assert len(peers) == MAX_PEERS
    assert "10.0.1.1" not in peers
    assert {"10.0.1.0", "10.0.2.1"} <= peers


def test_book_forgets_a_removed_vip() -> None:
    book = AnomalyBook()
    book.record(anomaly("10.0.0.7"), 1.0)
    book.record(Anomaly(kind=AnomalyKind.FOREIGN_ADVERT, name="mail", peer=None, detail="x",
                        log=True), 1.0)
    book.forget("web")
    assert [r.name for r in book.statistics()] == ["mail"]


def test_node_books_a_bad_hmac_sender_as_foreign_advert_with_first_and_last_seen() -> None:
    node = started_node()
    receive(node, packet(password=b"wrong", src=IP("10.0.0.9")), now=5.0)
    receive(node, packet(password=b"wrong", src=IP("10.0.0.9")), now=7.0)
    (r,) = node.statistics().anomaly_records
    assert (r.name, r.kind, r.peer, r.rank) == ("web", "foreign_advert", IP("10.0.0.9"), "")
    assert (r.first_at, r.last_at, r.count) == (5.0, 7.0, 2)


def test_node_forgets_the_records_of_a_removed_vip() -> None:
    node = started_node()
    receive(node, packet(password=b"wrong"), now=5.0)
    node.remove("web")
    assert node.statistics().anomaly_records == ()


def test_machine_without_start_has_no_master_context() -> None:
    m = VhidMachine(make_params(), initial_counter=COUNTER)
    change = first_change(m.handle(Start(), 0.0))
    assert (change.last_master, change.rank) == (None, "advskew 0")
