"""Operator-facing work around the driver: operator commands, the watch stream and the
health-check runners' wiring. Never imports carpd.io."""
