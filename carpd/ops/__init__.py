"""Operator-facing work around the driver: operator commands, the watch stream, the flags
that survive restarts and the health-check runners' wiring. Reaches the driver only through
carpd.ops.host.Driver; never imports carpd.io or the driver itself."""
