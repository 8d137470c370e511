"""The configuration file: TOML -> frozen, checked objects with located errors (loader), the
key table (schema), line numbers (lines), plain-value validators (values), the check tables
(checks) and the password sources (secrets)."""
