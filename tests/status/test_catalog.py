"""packaging/carpd.catalog, the text `journalctl -x` shows, names every state and reason the
state-change record can carry (it lagged behind: FAULT was missing)."""

from __future__ import annotations

import re
from pathlib import Path

from carpd.core.states import Reason, VhidState
from carpd.status.messages import STATE_CHANGED

CATALOG = Path(__file__).resolve().parents[2] / "packaging" / "carpd.catalog"


def entry(message_id: str) -> str:
    text = CATALOG.read_text()
    start = text.index(f"-- {message_id}\n")
    following = text.find("\n-- ", start + 1)
    return text[start:] if following < 0 else text[start:following]


def test_state_change_entry_names_every_state_and_reason() -> None:
    text = entry(STATE_CHANGED)
    words = set(re.findall(r"[a-z0-9_]+", text))
    assert {s.value for s in VhidState} <= set(re.findall(r"[A-Z]+", text))
    missing = []
    for reason in Reason:
        value = reason.value
        written = value in words or f"{value}_" in text or (  # demotion_*, fault_*
            value.endswith(("_lost", "_won")) and value.rsplit("_", 1)[0] in text)
        if not written:
            missing.append(value)
    assert missing == []
