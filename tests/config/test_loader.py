"""carpd.config and the `carpd --check` command line: good files, one exact message per bad file,
warnings, and that the password never leaks."""

from __future__ import annotations

import ipaddress
import os
import shutil
from pathlib import Path

import pytest

from carpd.app.cli import main
from carpd.config.loader import Config, ConfigError, load_config
from carpd.core.params import Secret

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "etc" / "carpd.toml.example"
PASSWORD = "Zq7-unique-Pw"  # distinctive, so a leak is easy to spot


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A temporary cwd holding a 0600 key file; configs are written as ./carpd.toml."""
    monkeypatch.chdir(tmp_path)
    key = tmp_path / "carp.key"
    key.write_bytes(PASSWORD.encode() + b"\n")
    key.chmod(0o600)
    script = tmp_path / "up.sh"
    script.write_text("#!/bin/sh\n")
    script.chmod(0o755)
    (tmp_path / "noexec.sh").write_text("#!/bin/sh\n")
    (tmp_path / "noexec.sh").chmod(0o644)
    (tmp_path / "empty.key").write_bytes(b"")
    (tmp_path / "empty.key").chmod(0o600)
    (tmp_path / "two.key").write_bytes(b"abc\ndef\n")
    (tmp_path / "two.key").chmod(0o600)
    return tmp_path


def write(workdir: Path, text: str, name: str = "carpd.toml") -> str:
    (workdir / name).write_text(text.replace("{dir}", str(workdir)))
    return name


def load(workdir: Path, text: str, **kwargs: object) -> Config:
    return load_config(write(workdir, text), **kwargs)  # type: ignore[arg-type]


# Lines: 1 [defaults], 2 interface, 3 password_file, 4 blank, 5 [vip.web], 6 vhid, 7 address.
BASE = """\
[defaults]
interface = "eth0"
password_file = "{dir}/carp.key"

