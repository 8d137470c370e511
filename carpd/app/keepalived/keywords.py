"""What the converter says about keepalived keywords it does not map to a carpd key.

Owns: `Severity`, `Finding` (one line on stderr: `FILE:LINE: KEYWORD: SEVERITY: REASON`) and
the tables of keywords per block that carpd does not take, each with its severity and the
reason in carpd's terms. NOT_TRANSLATED and DIFFERS make `carpd convert` exit 1 (something the
operator configured is not carried over as it was); NOTE does not (the keyword has no effect
on the election in carpd, or carpd already behaves that way).
Keywords the mapping modules translate are not listed here; a keyword in no table and not
translated is reported as unknown (NOT_TRANSLATED), so nothing is dropped silently. The
keywords are keepalived 2.2.7's (keepalived.conf(5) and its vrrp_parser.c).
Must not: hold mapping logic.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from carpd.app.keepalived.lines import Where


class Severity(Enum):
    NOT_TRANSLATED = "not translated"
    DIFFERS = "translated with a difference"
    NOTE = "note"


@dataclass(frozen=True, slots=True)
class Finding:
    where: Where
    keyword: str
    severity: Severity
    reason: str

    def __str__(self) -> str:
        return f"{self.where}: {self.keyword}: {self.severity.value}: {self.reason}"


NT, DIFF, NOTE = Severity.NOT_TRANSLATED, Severity.DIFFERS, Severity.NOTE
Table = dict[str, tuple[Severity, str]]

NO_MAIL = "carpd sends no mail; every state change is a journal record (CARP_STATE=...) to alert on"
SCHEDULING = ("carpd's scheduling and memory are its systemd unit's business (Nice=, CPUAffinity=, "
              "CPUSchedulingPolicy=, MemoryLock via LimitMEMLOCK=)")
LVS = "carpd does no load balancing: keep keepalived (or ipvsadm) for the LVS part"
STRICT = ("carpd does not copy vrrp_strict: it installs no firewall rules, so a master accepts "
          "traffic to its VIPs (strict mode's no_accept; filter it in your firewall if needed), "
          "and it keeps its own receive checks")
NO_ACCEPT = ("carpd's VIPs are ordinary addresses, so a master always accepts traffic to them "
             "(accept_mode = false is refused); filter it in your firewall if needed")
FIFO = "carpd has no notify FIFO; `carpctl watch` streams every state change"
GARP = ("carpd announces a new master with garp_count/na_count (3) gratuitous ARPs/NAs, "
        "garp_interval/na_interval (1 s) apart, and no later refresh; set those keys if your "
        "switches need more")

TOP_LEVEL: Table = {
    "virtual_server": (NT, LVS),
    "virtual_server_group": (NT, LVS),
    "bfd_instance": (NT, "carpd has no BFD; a tcp or exec check can watch the peer instead"),
    "static_ipaddress": (NT, "carpd manages only its VIPs: put permanent addresses in the "
                             "network configuration"),
    "static_routes": (NT, "carpd manages only its VIPs: put permanent routes in the network "
                          "configuration"),
    "static_rules": (NT, "carpd manages only its VIPs: put permanent rules in the network "
                         "configuration"),
    "track_group": (NOTE, "used only by static addresses, routes and rules"),
    "linkbeat_interfaces": (NOTE, "carpd follows carrier through netlink on every interface"),
    "interface_up_down_delays": (NT, "carpd does not debounce link changes: a lost carrier is "
                                     "INIT at once"),
    "garp_group": (NOTE, GARP),
    "net_namespace": (NT, "run carpd in the namespace instead (ip netns exec, or the unit's "
                          "NetworkNamespacePath=)"),
}

GLOBAL_DEFS: Table = {
    "router_id": (NOTE, "keepalived's name for the host in mails and SNMP; carpd's status shows "
                        "the hostname"),
    "notification_email": (NOTE, "used only by smtp_alert"),
    "notification_email_from": (NOTE, "used only by smtp_alert"),
    "smtp_server": (NOTE, "used only by smtp_alert"),
    "smtp_connect_timeout": (NOTE, "used only by smtp_alert"),
    "smtp_helo_name": (NOTE, "used only by smtp_alert"),
    "no_email_faults": (NOTE, "used only by smtp_alert"),
    "smtp_alert": (NT, NO_MAIL),
    "smtp_alert_vrrp": (NT, NO_MAIL),
    "smtp_alert_checker": (NOTE, "about keepalived's LVS checkers"),
    "script_user": (NOTE, "applied to the converted checks (runuser); carpd runs up/down "
                          "scripts as its own user"),
    "enable_script_security": (NOTE, "carpd does not vet script paths: keep check commands and "
                                     "scripts writable by root only, which is what this enforced"),
    "vrrp_garp_master_delay": (NOTE, GARP),
    "vrrp_garp_master_repeat": (NOTE, GARP),
    "vrrp_garp_lower_prio_delay": (NOTE, GARP),
    "vrrp_garp_lower_prio_repeat": (NOTE, GARP),
    "vrrp_garp_master_refresh": (NOTE, "carpd does not refresh GARPs while MASTER: its adverts "
                                       "keep switches' MAC tables fresh and the first takeover "
                                       "announcement updates neighbours' caches"),
    "vrrp_garp_master_refresh_repeat": (NOTE, GARP),
    "vrrp_garp_interval": (NOTE, GARP),
    "vrrp_gna_interval": (NOTE, GARP),
    "vrrp_min_garp": (NOTE, GARP),
    "vrrp_garp_extra_if": (NOTE, GARP),
    "vrrp_lower_prio_no_advert": (NT, "a carpd MASTER always answers a lower-priority advert "
                                      "at once with its own and one round of GARPs/NAs (RFC "
                                      "9568, keepalived's default); it cannot be switched off"),
    "vrrp_higher_prio_send_advert": (NT, "carpd does not send a last advert before yielding "
                                         "to a higher priority"),
    "vrrp_down_timer_adverts": (NT, "carpd's Master_Down_Interval is always 3 intervals plus "
                                    "the skew, as RFC 5798 says"),
    "vrrp_strict": (DIFF, STRICT),
    "vrrp_iptables": (NOTE, "carpd installs no firewall rules"),
    "vrrp_ipsets": (NOTE, "carpd installs no firewall rules"),
    "nftables": (NOTE, "carpd installs no firewall rules"),
    "nftables_priority": (NOTE, "carpd installs no firewall rules"),
    "nftables_ifindex": (NOTE, "carpd installs no firewall rules"),
    "nftables_counters": (NOTE, "carpd installs no firewall rules"),
    "vrrp_skip_check_adv_addr": (NOTE, "carpd never compares an advert's address list (a MAY "
                                       "of RFC 5798), so there is nothing to skip"),
    "vrrp_notify_fifo": (NT, FIFO),
    "vrrp_notify_fifo_script": (NT, FIFO),
    "notify_fifo": (NT, FIFO),
    "notify_fifo_script": (NT, FIFO),
    "vrrp_notify_priority_changes": (NT, FIFO),
    "vrrp_priority": (NOTE, SCHEDULING),
    "vrrp_no_swap": (NOTE, SCHEDULING),
    "vrrp_rt_priority": (NOTE, SCHEDULING),
    "vrrp_cpu_affinity": (NOTE, SCHEDULING),
    "vrrp_rlimit_rttime": (NOTE, SCHEDULING),
    "max_auto_priority": (NOTE, SCHEDULING),
    "min_auto_priority_delay": (NOTE, SCHEDULING),
    "vrrp_process_name": (NOTE, "carpd is one process named carpd"),
    "process_names": (NOTE, "carpd is one process named carpd"),
    "process_name": (NOTE, "carpd is one process named carpd"),
    "instance": (NOTE, "one carpd per host reads one file"),
    "use_pid_dir": (NOTE, "carpd writes no pid file (systemd tracks it)"),
    "dynamic_interfaces": (NT, "carpd needs every VIP's interface at start (exit 6); it "
                               "follows an interface deleted and re-created later"),
    "vrrp_startup_delay": (NT, "carpd's boot hold-down waits for carrier, the source address, "
                               "require_units and every check's first result instead of a fixed "
                               "delay"),
    "vrrp_netlink_cmd_rcv_bufs": (NOTE, "carpd sizes its own sockets"),
    "vrrp_netlink_cmd_rcv_bufs_force": (NOTE, "carpd sizes its own sockets"),
    "vrrp_netlink_monitor_rcv_bufs": (NOTE, "carpd sizes its own sockets"),
    "vrrp_netlink_monitor_rcv_bufs_force": (NOTE, "carpd sizes its own sockets"),
    "vrrp_rx_bufs_policy": (NOTE, "carpd sizes its own sockets"),
    "vrrp_rx_bufs_multiplier": (NOTE, "carpd sizes its own sockets"),
    "vrrp_mcast_group4": (NT, "carpd's VRRP adverts go to 224.0.0.18, the group RFC 5798 "
                              "assigns"),
    "vrrp_mcast_group6": (NT, "carpd's VRRP adverts go to ff02::12, the group RFC 5798 assigns"),
    "default_interface": (NOTE, "used only by static addresses and VIPs without an interface"),
}
GLOBAL_PREFIXES: dict[str, tuple[Severity, str]] = {
    "lvs_": (NOTE, "about keepalived's LVS part"),
    "checker_": (NOTE, "about keepalived's LVS checkers"),
    "bfd_": (NOTE, "about keepalived's BFD part"),
    "enable_snmp": (NT, "carpd has no SNMP agent: metrics_textfile feeds node_exporter"),
    "snmp_": (NOTE, "about SNMP"),
    "enable_traps": (NOTE, "about SNMP"),
    "enable_dbus": (NT, "carpd's state is read through carpctl (status --json, watch)"),
    "dbus_": (NOTE, "about D-Bus"),
    "startup_script": (NT, "use an ExecStartPre= in a drop-in for carpd.service"),
    "shutdown_script": (NT, "use an ExecStopPost= in a drop-in for carpd.service"),
    "child_wait_time": (NOTE, "carpd is one process"),
    "config_save_dir": (NOTE, "about keepalived's own debugging"),
    "vrrp_check_unicast_src": (NOTE, ""),  # translated (accept_source); never reported
}

INSTANCE: Table = {
    "use_vmac": (NT, "carpd puts the VIPs on the interface itself, keepalived's default: no "
                     "macvlan; gratuitous ARPs and NAs move the address on takeover"),
    "use_vmac_addr": (NT, "carpd creates no VMAC interfaces"),
    "vmac_xmit_base": (NT, "carpd creates no VMAC interfaces"),
    "use_ipvlan": (NT, "carpd creates no ipvlan interfaces"),
    "vrf": (NT, "carpd binds to no VRF: run it inside the VRF (`ip vrf exec`)"),
    "native_ipv6": (NOTE, "the addresses decide the family in carpd too"),
    "dont_track_primary": (NT, "carpd always follows its interface: lost carrier is INIT"),
    "track_bfd": (NT, "carpd has no BFD; a tcp or exec check can watch the peer instead"),
    "track_src_ip": (NT, "carpd refuses to start when a configured source is not on the "
                         "interface (exit 6) but has no FAULT for a source removed later"),
    "mcast_dst_ip": (NT, "carpd's VRRP adverts go to the RFC 5798 groups (224.0.0.18, "
                         "ff02::12)"),
    "unicast_fault_no_peer": (NOTE, "carpd never falls back to multicast: no peers means "
                                    "multicast, configured peers mean unicast"),
    "old_unicast_checksum": (NT, "carpd sends the RFC 5798 checksum over the real destination "
                                 "(it accepts the old group-address form on receive); it never "
                                 "sends the old form"),
    "promote_secondaries": (NOTE, "carpd removes only its own addresses; set "
                                  "net.ipv4.conf.IFACE.promote_secondaries=1 yourself if other "
                                  "addresses share the VIP's prefix"),
    "linkbeat_use_polling": (NOTE, "carpd follows carrier through netlink"),
    "virtual_routes": (NT, "carpd moves addresses only: add the routes in a master unit "
                           "(master_units) or an upscript"),
    "virtual_rules": (NT, "carpd moves addresses only: add the rules in a master unit "
                          "(master_units) or an upscript"),
    "skip_check_adv_addr": (NOTE, "carpd never compares an advert's address list"),
    "strict_mode": (DIFF, STRICT),
    "no_accept": (NT, NO_ACCEPT),
    "debug": (NOTE, "carpd's log goes to the journal; `carpctl explain` shows the election"),
    "notify_stop": (NT, "carpd runs the downscript when a MASTER stops; there is no separate "
                        "stop hook"),
    "notify_deleted": (NT, "carpd has no hook for a VIP removed by a reload"),
    "notify_master_rx_lower_pri": (NT, "carpd has no hook for a lower-priority advert heard as "
                                       "MASTER"),
    "notify_priority_changes": (NT, FIFO),
    "smtp_alert": (NT, NO_MAIL),
    "lvs_sync_daemon_interface": (NOTE, "about keepalived's LVS part"),
    "garp_master_delay": (NOTE, GARP),
    "garp_master_repeat": (NOTE, GARP),
    "garp_master_refresh": (NOTE, GLOBAL_DEFS["vrrp_garp_master_refresh"][1]),
    "garp_master_refresh_repeat": (NOTE, GARP),
    "garp_lower_prio_delay": (NOTE, GARP),
    "garp_lower_prio_repeat": (NOTE, GARP),
    "garp_extra_if": (NOTE, GARP),
    "vmac_garp_intvl": (NOTE, GARP),
    "down_timer_adverts": GLOBAL_DEFS["vrrp_down_timer_adverts"],
    "lower_prio_no_advert": GLOBAL_DEFS["vrrp_lower_prio_no_advert"],
    "higher_prio_send_advert": GLOBAL_DEFS["vrrp_higher_prio_send_advert"],
    "kernel_rx_buf_size": (NOTE, "carpd sizes its own sockets"),
}

SYNC_GROUP: Table = {
    "notify_master": (NT, "carpd has no sync-group hooks: give the member VIPs master_units or "
                          "upscripts"),
    "notify_backup": (NT, "carpd has no sync-group hooks: give the member VIPs master_units or "
                          "downscripts"),
    "notify_fault": (NT, "carpd has no sync-group hooks"),
    "notify_stop": (NT, "carpd has no sync-group hooks"),
    "notify_deleted": (NT, "carpd has no sync-group hooks"),
    "notify": (NT, "carpd has no sync-group hooks; `carpctl watch` streams every state change"),
    "notify_priority_changes": (NT, FIFO),
    "smtp_alert": (NT, NO_MAIL),
    "track_bfd": INSTANCE["track_bfd"],
    "global_tracking": (NOTE, "keepalived's deprecated name for tracking on the group"),
}

SCRIPT: Table = {
    "init_fail": (NOTE, "carpd holds every VIP down (boot hold-down) until each check has "
                        "reported once, which is what this asked for"),
}

ADDRESS_OPTIONS: Table = {
    "label": (NOTE, "carpd labels its IPv4 addresses IFACE:NAME itself"),
    "-nodad": (NOTE, "carpd adds IPv6 VIPs without duplicate address detection anyway"),
    "no_track": (NOTE, "carpd puts a VIP removed behind its back back while MASTER"),
    "brd": (NT, "carpd adds the address with the broadcast its prefix implies"),
    "broadcast": (NT, "carpd adds the address with the broadcast its prefix implies"),
    "scope": (NT, "carpd adds VIPs with global scope"),
    "peer": (NT, "carpd adds no point-to-point addresses"),
    "home": (NT, "carpd does not set IFA_F_HOMEADDRESS"),
    "mngtmpaddr": (NT, "carpd does not set IFA_F_MANAGETEMPADDR"),
    "noprefixroute": (NT, "carpd lets the kernel add the prefix route"),
    "autojoin": (NT, "carpd adds no multicast VIPs"),
    "use_vmac": INSTANCE["use_vmac"],
    "track_group": (NOTE, "used only by static addresses"),
}


def global_entry(keyword: str) -> tuple[Severity, str] | None:
    """The table entry of a global_defs keyword, by name or by prefix."""
    if keyword in GLOBAL_DEFS:
        return GLOBAL_DEFS[keyword]
    for prefix, entry in GLOBAL_PREFIXES.items():
        if keyword.startswith(prefix):
            return entry
    return None


def unknown(where: Where, keyword: str, block: str) -> Finding:
    return Finding(where, keyword, NT, f"not a {block} keyword the converter knows "
                                       "(keepalived 2.2.7); nothing was made of it")
