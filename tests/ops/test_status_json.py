"""The whole `carpctl status --json` document of a representative node, pinned: two VIPs
(a MASTER with a failing weighted check, a passing fatal one, an expiring operator demotion,
a foreign advert and a bad-HMAC drop; a BACKUP under a peer, still held down for a required
unit), maintenance on, interface drops, each VIP's last transition and the problems
`status --check` reports. Keys, their order and every value are an
interface (scripts read it); this was produced by the untyped builder before the typed
status document replaced it."""

from __future__ import annotations

import ipaddress
import json
from typing import Any

from carpd.control.protocol import Request
from carpd.core.carp import auth, wire
from carpd.io.ipv4 import encode_ipv4_header
from tests.driver.fakes import FakeClockLoop, FakeHealth
from tests.driver.test_daemon import WEB, until, vip
from tests.ops.test_operations import DB, NGINX, ROOT, ports_with, run

GROUP = ipaddress.IPv4Address("224.0.0.18")
MAIL = vip(name="mail", vhid=2, addresses=(ipaddress.IPv4Interface("172.16.90.32/24"),),
           master_units=(), upscript=None, downscript=None, require_units=("db.service",),
           advskew=20)

EXPECTED: dict[str, Any] = {'node': {'hostname': 'web', 'version': '0.1.0', 'uptime_s': 10.125},
     'vips': [{'name': 'web',
               'vhid': 1,
               'interface': 'eth0',
               'addresses': ['172.16.90.31/24'],
               'state': 'MASTER',
               'since': '2027-01-15T08:00:03.000+00:00',
               'reason': 'master_down_timer',
               'protocol': 'carp',
               'advbase': 1,
               'advskew': 0,
               'effective_advskew': 254,
               'preempt': True,
               'master': '172.16.90.101',
               'source': '172.16.90.101',
               'source6': None,
               'peers': [],
               'demotions': {'check:nginx': 100, 'maintenance': 254, 'operator': 20},
               'counters': {'adverts_sent': 5,
                            'adverts_received': 0,
                            'auth_failures': 1,
                            'send_errors': 0,
                            'address_errors': 0,
                            'transitions': 2,
                            'drops': {'bad_hmac': 1}},
               'faults': [],
               'hold_down': False,
               'send_suppressed': False,
               'master_advbase': 1,
               'master_advskew': 254,
               'operator_demotion': {'amount': 20, 'until': '2027-01-15T08:01:03.500+00:00'},
               'waiting_for': [],
               'checks': [{'name': 'nginx',
                           'type': 'tcp',
                           'target': '127.0.0.1:80',
                           'fatal': False,
                           'weight': 100,
                           'state': 'failing',
                           'detail': 'refused',
                           'since': '2027-01-15T08:00:00.000+00:00',
                           'results': 1,
                           'failures': 1,
                           'errors': 0,
                           'changes': 0,
                           'flapping': False},
                          {'name': 'db',
                           'type': 'exec',
                           'target': '/bin/db-ok',
                           'fatal': True,
                           'weight': 0,
                           'state': 'passing',
                           'detail': 'exit status 0',
                           'since': '2027-01-15T08:00:00.000+00:00',
                           'results': 1,
                           'failures': 0,
                           'errors': 0,
                           'changes': 0,
                           'flapping': False}],
               'anomalies': {'foreign_advert': 1},
               'anomaly_peers': [{'kind': 'foreign_advert',
                                  'peer': '172.16.90.103',
                                  'rank': '',
                                  'first_seen': '2027-01-15T08:00:03.500+00:00',
                                  'last_seen': '2027-01-15T08:00:03.500+00:00',
                                  'count': 1,
                                  'detail': 'advert for vhid 1 on eth0 from 172.16.90.103 '
                                            'fails our HMAC: another cluster on our VHID, or '
                                            'a different password or address set'}],
               'last_transition': {'time': '2027-01-15T08:00:03.000+00:00',
                                   'vip': 'web',
                                   'vhid': 1,
                                   'interface': 'eth0',
                                   'from': 'BACKUP',
                                   'to': 'MASTER',
                                   'reason': 'master_down_timer',
                                   'peer': None,
                                   'master_before': None,
                                   'master_after': 'self',
                                   'master_last_heard': None,
                                   'master_last_heard_before_s': None,
                                   'rank': 'advskew 100',
                                   'demotions': {'check:nginx': 100},
                                   'behind': 'check nginx failing (+100)'},
               'groups': ['224.0.0.18'],
               'units': []},
              {'name': 'mail',
               'vhid': 2,
               'interface': 'eth0',
               'addresses': ['172.16.90.32/24'],
               'state': 'BACKUP',
               'since': '2027-01-15T08:00:05.000+00:00',
               'reason': 'preferred_master_heard',
               'protocol': 'carp',
               'advbase': 1,
               'advskew': 20,
               'effective_advskew': 254,
               'preempt': True,
               'master': '172.16.90.102',
               'source': '172.16.90.101',
               'source6': None,
               'peers': [],
               'demotions': {'hold_down': 240, 'maintenance': 254},
               'counters': {'adverts_sent': 2,
                            'adverts_received': 6,
                            'auth_failures': 0,
                            'send_errors': 0,
                            'address_errors': 0,
                            'transitions': 3,
                            'drops': {}},
               'faults': [],
               'hold_down': True,
               'send_suppressed': False,
               'master_advbase': 1,
               'master_advskew': 10,
               'operator_demotion': None,
               'waiting_for': ['db.service active'],
               'checks': [],
               'anomalies': {},
               'anomaly_peers': [],
               'last_transition': {'time': '2027-01-15T08:00:05.000+00:00',
                                   'vip': 'mail',
                                   'vhid': 2,
                                   'interface': 'eth0',
                                   'from': 'MASTER',
                                   'to': 'BACKUP',
                                   'reason': 'preferred_master_heard',
                                   'peer': '172.16.90.102',
                                   'master_before': 'self',
                                   'master_after': '172.16.90.102',
                                   'master_last_heard': None,
                                   'master_last_heard_before_s': None,
                                   'rank': 'advskew 254',
                                   'demotions': {'hold_down': 240, 'maintenance': 254},
                                   'behind': 'boot hold-down (+240); maintenance mode (+254)'},
               'groups': ['224.0.0.18'],
               'units': []}],
     'interface_drops': {'eth0': {'bad_hmac': 1, 'short': 1}},
     'maintenance': {'on': True, 'since': '2027-01-15T08:00:04.250+00:00'},
     'problems': [{'kind': 'maintenance',
                   'vip': None,
                   'text': 'maintenance mode on since 2027-01-15 08:00:04 UTC: every VIP '
                           'demoted (carpctl maintenance off)'},
                  {'kind': 'foreign_advert',
                   'vip': 'web',
                   'text': 'web: foreign adverts on vhid 1 (bad HMAC: another cluster, or a '
                           'different password or address set) from 172.16.90.103 since '
                           '2027-01-15 08:00:03 UTC, last heard 6s ago, 1 time'},
                  {'kind': 'check_failing',
                   'vip': 'web',
                   'text': 'web: check nginx failing (weight 100) since 2027-01-15 08:00:00 '
                           'UTC: refused'}]}