[vip.web]
vhid = 1
address = "172.16.90.31/24"
"""
MAIL = """
[vip.mail]
vhid = 2
address = "172.16.90.32/24"
"""


def base(extra_web: str = "", extra_defaults: str = "", tail: str = "") -> str:
    """BASE with lines appended to [defaults] (before line 4) or to [vip.web] (after line 7)."""
    text = BASE.replace('carp.key"\n', 'carp.key"\n' + extra_defaults) + extra_web
    return text + tail


# ------------------------------------------------------------------------------ good files


def test_example_file_parses(workdir: Path) -> None:
    text = EXAMPLE.read_text().replace("/etc/carpd/carp.key", str(workdir / "carp.key"))
    config = load(workdir, text)
    assert config.path == "carpd.toml"
    assert config.control_socket == "/run/carpd/control.sock"
    assert config.state_directory == "/var/lib/carpd"
    assert config.warnings == ()
    web, mail = config.vips
    assert (web.name, web.vhid, web.interface, web.advskew) == ("web", 1, "eth0", 0)
    assert (mail.name, mail.vhid, mail.interface, mail.advskew) == ("mail", 2, "eth0", 100)
    assert web.addresses == (ipaddress.IPv4Interface("172.16.90.31/24"),)
    assert mail.addresses == (ipaddress.IPv4Interface("172.16.90.32/24"),)
    assert web.master_units == ("carpd-master@web.target",)
    assert mail.master_units == ("carpd-master@mail.target",)
    assert web.password == Secret(PASSWORD.encode())
    assert web.source is None and web.preempt and not web.l2_broadcast
    assert (web.advbase, web.deadratio, web.garp_count, web.garp_interval) == (1, 3, 3, 1.0)
    assert config.password_sources == {"web": f"file {workdir}/carp.key",
                                       "mail": f"file {workdir}/carp.key"}


def test_minimal_file_gets_every_default(workdir: Path) -> None:
    config = load(workdir, BASE)
    (vip,) = config.vips
    assert vip.advbase == 1 and vip.advskew == 0 and vip.deadratio == 3 and vip.preempt
    assert vip.multicast_group == ipaddress.IPv4Address("224.0.0.18")
    assert vip.master_units == ("carpd-master@web.target",)
    assert vip.upscript is None and vip.downscript is None and vip.xparam is None
    assert config.control_socket == "/run/carpd/control.sock"


def test_defaults_are_inherited_and_overridden(workdir: Path) -> None:
    text = base(extra_defaults='advskew = 50\npreempt = false\ngarp_count = 5\n'
                'source = "172.16.90.101"\nl2_broadcast = true\ngarp_interval = 2\n',
                tail=MAIL + 'advskew = 7\ninterface = "eth1"\n')
    config = load(workdir, text)
    web, mail = config.vips
    assert (web.advskew, mail.advskew) == (50, 7)
    assert (web.interface, mail.interface) == ("eth0", "eth1")
    assert not web.preempt and not mail.preempt
    assert web.garp_count == mail.garp_count == 5
    assert web.garp_interval == 2.0 and isinstance(web.garp_interval, float)
    assert web.source == ipaddress.IPv4Address("172.16.90.101") and web.l2_broadcast


def test_addresses_list_and_bare_address_is_a_host_route(workdir: Path) -> None:
    text = BASE.replace('address = "172.16.90.31/24"',
                        'addresses = ["172.16.90.31/24", "172.16.90.41"]')
    (vip,) = load(workdir, text).vips
    assert vip.addresses == (ipaddress.IPv4Interface("172.16.90.31/24"),
                             ipaddress.IPv4Interface("172.16.90.41/32"))


def test_vip_address_overrides_defaults_addresses(workdir: Path) -> None:
    text = base(extra_defaults='addresses = ["10.1.1.1/24"]\n')
    (vip,) = load(workdir, text).vips
    assert vip.addresses == (ipaddress.IPv4Interface("172.16.90.31/24"),)


def test_master_units_name_expansion(workdir: Path) -> None:
    text = base(extra_defaults='master_units = ["carpd-master@{name}.target", '
                '"vip-{name}.service", "nginx@{name}-1.service"]\n', tail=MAIL)
    web, mail = load(workdir, text).vips
    assert web.master_units == ("carpd-master@web.target", "vip-web.service",
                                "nginx@web-1.service")
    assert mail.master_units[:2] == ("carpd-master@mail.target", "vip-mail.service")


def test_empty_master_units_and_scripts(workdir: Path) -> None:
    text = base('master_units = []\nupscript = "{dir}/up.sh"\ndownscript = "{dir}/up.sh"\n'
                'xparam = "x y"\n')
    (vip,) = load(workdir, text).vips
    assert vip.master_units == ()
    assert vip.upscript == vip.downscript == str(workdir / "up.sh")
    assert vip.xparam == "x y"


def test_carpd_table(workdir: Path) -> None:
    text = '[carpd]\ncontrol_socket = "/run/x.sock"\nstate_directory = "/srv/carpd"\n' + BASE
    config = load(workdir, text)
    assert (config.control_socket, config.state_directory) == ("/run/x.sock", "/srv/carpd")


def test_password_credential_from_environ(workdir: Path) -> None:
    creds = workdir / "creds"
    creds.mkdir()
    (creds / "carp").write_bytes(b"credpw\n")
    text = BASE.replace('password_file = "{dir}/carp.key"', 'password_credential = "carp"')
    config = load(workdir, text, environ={"CREDENTIALS_DIRECTORY": str(creds)})
    assert config.vips[0].password == Secret(b"credpw")
    assert config.password_sources == {"web": "credential carp"}
    assert config.warnings == ()


@pytest.mark.parametrize(("content", "expected"), [
    (b"pw\n", b"pw"), (b"pw\r\n", b"pw"), (b"pw", b"pw"), (b"p w\t", b"p w\t"),
    (b"x" * 19 + b"\n", b"x" * 19),
])
def test_password_file_strips_one_line_ending_only(workdir: Path, content: bytes,
                                                   expected: bytes) -> None:
    (workdir / "carp.key").write_bytes(content)
    assert load(workdir, BASE).vips[0].password == Secret(expected)


def test_world_readable_key_file_is_a_warning(workdir: Path) -> None:
    (workdir / "carp.key").chmod(0o644)
    config = load(workdir, BASE + MAIL)
    assert config.warnings == (
        f"carpd.toml:3: defaults.password_file: {workdir}/carp.key is readable by group or "
        f"others (mode 0644); run chmod 600 {workdir}/carp.key",)


def test_crlf_key_file_is_a_located_warning(workdir: Path) -> None:
    (workdir / "carp.key").write_bytes(PASSWORD.encode() + b"\r\n")
    config = load(workdir, BASE + MAIL)
    assert config.warnings == (
        f"carpd.toml:3: defaults.password_file: {workdir}/carp.key ends in CRLF (\\r\\n): carpd "
        "ignores the \\r but ucarp keeps it as part of the password, so a ucarp peer using this "
        f"file fails authentication; remove it: sed -i 's/\\r$//' {workdir}/carp.key",)


def test_inline_password_is_a_warning(workdir: Path) -> None:
    text = BASE.replace('password_file = "{dir}/carp.key"', f'password = "{PASSWORD}"')
    config = load(workdir, text)
    assert config.warnings == (
        "carpd.toml:3: defaults.password: the password is written in the config file; prefer "
        "password_file (mode 0600) or password_credential (systemd LoadCredential=)",)
    assert config.vips[0].password == Secret(PASSWORD.encode())
    assert config.password_sources == {"web": "inline"}


def test_advbase_zero_with_skew_is_accepted_with_a_warning(workdir: Path) -> None:
    config = load(workdir, base("advbase = 0\nadvskew = 128\n"))
    assert config.vips[0].advbase == 0
    assert config.warnings == (
        "carpd.toml:8: vip.web.advbase: advbase 0: the master-down interval is only "
        "advskew/256 s, a single late advert causes a takeover",)


def test_quoted_keys_and_headers_still_get_lines(workdir: Path) -> None:
    text = BASE.replace("[vip.web]", '[ vip . "web" ]').replace("vhid = 1", '"vhid" = 0')
    with pytest.raises(ConfigError) as info:
        load(workdir, text)
    assert str(info.value) == "carpd.toml:6: vip.web.vhid: 0 is out of range: must be an " \
                              "integer 1..255"


def test_config_error_attributes(workdir: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load(workdir, base("advskew = 300\n"))
    err = info.value
    assert (err.file, err.line, err.key) == ("carpd.toml", 8, "vip.web.advskew")
    assert err.reason == "300 is out of range: must be an integer 0..254"
    assert str(ConfigError("f.toml", None, "", "x")) == "f.toml: x"


# ------------------------------------------------------------------------------- bad files

P = "carpd.toml"
BAD: list[tuple[str, str, str]] = [
    ("vhid-zero", BASE.replace("vhid = 1", "vhid = 0"),
     f"{P}:6: vip.web.vhid: 0 is out of range: must be an integer 1..255"),
    ("vhid-256", BASE.replace("vhid = 1", "vhid = 256"),
     f"{P}:6: vip.web.vhid: 256 is out of range: must be an integer 1..255"),
    ("vhid-bool", BASE.replace("vhid = 1", "vhid = true"),
     f"{P}:6: vip.web.vhid: must be an integer 1..255, not a boolean"),
    ("vhid-string", BASE.replace("vhid = 1", 'vhid = "1"'),
     f"{P}:6: vip.web.vhid: must be an integer 1..255, not a string (remove the quotes)"),
    ("vhid-float", BASE.replace("vhid = 1", "vhid = 1.5"),
     f"{P}:6: vip.web.vhid: must be an integer 1..255, not a float"),
    ("advskew-255", base("advskew = 255\n"),
     f"{P}:8: vip.web.advskew: 255 is out of range: must be an integer 0..254"),
    ("advbase-256", base("advbase = 256\n"),
     f"{P}:8: vip.web.advbase: 256 is out of range: must be an integer 1..255 "
     "(0 only with advskew > 0)"),
    ("advbase-zero", base("advbase = 0\n"),
     f"{P}:8: vip.web.advbase: advbase 0 requires advskew > 0 (as ucarp)"),
    ("advbase-zero-inherited", base(extra_defaults="advbase = 0\n"),
     f"{P}:4: defaults.advbase: advbase 0 requires advskew > 0 (as ucarp) "
     "(inherited by vip.web)"),
    ("deadratio-zero", base("deadratio = 0\n"),
     f"{P}:8: vip.web.deadratio: 0 is out of range: must be an integer >= 1"),
    ("preempt-string", base(extra_defaults='preempt = "yes"\n'),
     f"{P}:4: defaults.preempt: must be true or false, not a string"),
    ("unknown-key", base("advskw = 10\n"),
     f"{P}:8: vip.web.advskw: unknown key; did you mean 'advskew'?"),
    ("unknown-key-defaults", base(extra_defaults='intreface = "eth1"\n'),
     f"{P}:4: defaults.intreface: unknown key; did you mean 'interface'?"),
    ("unknown-key-far", base("colour = 1\n"),
     f"{P}:8: vip.web.colour: unknown key; known: interface, protocol, vhid, vrid, "
     "address, addresses, advbase, advskew, deadratio, preempt, priority, owner, "
     "advert_interval, preempt_delay, accept_mode, vrrp_checksum, password_file, "
     "password_credential, password, "
     "source, source6, multicast_group, l2_broadcast, peers, peer_ttl, accept_ttl, "
     "accept_source, accept_multicast, garp_count, garp_interval, garp_refresh_interval, "
     "na_count, na_interval, "
     "na_router, deprecate_ipv6_vip, master_units, upscript, downscript, xparam, sync_group, "
     "require_units, check, placement, routed_interface"),
    ("unknown-table", "[default]\n" + BASE,
     f"{P}:1: default: unknown table; did you mean 'defaults'?"),
    ("vip-key-at-top", "advskew = 1\n" + BASE,
     f"{P}:1: advskew: per-VIP keys belong in [defaults] or [vip.NAME]"),
    ("unknown-top-far", "[globals]\n" + BASE,
     f"{P}:1: globals: unknown table; known: carpd, defaults, vip"),
    ("vip-array-of-tables", BASE.partition("[vip.web]")[0] + "[[vip]]\nvhid = 1\n",
     f"{P}:5: vip: must be a table [vip], not an array"),
    ("vip-key-in-carpd", '[carpd]\ninterface = "eth0"\n' + BASE,
     f"{P}:2: carpd.interface: per-VIP keys belong in [defaults] or [vip.NAME], not [carpd]"),
    ("carpd-relative-socket", '[carpd]\ncontrol_socket = "run/carpd.sock"\n' + BASE,
     f"{P}:2: carpd.control_socket: 'run/carpd.sock' is not an absolute path"),
    ("vip-not-table", 'vip = "web"\n' + BASE.partition("[vip.web]")[0],
     f"{P}:1: vip: must be a table [vip], not a string"),
    ("no-vip", BASE.partition("[vip.web]")[0],
     f"{P}: vip: no [vip.NAME] table: at least one VIP is required"),
    ("bad-name", BASE.replace("[vip.web]", "[vip.Web]"),
     f"{P}:5: vip.Web: invalid VIP name 'Web': use 1-32 of a-z, 0-9, '_' and '-', starting "
     "with a letter or digit"),
    ("long-name", BASE.replace("[vip.web]", f"[vip.{'w' * 33}]"),
     f"{P}:5: vip.{'w' * 33}: invalid VIP name '{'w' * 33}': use 1-32 of a-z, 0-9, '_' and "
     "'-', starting with a letter or digit"),
    ("nested-table", BASE + "[vip.web.extra]\nx = 1\n",
     f"{P}:8: vip.web.extra: unexpected table; [vip.web] holds plain keys only"),
    ("missing-vhid", BASE.replace("vhid = 1\n", ""),
     f"{P}:5: vip.web.vhid: vhid is required (here or in [defaults])"),
    ("missing-interface", BASE.replace('interface = "eth0"\n', ""),
     f"{P}:4: vip.web.interface: interface is required (here or in [defaults])"),
    ("missing-address", BASE.replace('address = "172.16.90.31/24"\n', ""),
     f"{P}:5: vip.web.address: address or addresses is required (here or in [defaults])"),
    ("missing-password", BASE.replace('password_file = "{dir}/carp.key"\n', ""),
     f"{P}:4: vip.web.password_file: password_file or password_credential or password is "
     "required (here or in [defaults])"),
    ("bad-interface", BASE.replace('"eth0"', '"eth0:1"'),
     f"{P}:2: defaults.interface: 'eth0:1' is not a valid interface name (at most 15 bytes, "
     "no '/', ':' or spaces)"),
    ("long-interface", BASE.replace('"eth0"', '"a23456789012345x"'),
     f"{P}:2: defaults.interface: 'a23456789012345x' is not a valid interface name (at most "
     "15 bytes, no '/', ':' or spaces)"),
    ("address-and-addresses", base('addresses = ["172.16.90.33/24"]\n'),
     f"{P}:8: vip.web.addresses: address and addresses are exclusive; use one"),
    ("addresses-empty", BASE.replace('address = "172.16.90.31/24"', "addresses = []"),
     f"{P}:7: vip.web.addresses: must list at least one address"),
    ("addresses-not-list", BASE.replace('address = "172.16.90.31/24"',
                                        'addresses = "172.16.90.31/24"'),
     f"{P}:7: vip.web.addresses: must be an array of addresses, not a string"),
    ("addresses-twice", BASE.replace('address = "172.16.90.31/24"',
                                     'addresses = ["172.16.90.31/24", "172.16.90.31/32"]'),
     f"{P}:7: vip.web.addresses: 172.16.90.31 is listed twice"),
    ("address-garbage", BASE.replace("172.16.90.31/24", "172.16.90.300"),
     f"{P}:7: vip.web.address: '172.16.90.300' is not an IPv4 or IPv6 address or "
     "ADDRESS/PREFIX"),
    ("address-int", BASE.replace('"172.16.90.31/24"', "3"),
     f"{P}:7: vip.web.address: must be a string, not an integer"),
    ("address-multicast", BASE.replace("172.16.90.31/24", "224.0.0.5"),
     f"{P}:7: vip.web.address: 224.0.0.5 is a multicast address and cannot be a VIP"),
    ("address-loopback", BASE.replace("172.16.90.31/24", "127.0.0.2/8"),
     f"{P}:7: vip.web.address: 127.0.0.2 is a loopback address and cannot be a VIP"),
    ("address-unspecified", BASE.replace("172.16.90.31/24", "0.0.0.0"),
     f"{P}:7: vip.web.address: 0.0.0.0 is an unspecified address and cannot be a VIP"),
    ("address-network", BASE.replace("172.16.90.31/24", "172.16.90.0/24"),
     f"{P}:7: vip.web.address: 172.16.90.0 is the network address of 172.16.90.0/24 and "
     "cannot be a VIP"),
    ("address-broadcast", BASE.replace("172.16.90.31/24", "172.16.90.255/24"),
     f"{P}:7: vip.web.address: 172.16.90.255 is the broadcast address of 172.16.90.0/24 and "
     "cannot be a VIP"),
    ("duplicate-vhid", BASE + MAIL.replace("vhid = 2", "vhid = 1"),
     f"{P}:10: vip.mail.vhid: 1 is already used by vip.web on eth0"),
    ("duplicate-vhid-inherited",
     base(extra_defaults="vhid = 7\n").replace("vhid = 1\n", "") + MAIL.replace("vhid = 2\n", ""),
     f"{P}:4: defaults.vhid: 7 is already used by vip.web on eth0 (inherited by vip.mail)"),
    ("duplicate-address", BASE + MAIL.replace("172.16.90.32/24", "172.16.90.31/32"),
     f"{P}:11: vip.mail.address: 172.16.90.31 is already used by vip.web"),
    ("duplicate-vip-table", BASE + "[vip.web]\nvhid = 3\n",
     f"{P}:8: vip.web: the table [vip.web] is declared twice (first at line 5); write each "
     "table once and put all its keys there"),
    ("key-twice", BASE + "advskew = 3\nadvskew = 4\n",
     f"{P}:9: vip.web.advskew: set twice (first at line 8); keep one"),
    ("leading-zero", BASE.replace("vhid = 1", "vhid = 010"),
     f"{P}:6: vip.web.vhid: 010: TOML numbers have no leading zeros; write 10 (or 0o... for "
     "octal)"),
    ("bare-word", BASE.replace('"eth0"', "eth0"),
     f'{P}:2: defaults.interface: eth0 is not a TOML value: put a string in quotes ("eth0")'),
    ("bare-password", BASE + "password = hunter2\n",
     f"{P}:8: vip.web.password: not a TOML value: strings go in quotes, numbers and "
     "true/false are bare"),
    ("python-boolean", BASE + "preempt = True\n",
     f"{P}:8: vip.web.preempt: True is not a TOML boolean: write true or false"),
    ("syntax", BASE.replace("vhid = 1", "vhid = "),
     f"{P}:6: vip.web.vhid: no value after `=`"),
    ("syntax-eof", BASE + 'xparam = "unterminated\n',
     f"{P}:8: vip.web.xparam: the string is not closed: end it with the quote it starts with"),
    ("syntax-end-of-document", BASE + 'xparam = """never closed\n',
     f"{P}:8: vip.web.xparam: the string is not closed: end it with the quote it starts with"),
    ("unknown-parser-message", BASE + "[vip.mail\n",
     f"{P}:8: the table header is not closed: end it with ]"),
    ("password-file-missing", BASE.replace("carp.key", "nope.key"),
     f"{P}:3: defaults.password_file: cannot read {{dir}}/nope.key: No such file or directory"),
    ("password-file-relative", BASE.replace('"{dir}/carp.key"', '"carp.key"'),
     f"{P}:3: defaults.password_file: 'carp.key' is not an absolute path"),
    ("password-file-empty", BASE.replace("carp.key", "empty.key"),
     f"{P}:3: defaults.password_file: {{dir}}/empty.key is empty"),
    ("password-file-two-lines", BASE.replace("carp.key", "two.key"),
     f"{P}:3: defaults.password_file: {{dir}}/two.key has more than one line (ucarp reads the "
     "first only)"),
    ("password-too-long", BASE.replace('password_file = "{dir}/carp.key"',
                                       f'password = "{PASSWORD * 2}"'),
     f"{P}:3: defaults.password: password is {2 * len(PASSWORD)} bytes; CARP (ucarp) allows "
     "at most 19"),
    ("password-too-long-utf8", BASE.replace('password_file = "{dir}/carp.key"',
                                            'password = "ééééééééééé"'),
     f"{P}:3: defaults.password: password is 22 bytes; CARP (ucarp) allows at most 19"),
    ("password-not-string", BASE.replace('password_file = "{dir}/carp.key"', "password = 1234"),
     f"{P}:3: defaults.password: must be a string, not an integer"),
    ("password-two-kinds", base(f'password = "{PASSWORD}"\npassword_file = "/k"\n'),
     f"{P}:9: vip.web.password_file: password and password_file are exclusive; use one"),
    ("password-credential-no-env", BASE.replace('password_file = "{dir}/carp.key"',
                                                'password_credential = "carp"'),
     f"{P}:3: defaults.password_credential: CREDENTIALS_DIRECTORY is not set: "
     "password_credential needs systemd (LoadCredential= or SetCredential=)"),
    ("password-credential-slash", BASE.replace('password_file = "{dir}/carp.key"',
                                               'password_credential = "../carp"'),
     f"{P}:3: defaults.password_credential: '../carp' is not a credential name (no '/')"),
    ("source-garbage", base('source = "eth0"\n'),
     f"{P}:8: vip.web.source: 'eth0' is not an IPv4 address"),
    ("source-ipv6", base('source = "fe80::1"\n'),
     f"{P}:8: vip.web.source: 'fe80::1' is an IPv6 address: source is the IPv4 advert "
     "source; set source6 for IPv6"),
    ("source-multicast", base('source = "224.0.0.18"\n'),
     f"{P}:8: vip.web.source: 224.0.0.18 is a multicast address and cannot be an advert "
     "source"),
    ("multicast-group-unicast", base('multicast_group = "10.0.0.1"\n'),
     f"{P}:8: vip.web.multicast_group: 10.0.0.1 is not an IPv4 multicast address "
     "(224.0.0.0/4)"),
    ("garp-count", base("garp_count = 101\n"),
     f"{P}:8: vip.web.garp_count: 101 is out of range: must be an integer 0..100"),
    ("garp-interval-zero", base("garp_interval = 0\n"),
     f"{P}:8: vip.web.garp_interval: 0 is out of range: must be > 0 and <= 60 seconds"),
    ("garp-interval-big", base("garp_interval = 60.5\n"),
     f"{P}:8: vip.web.garp_interval: 60.5 is out of range: must be > 0 and <= 60 seconds"),
    ("garp-interval-nan", base("garp_interval = nan\n"),
     f"{P}:8: vip.web.garp_interval: nan is out of range: must be > 0 and <= 60 seconds"),
    ("garp-interval-string", base('garp_interval = "1s"\n'),
     f"{P}:8: vip.web.garp_interval: must be a number of seconds (0 < s <= 60), not a string"),
    ("master-units-placeholder", base('master_units = ["carpd@{vip}.target"]\n'),
     f"{P}:8: vip.web.master_units: 'carpd@{{vip}}.target': unknown placeholder {{vip}}; "
     "only {name} is expanded"),
    ("master-units-brace", base('master_units = ["carpd@{name.target"]\n'),
     f"{P}:8: vip.web.master_units: 'carpd@{{name.target': expected '}}' before end of "
     "string (write '{{' and '}}' for literal braces)"),
    ("master-units-string", base('master_units = "x.target"\n'),
     f"{P}:8: vip.web.master_units: must be an array of unit names, not a string"),
    ("upscript-relative", base('upscript = "up.sh"\n'),
     f"{P}:8: vip.web.upscript: 'up.sh' is not an absolute path"),
    ("upscript-missing", base('upscript = "/nonexistent/up.sh"\n'),
     f"{P}:8: vip.web.upscript: /nonexistent/up.sh does not exist or is not a regular file"),
    ("downscript-not-executable", base('downscript = "{dir}/noexec.sh"\n'),
     f"{P}:8: vip.web.downscript: {{dir}}/noexec.sh is not executable"),
    ("xparam-int", base("xparam = 1\n"),
     f"{P}:8: vip.web.xparam: must be a string, not an integer"),
    ("date-value", base("advskew = 1979-05-27\n"),
     f"{P}:8: vip.web.advskew: must be an integer 0..254, not a date/time"),
]


