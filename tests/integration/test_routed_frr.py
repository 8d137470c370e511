"""Routed VIPs with FRR on the servers (docs/routed.md): one lab, the faults in sequence.

The router's FIB sends the VIP to the MASTER; on a graceful stop, a SIGKILL of carpd followed
by the unit's cleanup, a SIGKILL of the server's bgpd, and a silent drop of the master's traffic,
the route moves to the other server and the client's probes reach it; it moves back when the
first server preempts; both servers' paths are never in the router's table for longer than
one advert interval (plus one observer sample)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.integration.netns import have_lab_prerequisites
from tests.integration.routed_checks import assert_faults_moved_the_route, engine_missing
from tests.integration.routed_lab import RoutedLab

pytestmark = pytest.mark.skipif(bool(have_lab_prerequisites() or engine_missing("frr")),
                                reason=str(have_lab_prerequisites() or engine_missing("frr")))


@pytest.fixture(scope="module")
def routed() -> Iterator[RoutedLab]:
    with RoutedLab("frr") as rl:
        yield rl


def test_frr_servers_move_the_route_on_every_fault(routed: RoutedLab) -> None:
    assert_faults_moved_the_route(routed)