def advert(vhid: int, password: bytes, address: str, source: str, counter: int) -> bytes:
    digest = auth.compute_digest(password, vhid, (ipaddress.IPv4Address(address),), counter)
    payload = wire.encode_carp_header(wire.CarpHeader(vhid=vhid, advbase=1, advskew=10,
                                                      counter=counter, digest=digest))
    return encode_ipv4_header(source=ipaddress.IPv4Address(source), destination=GROUP,
                              payload_length=36) + payload


def test_status_json_of_a_representative_node_is_exactly_as_documented() -> None:
    health = FakeHealth()
    ports = ports_with(health)
    seen: dict[str, Any] = {}

    async def scenario(d: Any, loop: FakeClockLoop) -> None:
        health.report("web/nginx", False, "refused")
        health.report("web/db", True, "exit status 0")
        await until(loop, 1003.5)
        foreign = advert(1, b"other", str(WEB.ip), "172.16.90.103", 9)
        ports.transport.on_packet("eth0", foreign)  # type: ignore[attr-defined]
        ports.transport.on_packet("eth0", b"\x45" * 10)  # type: ignore[attr-defined]
        await d.handle_control(Request(cmd="demote", args={"name": "web", "by": 20,
                                                            "for": 60}), ROOT)
        await until(loop, 1004.25)
        await d.handle_control(Request(cmd="maintenance", args={"on": True}), ROOT)
        for i, t in enumerate((1005.0, 1006.0, 1007.0, 1008.0, 1009.0, 1010.0)):
            await until(loop, t)
            peer = advert(2, b"s3cret", "172.16.90.32", "172.16.90.102", 50 + i)
            ports.transport.on_packet("eth0", peer)  # type: ignore[attr-defined]
        await until(loop, 1010.125)
        seen["doc"] = await d.handle_control(Request(cmd="status"), ROOT)

    assert run(scenario, ports, (vip(checks=(NGINX, DB)), MAIL)) == 0
    assert seen["doc"] == EXPECTED
    assert json.dumps(seen["doc"]) == json.dumps(EXPECTED)  # the key order too
