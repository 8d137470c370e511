"""The control socket's protocol, shared by the daemon and carpctl."""
