"""Suite-wide collection: how `scripts/test.sh` spreads the tests over pytest-xdist workers.

Each test module is one group (`--dist loadgroup`), so a module's shared lab (a module-scoped
fixture: namespaces, daemons) is built once, on one worker; every real-systemd test
(tests/systemd) is in one group, so the .deb they share is built once and the booted servers
never compete for it. The groups run side by side, two at a time on a 2-core machine: the
integration tests mostly wait on protocol timers. Without xdist (`pytest` alone) the marks
do nothing.
"""

from __future__ import annotations

import pytest


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        path = str(item.fspath).replace("\\", "/")
        group = "systemd" if "/tests/systemd/" in path else item.module.__name__ \
            if item.module is not None else path
        item.add_marker(pytest.mark.xdist_group(group))
