"""The netlink adapter's dummy link for routed VIPs (NetlinkAddresses.ensure_dummy), inside a
lab namespace: it creates carpvip0 up and NOARP where the kernel has dummy links and says
EOPNOTSUPP where it has none; an existing link (lo) is left as it is."""

from __future__ import annotations

import errno
from collections.abc import Iterator

import pytest

from tests.integration.netns import Lab, have_lab_prerequisites
from tests.integration.routed_lab import kernel_has_dummy_links

pytestmark = pytest.mark.skipif(have_lab_prerequisites() is not None,
                                reason=str(have_lab_prerequisites()))

SNIPPET = """
import asyncio, json
from carpd.io.netlink import NetlinkAddresses

async def main():
    n = NetlinkAddresses()
    out = {"lo": await n.ensure_dummy("lo")}
    try:
        out["carpvip0"] = await n.ensure_dummy("carpvip0")
        out["again"] = await n.ensure_dummy("carpvip0")
    except OSError as exc:
        out["error"] = exc.errno
    await n.close()
    return out

print(json.dumps(asyncio.run(main())))
"""


@pytest.fixture(scope="module")
def lab() -> Iterator[Lab]:
    with Lab("rtdummy") as lab:
        lab.add_host("a", "172.16.91.1/24", 1)
        yield lab


def test_ensure_dummy(lab: Lab) -> None:
    result = lab.python("a", SNIPPET)
    assert isinstance(result, dict)
    assert result["lo"] is False
    if not kernel_has_dummy_links(lab, "a"):
        assert result == {"lo": False, "error": errno.EOPNOTSUPP}
        return
    assert (result["carpvip0"], result["again"]) == (True, False)
    link = lab.run("a", "ip", "-d", "link", "show", "carpvip0").stdout
    assert "dummy" in link and "NOARP" in link and ",UP" in link
