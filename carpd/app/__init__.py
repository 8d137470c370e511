"""The application: the `carpd` command line, the wiring of the real adapters around the
driver, the SIGHUP reloader and the `--cleanup` pass. The only layer that imports everything."""
