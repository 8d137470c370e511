"""VRRPv3 (RFC 5798): the message, its checksum forms, the election rules and the profile."""
