"""Live demo: two servers with crossed VIPs fail over in network namespaces on this machine.

Builds the seed topology (server web 172.16.90.101, server mail 172.16.90.102, a client
172.16.90.10 on one bridge), runs one carpd per server, pulls the web server's cable, plugs it
back, and prints what happens with timings. Everything lives in namespaces made here and is
removed at the end (also on Ctrl-C or failure); the machine's own interfaces are not touched.
"""

from __future__ import annotations

import signal
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from carpd.carpctl import render_table
from tests.integration.carpd_host import Carpd, Vip, wait_for
from tests.integration.netns import Lab, have_lab_prerequisites

WEB_VIP, MAIL_VIP = "172.16.90.31", "172.16.90.32"
T0 = time.monotonic()


def say(text: str) -> None:
    print(f"[{time.monotonic() - T0:7.2f}s] {text}", flush=True)


def show(node: Carpd) -> None:
    doc = node.status()
    print(f"\n--- carpctl status on server {node.host} ---")
    print(render_table(doc) if doc else "(not reachable)")
    print()


def holder(lab: Lab, vip: str) -> str:
    return ",".join(h for h in ("web", "mail") if lab.holds(h, vip)) or "nobody"


def reach(lab: Lab, vip: str) -> str:
    mac = lab.arp_probe("client", vip)
    who = {lab.hosts["web"].mac: "web", lab.hosts["mail"].mac: "mail"}.get(mac or "", mac)
    ok = lab.ping("client", vip)
    return f"{vip}: ARP answered by {who or 'nobody'}, ping {'ok' if ok else 'FAILED'}"


def main() -> int:
    why = have_lab_prerequisites()
    if why:
        print(f"demo: {why}", file=sys.stderr)
        return 1
    with Lab() as lab, tempfile.TemporaryDirectory(prefix="carpd-demo-") as tmp:
        say("building hosts: web 172.16.90.101, mail 172.16.90.102, client 172.16.90.10")
        lab.add_host("web", "172.16.90.101/24", 0x01)
        lab.add_host("mail", "172.16.90.102/24", 0x02)
        lab.add_host("client", "172.16.90.10/24", 0x10)
        web = Carpd(lab, "web", Path(tmp), [Vip("web", 1, WEB_VIP + "/24", 0),
                                            Vip("mail", 2, MAIL_VIP + "/24", 100)])
        mail = Carpd(lab, "mail", Path(tmp), [Vip("web", 1, WEB_VIP + "/24", 100),
                                              Vip("mail", 2, MAIL_VIP + "/24", 0)])
        try:
            return run(lab, web, mail)
        finally:
            for node in (web, mail):
                if node.proc and node.proc.poll() is None:
                    node.signal(signal.SIGTERM)
                    node.wait_exit()
            say("daemons stopped (bow-out sent, VIPs released); removing namespaces")


def run(lab: Lab, web: Carpd, mail: Carpd) -> int:
    say("starting carpd on both servers (web prefers VIP web, mail prefers VIP mail)")
    web.start()
    mail.start()
    settled = wait_for(lambda: web.states().get("web") == "MASTER"
                       and mail.states().get("mail") == "MASTER", 15)
    if settled is None:
        say("did not settle; logs follow")
        print(web.log_text(), mail.log_text())
        return 1
    say(f"settled after {settled:.2f}s (a lone start waits one master-down interval, 3 s)")
    show(web)
    show(mail)
    say(reach(lab, WEB_VIP))
    say(reach(lab, MAIL_VIP))

    say("pulling the cable of server web ...")
    lab.link("web", False)
    took = wait_for(lambda: holder(lab, WEB_VIP) == "mail", 10)
    say(f"mail took over VIP web after {took:.2f}s" if took is not None
        else "mail did NOT take over VIP web")
    show(mail)
    say(reach(lab, WEB_VIP))
    say(reach(lab, MAIL_VIP))

    say("plugging the cable back ...")
    lab.link("web", True)
    back = wait_for(lambda: holder(lab, WEB_VIP) == "web", 15)
    say(f"web preempted VIP web back after {back:.2f}s" if back is not None
        else "web did NOT take VIP web back")
    show(web)
    say(reach(lab, WEB_VIP))

    say("stopping carpd on web gracefully (SIGTERM: it bows out) ...")
    web.signal(signal.SIGTERM)
    bow = wait_for(lambda: holder(lab, WEB_VIP) == "mail", 5)
    say(f"mail took over VIP web {bow:.3f}s after the stop (no 3 s wait)" if bow is not None
        else "mail did NOT take over")
    web.wait_exit()
    ok = None not in (took, back, bow)
    say("demo finished: " + ("all failovers happened" if ok else "SOMETHING FAILED"))
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
