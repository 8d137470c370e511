"""The configuration file: TOML -> frozen, checked objects with located errors (loader), the
VIP and check schemas, plain-value validators and the password sources."""
