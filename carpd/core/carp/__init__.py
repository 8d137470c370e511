"""CARP (ucarp/BSD): the wire codec, the HMAC, the election rules and the election profile.
Nothing outside this package knows advbase, advskew, the HMAC or the replay counter."""
