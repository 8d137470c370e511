"""The asyncio driver: clock, timer, action execution, per-VIP lanes, reload, and the port
protocols the adapters implement (adapters are injected; the driver never imports carpd.io)."""
