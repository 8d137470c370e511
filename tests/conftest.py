"""Suite-wide: how `scripts/test.sh` spreads the tests over pytest-xdist workers.

`--dist loadfile` keeps each test module on one worker, so a module's shared lab (a
module-scoped fixture: namespaces, daemons) is built once and its tests run in order; the
scheduler below also keeps every real-systemd test (tests/systemd, several files) on one
worker, so the .deb they share is built once per run in one checkout and the booted servers
never compete for it. The workers run side by side, two on a 2-core machine: the integration
tests mostly wait on protocol timers. Without xdist (`pytest` alone) nothing here applies.
"""

from __future__ import annotations

from typing import Any

try:
    from xdist.scheduler import LoadFileScheduling
except ImportError:  # pytest without xdist: no scheduling to shape
    LoadFileScheduling = None

SYSTEMD = "tests/systemd/"


if LoadFileScheduling is not None:
    class _ModuleScheduling(LoadFileScheduling):  # type: ignore[misc, valid-type]
        """One work unit per test file, and one for all of tests/systemd."""

        def _split_scope(self, nodeid: str) -> str:
            return SYSTEMD if nodeid.startswith(SYSTEMD) else str(super()._split_scope(nodeid))

    def pytest_xdist_make_scheduler(config: Any, log: Any) -> Any:
        if config.getvalue("dist") == "loadfile":
            return _ModuleScheduling(config, log)
        return None
