"""Stable journald MESSAGE_IDs and syslog priorities for carpd's structured records.

Owns: the 128-bit ids that `journalctl MESSAGE_ID=...` and the journal catalog use. Never
change an id once released: operators' alerts match on them.
"""

from __future__ import annotations

STATE_CHANGED = "92dd296804234c9298501830338ebcfa"
PACKET_DROPPED = "7a7fae6f4117476fbe3465e9ed975bba"
VIP_RECONCILED = "a44c27e29beb4277be4861ed84785f40"
IO_FAILURE = "792c7d7e10c4495c9155293334675e94"
DAEMON_LIFECYCLE = "6ec5c6d04a1c4cc196298b8ffdd195a8"
SCRIPT_RESULT = "2e7ad9ad74b846aabf4ffc508aa37ce6"

# syslog priorities
ERR, WARNING, NOTICE, INFO, DEBUG = 3, 4, 5, 6, 7
