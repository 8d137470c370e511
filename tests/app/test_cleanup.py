"""`carpd --cleanup` reads the VIPs without needing the password (carpd.app.cleanup.targets)."""

from __future__ import annotations

import ipaddress
import os
from pathlib import Path

import pytest

from carpd.app.cleanup import targets
from carpd.config.reading import FileRefused

CONF = """\
[defaults]
interface = "eth0"
password_file = "{key}"

[vip.web]
vhid = 1
address = "192.0.2.100/24"

[vip.mail]
vhid = 2
addresses = ["192.0.2.101/24", "192.0.2.102"]
interface = "eth1"
master_units = ["carpd-master@{{name}}.target", "mail-{{name}}.service"]
"""


def write(tmp_path: Path, key_exists: bool) -> str:
    key = tmp_path / "carp.key"
    if key_exists:
        key.write_text("secret\n")
        key.chmod(0o600)
    path = tmp_path / "carpd.toml"
    path.write_text(CONF.format(key=key))
    return str(path)


@pytest.mark.parametrize("key_exists", [True, False], ids=["valid", "password-file-gone"])
def test_targets_with_and_without_a_readable_password(tmp_path: Path, key_exists: bool) -> None:
    found = targets(write(tmp_path, key_exists))
    assert [(t.name, t.interface, tuple(map(str, t.addresses)), t.units) for t in found] == [
        ("web", "eth0", ("192.0.2.100/24",), ("carpd-master@web.target",)),
        ("mail", "eth1", ("192.0.2.101/24", "192.0.2.102/32"),
         ("carpd-master@mail.target", "mail-mail.service")),
    ]
    assert all(isinstance(a, ipaddress.IPv4Interface) for t in found for a in t.addresses)


def test_unreadable_file_is_an_error_not_an_empty_list(tmp_path: Path) -> None:
    with pytest.raises(FileRefused, match="No such file"):
        targets(str(tmp_path / "missing.toml"))
    bad = tmp_path / "bad.toml"
    bad.write_text("[vip.web\n")
    with pytest.raises(FileRefused):
        targets(str(bad))
    fifo = tmp_path / "fifo.toml"
    os.mkfifo(fifo)
    with pytest.raises(FileRefused, match="FIFO"):  # never blocks ExecStopPost=
        targets(str(fifo))


def test_a_file_without_vips_has_nothing_to_clean(tmp_path: Path) -> None:
    path = tmp_path / "carpd.toml"
    path.write_text("# carpd is not configured yet\n")
    assert targets(str(path)) == []


PER_NODE = """\
[carpd]
nodes = ["web1", "web2"]

[defaults]
password_file = "{key}"
interface = {{ web1 = "eth0", web2 = "eth1" }}

[vip.web]
vhid = 1
address = "192.0.2.100/24"
master_units = {{ web1 = ["a-{{name}}.service"], web2 = ["b-{{name}}.service"] }}
"""


@pytest.mark.parametrize("key_exists", [True, False], ids=["valid", "password-file-gone"])
def test_targets_of_a_per_node_file_are_this_nodes(tmp_path: Path, key_exists: bool) -> None:
    key = tmp_path / "carp.key"
    if key_exists:
        key.write_text("secret\n")
        key.chmod(0o600)
    path = tmp_path / "carpd.toml"
    path.write_text(PER_NODE.format(key=key))
    found = targets(str(path), "web2")
    assert [(t.name, t.interface, t.units) for t in found] == [
        ("web", "eth1", ("b-web.service",))]  # never the node names as units
