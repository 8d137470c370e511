"""`carpctl doctor`: checks this host for what most often breaks VIP failover.

Owns: `run(status, unreachable, as_json) -> (text, exit status)`, which the carpctl
subcommand calls with the daemon's status document (None when the daemon is not reachable,
with the reason). The package: carpd.doctor.host reads the host (the only impure module),
carpd.doctor.parsers, carpd.doctor.nftables and carpd.doctor.iptables turn what it read into
values, carpd.doctor.firewall evaluates rule sets,
carpd.doctor.checks turns status and values into findings (OK, WARN, FAIL, each FAIL with
its fix). docs/troubleshooting.md explains every check.
Layering: like carpctl, this package imports only the standard library, carpd.control and
itself (tests/test_layering.py): it runs unprivileged next to the operator's shell, never
loads the daemon, and reaches the daemon only through the status document.
"""

from __future__ import annotations

import json
from typing import Any

EXIT_FAILED = 5  # a FAIL finding (carpctl's other exit statuses are 1 to 4)


def run(status: dict[str, Any] | None, unreachable: str = "", *, as_json: bool = False
        ) -> tuple[str, int]:
    from carpd.doctor.checks import Level, diagnose
    from carpd.doctor.host import gather

    findings = diagnose(status, gather(status), unreachable=unreachable)
    failed = any(f.level is Level.FAIL for f in findings)
    if as_json:
        text = json.dumps({"findings": [f.as_json() for f in findings],
                           "failed": failed}, indent=2)
    else:
        counts = {level: sum(f.level is level for f in findings) for level in Level}
        summary = ", ".join(f"{n} {level.name}" for level, n in counts.items())
        text = "\n".join([f.line() for f in findings] + [f"doctor: {summary}"])
    return text, EXIT_FAILED if failed else 0
