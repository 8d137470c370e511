"""`carpd --cleanup` removes only carpd's own copies of the VIPs (its mark, or the VIP's IPv4
label) and leaves an operator's copy of a VIP address in place, saying so."""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import ClassVar

import pytest

from carpd.app import cleanup
from carpd.core.addresses import AddressWithPrefix
from carpd.core.ownership import InterfaceAddress, owns
from tests.app.test_cleanup import write
from tests.driver.fakes import FakeLog

I = ipaddress.ip_interface  # noqa: E741


class FakeNetlink:
    listings: ClassVar[dict[str, list[InterfaceAddress]]] = {}

    async def listing(self, interface: str) -> tuple[InterfaceAddress, ...]:
        if interface not in self.listings:
            raise OSError(19, f"interface {interface} does not exist")
        return tuple(self.listings[interface])

    async def remove(self, interface: str, addresses: tuple[AddressWithPrefix, ...], *,
                     label: str) -> tuple[AddressWithPrefix, ...]:
        gone = [e for e in self.listings[interface] if e.address in addresses and owns(e, label)]
        for entry in gone:
            self.listings[interface].remove(entry)
        return tuple(e.address for e in gone)

    async def close(self) -> None:
        return


def test_only_carpds_copies_are_removed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    FakeNetlink.listings = {"eth0": [
        InterfaceAddress(I("192.0.2.1/24"), label="eth0"),
        InterfaceAddress(I("192.0.2.100/32"), label="eth0"),  # an operator's copy of web's
        InterfaceAddress(I("192.0.2.100/24"), marked=True, label="eth0:web")]}
    monkeypatch.setattr(cleanup, "NetlinkAddresses", FakeNetlink)
    log = FakeLog()
    found = cleanup.targets(write(tmp_path, key_exists=True))
    assert cleanup.asyncio.run(cleanup._remove_addresses(found, log)) == 1
    assert [e.address for e in FakeNetlink.listings["eth0"]] == [I("192.0.2.1/24"),
                                                                 I("192.0.2.100/32")]
    assert log.messages() == [
        "cleanup: vip web: 192.0.2.100/32 is already on eth0 and was not added by carpd (it "
        "has no carpd mark); carpd never takes or removes an address it did not add: use "
        "another VIP address or remove 192.0.2.100/32 from eth0; left in place",
        "cleanup: removed stale VIP 192.0.2.100/24 of vip web from eth0 (carpd did not release "
        "it)",
        "cleanup: vip mail: [Errno 19] interface eth1 does not exist"]


def test_an_ipv4_copy_with_the_vips_label_is_carpds(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """What a carpd without the mark (or a kernel that ignores IFA_PROTO) left."""
    FakeNetlink.listings = {"eth0": [InterfaceAddress(I("192.0.2.100/24"), label="eth0:web")],
                            "eth1": []}
    monkeypatch.setattr(cleanup, "NetlinkAddresses", FakeNetlink)
    found = cleanup.targets(write(tmp_path, key_exists=False))
    assert cleanup.asyncio.run(cleanup._remove_addresses(found, FakeLog())) == 1
    assert FakeNetlink.listings["eth0"] == []