@pytest.mark.parametrize(("text", "expected"), [(t, e) for _, t, e in BAD],
                         ids=[name for name, _, _ in BAD])
def test_bad_file(workdir: Path, text: str, expected: str) -> None:
    with pytest.raises(ConfigError) as info:
        load(workdir, text)
    assert str(info.value) == expected.replace("{dir}", str(workdir))
    assert PASSWORD not in str(info.value)


def test_bad_table_is_big_enough() -> None:
    assert len(BAD) >= 30
    assert len({text for _, text, _ in BAD}) == len(BAD)


def test_missing_file_directory_and_bad_utf8(workdir: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_config("absent.toml")
    assert str(info.value) == "absent.toml: cannot read the file: No such file or directory"
    with pytest.raises(ConfigError) as info:
        load_config(workdir)
    assert str(info.value) == f"{workdir}: cannot read the file: Is a directory"
    (workdir / "latin1.toml").write_bytes(b"# ok\n# caf\xe9\n")
    with pytest.raises(ConfigError) as info:
        load_config("latin1.toml")
    assert str(info.value) == "latin1.toml:2: not valid UTF-8"


# ------------------------------------------------------------------------------------ CLI


def lab_host(monkeypatch: pytest.MonkeyPatch) -> None:
    """`--check` sees this host: eth0 with 172.16.90.101/24 (no carpd VIP on it)."""
    import ipaddress

    from carpd.core.ownership import InterfaceAddress
    from carpd.io import hostaddrs

    host = {"eth0": (InterfaceAddress(ipaddress.ip_interface("172.16.90.101/24"),
                                      label="eth0"),)}
    monkeypatch.setattr(hostaddrs, "host_addresses", lambda: host)


def test_cli_check_ok(workdir: Path, capsys: pytest.CaptureFixture[str],
                      monkeypatch: pytest.MonkeyPatch) -> None:
    lab_host(monkeypatch)
    path = write(workdir, base(tail=MAIL + "advskew = 100\npreempt = false\n"))
    assert main(["--check", "--config", path]) == 0
    out, err = capsys.readouterr()
    assert out.splitlines() == [
        "web: vhid 1 on eth0, 172.16.90.31/24 (IPv4, multicast), advbase 1 advskew 0 "
        "(master-down 3.00 s), "
        f"preempt on, password from file {workdir}/carp.key",
        "mail: vhid 2 on eth0, 172.16.90.32/24 (IPv4, multicast), advbase 1 advskew 100 "
        "(master-down 3.39 s), "
        f"preempt off, password from file {workdir}/carp.key",
        "OK: 2 VIPs in carpd.toml",
    ]
    assert err == ""


def test_cli_check_judges_peers_against_this_hosts_addresses(
        workdir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    lab_host(monkeypatch)
    own = write(workdir, base(tail='peers = ["172.16.90.101"]\n' + MAIL))
    assert main(["--check", "--config", own]) == 2
    out, err = capsys.readouterr()
    assert out == "" and "172.16.90.101 is an address of this host (on eth0)" in err
    far = write(workdir, base(tail='peers = ["10.9.0.2"]\n' + MAIL))
    assert main(["--check", "--config", far]) == 0
    out, err = capsys.readouterr()
    assert "10.9.0.2 is not on-link" in err and err.startswith("carpd: warning: ")
    assert "(IPv4, unicast to 1 peer)" in out


def test_cli_check_example(workdir: Path, capsys: pytest.CaptureFixture[str],
                           monkeypatch: pytest.MonkeyPatch) -> None:
    lab_host(monkeypatch)
    shutil.copy(EXAMPLE, workdir / "example.toml")
    text = (workdir / "example.toml").read_text()
    (workdir / "example.toml").write_text(text.replace("/etc/carpd/carp.key",
                                                       str(workdir / "carp.key")))
    assert main(["--check", "--config", "example.toml"]) == 0
    assert capsys.readouterr().out.endswith("OK: 2 VIPs in example.toml\n")


def test_cli_check_warnings_go_to_stderr(workdir: Path, capsys: pytest.CaptureFixture[str],
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    lab_host(monkeypatch)
    text = BASE.replace('password_file = "{dir}/carp.key"', f'password = "{PASSWORD}"')
    assert main(["--check", "--config", write(workdir, text)]) == 0
    out, err = capsys.readouterr()
    assert err.startswith("carpd: warning: carpd.toml:3: defaults.password: the password is ")
    assert "password inline" in out and "OK: 1 VIP in carpd.toml" in out
    assert PASSWORD not in out + err


@pytest.mark.parametrize(("target", "message"), [
    ("carpd.toml", "carpd.toml:6: vip.web.vhid: 0 is out of range: must be an integer 1..255"),
    ("missing.toml", "missing.toml: cannot read the file: No such file or directory"),
    (".", ".: cannot read the file: Is a directory"),
])
def test_cli_check_errors(workdir: Path, capsys: pytest.CaptureFixture[str], target: str,
                          message: str) -> None:
    write(workdir, BASE.replace("vhid = 1", "vhid = 0"))
    assert main(["--check", "--config", target]) == 2
    out, err = capsys.readouterr()
    assert (out, err) == ("", f"carpd: error: {message}\n")


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any file")
def test_cli_permission_denied(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(workdir, BASE)
    (workdir / path).chmod(0)
    assert main(["--check", "--config", path]) == 2
    assert capsys.readouterr().err == (
        "carpd: error: carpd.toml: cannot read the file: Permission denied\n")


def test_cli_permission_denied_any_user(workdir: Path, monkeypatch: pytest.MonkeyPatch,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    """The same without relying on file modes (tests may run as root)."""
    import carpd.config.reading

    def denied(*args: object, **kwargs: object) -> None:
        raise PermissionError(13, "Permission denied")

    path = write(workdir, BASE)
    monkeypatch.setattr(carpd.config.reading, "open", denied, raising=False)
    assert main(["--check", "--config", path]) == 2
    out, err = capsys.readouterr()
    assert (out, err) == ("", "carpd: error: carpd.toml: cannot read the file: "
                              "Permission denied\n")


def test_cli_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["--version"])
    assert info.value.code == 0
    assert capsys.readouterr().out == "carpd 0.1.0\n"


def test_password_never_leaks(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (workdir / "carp.key").chmod(0o644)
    inline = base(tail=MAIL + f'password = "{PASSWORD}"\n')
    config = load(workdir, inline)
    rendered = [repr(config), str(config), *config.warnings, *map(repr, config.vips),
                repr(config.password_sources)]
    assert all(PASSWORD not in text for text in rendered)
    assert len(config.warnings) == 2
    assert main(["--check", "--config", "carpd.toml"]) == 0
    out, err = capsys.readouterr()
    assert PASSWORD not in out + err


def example_blocks() -> dict[str, str]:
    """The commented examples of the example file ("# --- example: TITLE" .. "# --- end"),
    uncommented, by title."""
    blocks, title, lines = {}, None, []
    for line in EXAMPLE.read_text().splitlines():
        if line.startswith("# --- example: "):
            title, lines = line.removeprefix("# --- example: ").split(" (")[0], []
        elif line.startswith("# --- end") and title:
            blocks[title] = "\n".join(x[2:] for x in lines if x.startswith("# [") or
                                      (x.startswith("# ") and "=" in x and x[2] != " "))
            title = None
        elif title:
            lines.append(line)
    return blocks


def test_example_file_commented_examples_load(workdir: Path) -> None:
    blocks = example_blocks()
    assert set(blocks) == {"a dual-stack VIP", "a unicast pair", "peers behind a router"}
    text = EXAMPLE.read_text().replace("/etc/carpd/carp.key", str(workdir / "carp.key"))
    config = load(workdir, text + "\n" + "\n".join(blocks.values()) + "\n")
    assert config.warnings == ()
    api, db, dr = config.vips[2:]
    assert [str(a) for a in api.addresses] == ["172.16.90.33/24", "2001:db8:90::33/64"]
    assert not api.peers and len(api.families) == 2
    assert [str(p) for p in db.peers] == ["172.16.90.102", "fe80::12"]
    assert (dr.interface, dr.accept_ttl, [str(p) for p in dr.peers]) == (
        "eth1", 254, ["203.0.113.102"])


def test_cli_check_refuses_a_vip_equal_to_the_hosts_address(
        workdir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    lab_host(monkeypatch)
    path = write(workdir, base().replace("172.16.90.31/24", "172.16.90.101/24"))
    assert main(["--check", "--config", path]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err == (
        "carpd: error: carpd.toml:7: vip.web.address: 172.16.90.101/24 is already on eth0 and "
        "was not added by carpd (it has no carpd mark); carpd never takes or removes an "
        "address it did not add: use another VIP address or remove 172.16.90.101/24 from "
        "eth0\n")
