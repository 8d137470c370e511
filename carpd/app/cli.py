"""The `carpd` command: parse arguments, load the configuration, check it or run the daemon.

Owns: the command line (`carpd [--config PATH] [--node NAME] [--check | --cleanup]
[--version]`; `--node` picks the node of a file with per-node values; and `carpd convert
...`, handed to carpd.app.convert), the
`--check` summary and the exit codes: 0 valid / daemon exited cleanly, 2 invalid configuration
or usage (as argparse) and, for `--check`, a file that cannot work on this host (the host
checks of carpd.config.hostcheck), whatever `carpd.app.wiring.run` (or
`carpd.app.cleanup.cleanup` for `--cleanup`) returns otherwise: 1 a failure that a restart may
cure, 6 the daemon cannot start on this host as it is (carpd.driver.startup's
HostMismatchError: an interface missing, a source not on it, a VIP address that is the host's
own), which the unit does not restart.
Invariants: a configuration problem is one line `carpd: error: FILE:LINE: KEY: REASON` on stderr,
never a traceback; the password is never printed (only where it comes from).
Must not: hold protocol logic. The daemon (carpd.app.wiring.run, around carpd.driver.daemon) is
imported lazily so `--check` needs nothing but the config module and the pure core.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from carpd import __version__
from carpd.app.clustercheck import check_cluster, is_this_host
from carpd.config.hostcheck import HostFindings, check_host, describe_transport
from carpd.config.loader import Config, ConfigError, load_config
from carpd.core.carp.election import master_down_interval
from carpd.core.params import VipParams
from carpd.core.vrrp3.election import master_down_usec

DEFAULT_CONFIG = "/etc/carpd.toml"
EXIT_OK = 0
EXIT_INVALID = 2
INLINE = "inline"  # Config.password_sources value for an inline password


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="carpd", description="CARP (ucarp-compatible) virtual IP failover daemon.")
    parser.add_argument("--config", metavar="PATH", default=DEFAULT_CONFIG,
                        help=f"configuration file (default {DEFAULT_CONFIG})")
    parser.add_argument("--node", metavar="NAME", default=os.environ.get("CARPD_NODE") or None,
                        help="the node of [carpd] nodes to run as (default: $CARPD_NODE, "
                             "else this host's name)")
    parser.add_argument("--check", action="store_true",
                        help="validate the configuration, print one line per VIP and exit "
                             "(0 valid, 2 invalid)")
    parser.add_argument("--cleanup", action="store_true",
                        help="remove every configured VIP still on its interface and stop the "
                             "master units, then exit (systemd runs it after carpd exits: "
                             "ExecStopPost=); idempotent, needs no password")
    parser.add_argument("--version", action="version", version=f"carpd {__version__}")
    parser.epilog = ("`carpd convert keepalived FILE` prints the carpd.toml equivalent of a "
                     "keepalived.conf (see `carpd convert --help`).")
    return parser


def describe_vip(vip: VipParams, password_source: str) -> str:
    """One line for `--check`, e.g. `web: vhid 1 on eth0, 172.16.90.31/24, advbase 1 ...`."""
    if vip.protocol == "vrrp3":
        return _describe_vrrp(vip)
    down = master_down_interval(vip.advbase, vip.deadratio, vip.advskew)
    origin = "inline" if password_source == INLINE else f"from {password_source}"
    addresses = " ".join(str(a) for a in vip.addresses)
    return (f"{vip.name}: vhid {vip.vhid} on {vip.interface}, {addresses} "
            f"({describe_transport(vip)}), "
            f"advbase {vip.advbase} advskew {vip.advskew} (master-down {down:.2f} s), "
            f"preempt {'on' if vip.preempt else 'off'}, password {origin}")


def _describe_vrrp(vip: VipParams) -> str:
    """`api: VRRPv3 vrid 51 on eth0, ..., priority 150, advert_interval 0.10 s (master-down
    0.34 s while the master keeps it), preempt on`."""
    down = master_down_usec(vip.priority, vip.advert_interval_cs) / 1e6
    addresses = " ".join(str(a) for a in vip.addresses)
    return (f"{vip.name}: VRRPv3 vrid {vip.vhid} on {vip.interface}, {addresses} "
            f"({describe_transport(vip)}), priority {vip.priority}, advert_interval "
            f"{vip.advert_interval_cs / 100:.2f} s (master-down {down:.3f} s with a master at "
            f"that interval), preempt {'on' if vip.preempt else 'off'}")


def _check(config: Config, named: str | None) -> int:
    """The summary, after the checks against this host's addresses and, for a file with
    per-node values, the other nodes' (carpd.app.clustercheck) (errors: exit 2)."""
    cluster = check_cluster(config)
    findings = _host_findings(config) if is_this_host(named) else _elsewhere(config)
    for warning in (*cluster.warnings, *findings.warnings):
        print(f"carpd: warning: {warning}", file=sys.stderr)
    if findings.errors or cluster.errors:
        for error in (*cluster.errors, *findings.errors):
            print(f"carpd: error: {error}", file=sys.stderr)
        return EXIT_INVALID
    for line in cluster.lines:
        print(line)
    for vip in config.vips:
        print(describe_vip(vip, config.password_sources.get(vip.name, "?")))
    count = len(config.vips)
    print(f"OK: {count} VIP{'' if count == 1 else 's'} in {config.path}")
    return EXIT_OK


def _elsewhere(config: Config) -> HostFindings:
    print(f"carpd: note: checked as node {config.node}, which is not this host: the file is "
          "not checked against this host's interfaces and addresses", file=sys.stderr)
    return HostFindings()


def _host_findings(config: Config) -> HostFindings:
    """check_host against a snapshot of this host; skipped (with a warning) when the
    host's addresses cannot be read, e.g. --check run on another machine's file in a
    container without netlink."""
    try:
        from carpd.io.hostaddrs import host_addresses

        host = host_addresses()
    except (OSError, ImportError) as exc:
        print(f"carpd: warning: cannot read this host's addresses ({exc}); the file is not "
              "checked against this host", file=sys.stderr)
        return HostFindings()
    return check_host(config, host)


def _run_daemon(config: Config, node: str | None) -> int:
    """Hand over to the wiring (carpd.app.wiring builds the adapters around the driver); imported
    only when actually running, so --check works without the I/O dependencies."""
    from carpd.app.wiring import run

    return run(config, node)


def main(argv: Sequence[str] | None = None) -> int:
    arguments = sys.argv[1:] if argv is None else list(argv)
    if arguments[:1] == ["convert"]:
        from carpd.app.convert import main as convert  # a subcommand of its own

        return convert(arguments[1:])
    args = _parser().parse_args(arguments)
    if args.cleanup:
        from carpd.app.cleanup import cleanup  # netlink only when actually cleaning up

        return cleanup(args.config, args.node)
    try:
        config = load_config(args.config, node=args.node)
    except ConfigError as err:
        print(f"carpd: error: {err}", file=sys.stderr)
        return EXIT_INVALID
    for warning in config.warnings:
        print(f"carpd: warning: {warning}", file=sys.stderr)
    if args.check:  # a --node other than $CARPD_NODE may name another host
        return _check(config, None if args.node == os.environ.get("CARPD_NODE") else args.node)
    return _run_daemon(config, args.node)
