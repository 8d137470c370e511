"""The driver's start path with the resume record (fake ports, fake clock, no sleeping).

A record of this boot naming a VIP as MASTER with a recent advert: the VIP's leftover copy is
kept and it resumes (MASTER at once, first advert after the silent window). Too old, another
boot, another VHID or address, or a corrupt record: everything starts as before (the leftover
removed, BACKUP). While running, the record follows the VIP's mastership and last advert, and
a failing write is logged once.
"""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
from typing import Any

from carpd.core.actions import SendAdvert
from carpd.driver.ports import Ports
from tests.driver.fakes import FakeClockLoop, Harness, drive_daemon, fake_ports
from tests.driver.test_daemon import WEB, until, vip

BOOT = "6c1f0f8e-1111-2222-3333-444455556666"
OFFSET = 5000.0  # CLOCK_BOOTTIME = loop time + OFFSET
SLOWEST = 1 + 254 / 256


class FakeRecord:
    def __init__(self, document: dict[str, Any] | None = None, boot_id: str = BOOT) -> None:
        self.document, self.boot_id = document, boot_id
        self.saved: list[tuple[float, dict[str, Any]]] = []
        self.fail = False

    def boot(self) -> tuple[str, float]:
        return self.boot_id, asyncio.get_running_loop().time() + OFFSET

    def load(self) -> dict[str, Any] | None:
        if isinstance(self.document, Exception):
            raise self.document
        return self.document

    def save(self, document: dict[str, Any]) -> None:
        if self.fail:
            raise OSError(28, "No space left on device")
        self.saved.append((asyncio.get_running_loop().time(), document))


def record(age: float, *, boot_id: str = BOOT, vhid: int = 1,
           addresses: tuple[str, ...] = (str(WEB),)) -> dict[str, Any]:
    """Written at loop time 1000 (the start), the VIP's last advert `age` s before that."""
    return {"version": 1, "boot_id": boot_id, "written_at": 1000.0 + OFFSET - 0.1,
            "vips": {"web": {"vhid": vhid, "interface": "eth0", "addresses": list(addresses),
                             "advert_at": 1000.0 + OFFSET - age}}}


def start_with(store: FakeRecord, leftover: bool = True,
               until_t: float = 1001.5) -> tuple[Ports, dict[str, Any]]:
    ports = dataclasses.replace(fake_ports(), resume=store)
    if leftover:  # the crashed run's marked copy, still there (no systemd cleanup)
        ports.addresses.present["eth0"].add(WEB)  # type: ignore[attr-defined]
    seen: dict[str, Any] = {}

    async def scenario(d: Harness, loop: FakeClockLoop) -> None:
        await asyncio.sleep(0.01)
        seen["state"] = d.status_document()["vips"][0]["state"]
        seen["reason"] = d.status_document()["vips"][0]["reason"]
        seen["held_down"] = d.status_document()["vips"][0].get("hold_down")
        await until(loop, until_t)

    rc, _ = drive_daemon(scenario, ports, (vip(),))
    assert rc == 0
    return ports, seen


def adverts(ports: Ports) -> list[float]:
    sent: list[tuple[float, SendAdvert]] = ports.transport.sent  # type: ignore[attr-defined]
    return [round(t, 6) for t, a in sent if not a.bow_out]


def test_a_fresh_record_keeps_the_leftover_and_resumes() -> None:
    ports, seen = start_with(FakeRecord(record(age=0.5)), until_t=1003.5)
    assert (seen["state"], seen["reason"]) == ("MASTER", "resumed")
    ops = ports.addresses.ops  # type: ignore[attr-defined]
    assert ops[0] == ("add", "eth0", (str(WEB),))  # kept, never removed first
    assert adverts(ports) == [round(1000 + SLOWEST, 6), round(1000 + SLOWEST + 1, 6)]
    bursts = ports.announcer.bursts  # type: ignore[attr-defined]
    assert [round(t, 6) for t, *_ in bursts] == [round(1000 + SLOWEST, 6)]
    assert any("resume record says MASTER, last advert 0.500 s ago" in m
               for m in ports.log.messages())  # type: ignore[attr-defined]


def test_without_the_leftover_the_resumed_vip_is_added_back() -> None:
    ports, seen = start_with(FakeRecord(record(age=0.5)), leftover=False)
    assert seen["state"] == "MASTER"
    assert ports.addresses.ops[0] == ("add", "eth0", (str(WEB),))  # type: ignore[attr-defined]


def _starts_as_before(store: FakeRecord) -> Ports:
    ports, seen = start_with(store)
    assert seen["state"] == "BACKUP"
    ops = ports.addresses.ops  # type: ignore[attr-defined]
    assert ops[0] == ("remove", "eth0", (str(WEB),))  # the stale copy goes at start
    assert adverts(ports) == []
    return ports


def test_an_old_advert_starts_as_backup() -> None:
    _starts_as_before(FakeRecord(record(age=2.5)))


def test_another_boot_starts_as_backup() -> None:
    _starts_as_before(FakeRecord(record(age=0.5, boot_id="another-boot")))


def test_another_vhid_or_address_starts_as_backup() -> None:
    _starts_as_before(FakeRecord(record(age=0.5, vhid=2)))
    _starts_as_before(FakeRecord(record(age=0.5, addresses=("172.16.90.32/24",))))


def test_a_corrupt_record_is_set_aside_with_one_warning() -> None:
    for document in (ValueError("nested too deeply"), {"version": 9}, {
            **record(0.5), "vips": {"web": {**record(0.5)["vips"]["web"],
                                            "advert_at": float("nan")}}}, {
            **record(0.5), "vips": {"web": {**record(0.5)["vips"]["web"],
                                            "advert_at": 1e300}}}):
        ports = _starts_as_before(FakeRecord(document))  # type: ignore[arg-type]
        warnings = [m for m in ports.log.messages()  # type: ignore[attr-defined]
                    if m.startswith("resume record ignored")]
        assert len(warnings) == 1, warnings


def test_the_record_follows_mastership_and_the_last_advert() -> None:
    store = FakeRecord(None)
    start_with(store, leftover=False, until_t=1005.5)
    masters = [(round(t, 3), doc["vips"]) for t, doc in store.saved if doc["vips"]]
    assert masters[0][0] == 1003.0  # right after the takeover (after its advert)
    assert masters[0][1]["web"]["advert_at"] == 1003.0 + OFFSET
    assert masters[0][1]["web"]["vhid"] == 1
    assert store.saved[-1][1]["vips"] == {}  # the exit bowed out: nothing to resume
    times = [round(t, 3) for t, doc in store.saved if doc["vips"]]
    assert times[1:] == [1004.0, 1005.0]  # right after each advert, at most once a second
    assert all(b - a >= 0.9 for a, b in itertools.pairwise(times[1:]))
    assert {doc["boot_id"] for _, doc in store.saved} == {BOOT}


def test_a_failing_write_is_logged_once_and_the_daemon_runs_on() -> None:
    store = FakeRecord(None)
    store.fail = True
    ports, _ = start_with(store, leftover=False, until_t=1008.0)
    failures = [m for m in ports.log.messages()  # type: ignore[attr-defined]
                if m.startswith("cannot write the resume record")]
    assert len(failures) == 1
    assert adverts(ports) == [1003.0, 1004.0, 1005.0, 1006.0, 1007.0, 1008.0]


def test_a_resumed_vip_is_not_held_down() -> None:
    _, seen = start_with(FakeRecord(record(age=0.5)))
    assert not seen["held_down"]

