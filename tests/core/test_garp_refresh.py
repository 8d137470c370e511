"""`garp_refresh_interval`: a MASTER re-announces its VIPs every interval on the advert
schedule (a deadline `garp_refresh_at`), for routers that cache ARP for hours. Fake clock:
every instant is given."""

from __future__ import annotations

import dataclasses

from carpd.core.actions import Announce, SendAdvert
from carpd.core.events import TimerFired
from carpd.core.states import VhidState
from tests.core.test_machine import PEER, advert, as_master, make_params


def announces(actions: list[object]) -> list[tuple[int, tuple[object, ...]]]:
    return [(a.count, a.addresses) for a in actions if isinstance(a, Announce)]


def tick(m: object, until: float) -> dict[float, list[object]]:
    """Fire the machine's timer up to `until`: {instant: actions}."""
    out: dict[float, list[object]] = {}
    while (due := m.next_deadline()) is not None and due <= until:  # type: ignore[attr-defined]
        out[due] = m.handle(TimerFired(), due)  # type: ignore[attr-defined]
    return out


def test_master_re_announces_once_per_interval_anchored_to_the_deadline() -> None:
    m = as_master(garp_refresh_interval=10)  # MASTER at 3.0 (master-down), advbase 1
    became = 3.0
    assert m.garp_refresh_at == became + 10
    steps = tick(m, 40.0)
    refreshed = [t for t, acts in steps.items() if announces(acts)]
    assert refreshed == [13.0, 23.0, 33.0]
    assert announces(steps[13.0]) == [(1, (make_params().addresses[0].ip,))]
    assert all(any(isinstance(a, SendAdvert) for a in acts) for acts in steps.values())


def test_a_late_timer_restarts_the_refresh_from_now() -> None:
    m = as_master(garp_refresh_interval=10)
    acts = m.handle(TimerFired(), 40.5)  # the loop was stuck past several refreshes
    assert len(announces(acts)) == 1
    assert m.garp_refresh_at == 50.5


def test_off_by_default_and_cleared_by_a_step_down() -> None:
    m = as_master()
    assert m.garp_refresh_at is None
    assert not any(announces(a) for a in tick(m, 100.0).values())
    m = as_master(advskew=100, garp_refresh_interval=10)
    m.handle(advert(advskew=0, source=PEER), 5.0)  # a preferred master
    assert m.state is VhidState.BACKUP and m.garp_refresh_at is None


def test_a_reload_turns_it_on_from_the_next_advert_and_off() -> None:
    m = as_master()
    m.retune(dataclasses.replace(m.params, garp_refresh_interval=5), 4.2)
    assert m.garp_refresh_at is None  # counted from the next advert
    m.handle(TimerFired(), 5.0)
    assert m.garp_refresh_at == 10.0
    assert announces(tick(m, 10.0)[10.0])
    m.retune(dataclasses.replace(m.params, garp_refresh_interval=0), 10.2)
    assert not any(announces(a) for a in tick(m, 30.0).values())
    assert m.garp_refresh_at is None
