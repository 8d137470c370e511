"""carpd: one CARP (ucarp-compatible) VIP failover daemon per server."""

__version__ = "0.1.0"
