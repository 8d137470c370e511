"""`iptables-save` / `ip6tables-save` text to carpd.doctor.firewall's rule model.

Owns: `parse_iptables_save`. Tables raw, mangle, filter and security (nat is not traversed
by an advert's drop decisions), their built-in chains as base chains with the table's
priority and the chain's policy, user chains as jump targets; per rule the options the
evaluator understands (-p, -s, -d, -i, -o with `!`, conntrack/state --ctstate, pkttype),
-j/-g targets (ACCEPT, DROP, REJECT, RETURN, user chains; LOG, MARK and friends do not
decide), and any other option as undecidable with its text. `delete` is the -D command.
Must not: raise on odd input (a line it cannot split is a problem of the rule set).
"""

from __future__ import annotations

import shlex
from collections.abc import Iterator

from carpd.doctor.firewall import Chain, Field, Match, Rule, Ruleset, Verdict

IPT_HOOKS = {"PREROUTING": "prerouting", "INPUT": "input", "OUTPUT": "output",
             "POSTROUTING": "postrouting"}
IPT_PRIORITY = {"raw": -300, "mangle": -150, "nat": -100, "filter": 0, "security": 50}


def parse_iptables_save(text: str, family: str) -> Ruleset:
    """`family`: "iptables" (iptables-save) or "ip6tables" (ip6tables-save)."""
    ruleset = Ruleset(source=f"{family}-save")
    table = ""
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if line.startswith("*"):
            table = line[1:]
        elif line.startswith(":") and table:
            _ipt_chain(ruleset, family, table, line)
        elif line.startswith("-A ") and table:
            _ipt_rule(ruleset, family, table, line, number)
    return ruleset


def _ipt_chain(ruleset: Ruleset, family: str, table: str, line: str) -> None:
    parts = line[1:].split()
    name = parts[0] if parts else ""
    builtin = len(parts) > 1 and parts[1] != "-"
    ruleset.add(Chain(family, table, name,
                      hook=IPT_HOOKS.get(name) if builtin and table != "nat" else None,
                      priority=IPT_PRIORITY.get(table, 0),
                      policy=Verdict.DROP if builtin and parts[1] == "DROP" else Verdict.ACCEPT))


def _ipt_rule(ruleset: Ruleset, family: str, table: str, line: str, number: int) -> None:
    try:
        words = shlex.split(line)
    except ValueError:
        ruleset.problems.append(f"{ruleset.source} line {number}: cannot split {line!r}")
        return
    chain = ruleset.add(Chain(family, table, words[1]))
    matches, verdict, target = _ipt_words(iter(words[2:]))
    where = f"{family} -t {table} chain {chain.name}"
    chain.rules.append(Rule(tuple(matches), verdict, target=target,
                            text=f"{where}: {line}",
                            delete=f"{family} -t {table} {line.replace('-A ', '-D ', 1)}"))


IPT_SIMPLE = {"-p": Field.PROTO, "--protocol": Field.PROTO, "-s": Field.SADDR,
              "--source": Field.SADDR, "-d": Field.DADDR, "--destination": Field.DADDR,
              "-i": Field.IIF, "--in-interface": Field.IIF, "-o": Field.OIF,
              "--out-interface": Field.OIF, "--state": Field.CT_STATE,
              "--ctstate": Field.CT_STATE, "--pkt-type": Field.PKTTYPE}
IPT_TERMINAL = {"ACCEPT": Verdict.ACCEPT, "DROP": Verdict.DROP, "REJECT": Verdict.DROP,
                "RETURN": Verdict.RETURN}
IPT_NO_VERDICT = frozenset({"LOG", "NFLOG", "MARK", "CONNMARK", "CT", "NOTRACK", "TRACE",
                            "TOS", "DSCP", "TTL", "HL", "TCPMSS", "CLASSIFY", "AUDIT"})


def _ipt_words(words: Iterator[str]) -> tuple[list[Match], Verdict, str | None]:
    matches: list[Match] = []
    verdict, target, negate = Verdict.NONE, None, False
    for word in words:
        if word == "!":
            negate = True
            continue
        value = next(words, "")
        if word in ("-j", "--jump", "-g", "--goto"):
            verdict, target = _ipt_target(word, value)
        elif word in IPT_SIMPLE:
            values = tuple(v for v in value.split(",") if v)
            matches.append(Match(IPT_SIMPLE[word], values, negate, f"{word} {value}"))
        elif word == "--comment" or (word in ("-m", "--match") and value in
                                     ("comment", "state", "conntrack", "pkttype")):
            pass
        elif word.startswith("-"):
            matches.append(Match(Field.UNKNOWN, text=f"{'! ' if negate else ''}{word} {value}"))
        negate = False
    return matches, verdict, target


def _ipt_target(word: str, value: str) -> tuple[Verdict, str | None]:
    if value in IPT_TERMINAL:
        return IPT_TERMINAL[value], None
    if value in IPT_NO_VERDICT:
        return Verdict.NONE, None
    return (Verdict.GOTO if word in ("-g", "--goto") else Verdict.JUMP), value
