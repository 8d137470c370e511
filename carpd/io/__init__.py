"""Adapters to the real world: raw sockets, netlink, ARP, scripts, systemd units and the
control socket. Each module implements one Protocol of carpd.driver.ports; the core never imports
these modules."""
