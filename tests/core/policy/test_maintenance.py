"""Maintenance mode: on/off once each, since when, and what a new VIP carries."""

from __future__ import annotations

from carpd.core.actions import MaintenanceChanged
from carpd.core.events import SetDemotion
from carpd.core.policy.maintenance import MAINTENANCE, Maintenance, MaintenanceStatistics


def test_on_off_and_only_real_changes_report() -> None:
    m = Maintenance()
    assert m.statistics() == MaintenanceStatistics(on=False, since_at=None)
    assert m.set(True, None, 3.5) == (
        [SetDemotion(name=None, source=MAINTENANCE, amount=254)], [MaintenanceChanged(on=True)])
    assert m.set(True, None, 9.0) == ([], [])  # already on: the original instant stays
    assert m.statistics() == MaintenanceStatistics(on=True, since_at=3.5)
    assert m.demotion_for("web") == [SetDemotion(name="web", source=MAINTENANCE, amount=254)]
    assert m.set(False, None, 10.0) == (
        [SetDemotion(name=None, source=MAINTENANCE, amount=0)], [MaintenanceChanged(on=False)])
    assert m.statistics() == MaintenanceStatistics(on=False, since_at=None)
    assert m.demotion_for("web") == []
    assert m.set(False, None, 11.0) == ([], [])


def test_restored_flag_keeps_the_instant_it_was_turned_on() -> None:
    m = Maintenance()
    m.set(True, -120.0, 0.0)
    assert m.statistics() == MaintenanceStatistics(on=True, since_at=-120.0)
