"""A cloud claim through a master unit against a fake provider (docs/routed.md, "Clouds
without BGP"): carpd's unit port runs `systemctl --no-block start|stop`; here `systemctl` is a
script that plays systemd and the provider at once: a start is a claim API call that takes
0.3 s and records "claim" in the provider's ledger, a stop records "release". A VIP that
flaps MASTER -> BACKUP -> MASTER -> BACKUP faster than the provider answers ends released,
with no claim recorded after the last release, and the claims it did make in order."""

from __future__ import annotations

import asyncio
from pathlib import Path

from carpd.core.events import UnitJobFinished
from carpd.core.unitjobs import UnitJobResult
from carpd.io.units import SystemctlUnits

PROVIDER = """#!/bin/sh
# fake systemctl + provider: $1 = --no-block, $2 = start|stop, then the units
case "$2" in
  start) sleep 0.3; echo "claim $3" >> {ledger} ;;
  stop) echo "release $3" >> {ledger} ;;
esac
"""
CLAIM = ("claim-vip@web.service",)


def flap(tmp_path: Path, steps: list[str]) -> list[str]:
    ledger = tmp_path / "ledger"
    fake = tmp_path / "systemctl"
    fake.write_text(PROVIDER.format(ledger=ledger))
    fake.chmod(0o755)
    results: list[UnitJobFinished] = []

    async def main() -> None:
        units = SystemctlUnits(systemctl=str(fake))
        units.report_to(results.append)
        for verb in steps:
            (units.start_units if verb == "start" else units.stop_units)("web", CLAIM)
            await asyncio.sleep(0.05)  # transitions faster than the provider answers
        await units.drain(10.0)

    asyncio.run(main())
    assert {r.result for r in results} == {UnitJobResult.QUEUED}
    return ledger.read_text().split("\n")[:-1] if ledger.exists() else []


def test_a_flapping_vip_ends_released_and_never_claims_after_its_release(tmp_path: Path
                                                                         ) -> None:
    ledger = flap(tmp_path, ["start", "stop", "start", "stop", "start", "stop"])
    unit = CLAIM[0]
    assert ledger[-1] == f"release {unit}"
    assert ledger == [f"claim {unit}", f"release {unit}", f"release {unit}", f"release {unit}"]


def test_master_at_the_end_claims_last(tmp_path: Path) -> None:
    ledger = flap(tmp_path, ["start", "stop", "start", "stop", "start"])
    unit = CLAIM[0]
    assert ledger == [f"claim {unit}", f"release {unit}", f"release {unit}", f"claim {unit}"]
