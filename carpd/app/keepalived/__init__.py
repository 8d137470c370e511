"""Reading keepalived's configuration and translating it to carpd.toml (`carpd convert keepalived`).

lines.py reads the files as keepalived does (comments, includes, conditional lines, parameters),
conf.py turns the lines into a tree of statements, and the modules beside them map that tree
to carpd's keys (vips.py, checks.py, keywords.py) and write the TOML (toml.py).
"""
