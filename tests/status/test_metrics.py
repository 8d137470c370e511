"""The metrics text from a typed document: state gauges follow the core's enum, check_up
follows the verdict, anomaly kinds and maintenance as documented."""

from __future__ import annotations

from carpd.core.actions import VhidState
from carpd.status.document import build_document
from carpd.status.metrics import STATES, render
from tests.status.test_document import INFO, at, node


def test_states_are_the_cores_states_in_order() -> None:
    assert STATES == tuple(s.value for s in VhidState) == ("INIT", "BACKUP", "MASTER", "FAULT")


def test_samples_of_a_node() -> None:
    lines = render(build_document(node().statistics(), node=INFO, wall_iso=at)).splitlines()
    for expected in (
            'carpd_vip_state{vip="web",vhid="10",interface="eth0",state="MASTER"} 1',
            'carpd_vip_state{vip="mail",vhid="11",interface="eth0",state="BACKUP"} 1',
            'carpd_vip_state{vip="mail",vhid="11",interface="eth0",state="MASTER"} 0',
            "# HELP carpd_effective_advskew Advertised advskew: advskew plus demotions, at "
            "most 254 (CARP VIPs).",
            'carpd_demotion{vip="web",source="maintenance"} 254',
            'carpd_hold_down{vip="mail"} 1', 'carpd_hold_down{vip="web"} 0',
            'carpd_anomalies_total{vip="web",kind="foreign_advert"} 1',
            'carpd_check_up{vip="web",check="nginx",type="tcp"} 0',
            'carpd_check_results_total{vip="web",check="nginx",type="tcp",result="pass"} 0',
            'carpd_drops_total{vip="web",reason="bad_hmac"} 1',
            'carpd_interface_drops_total{interface="eth0",reason="bad_hmac"} 1',
            "carpd_maintenance 1", "carpd_uptime_seconds 12.5"):
        assert expected in lines
