"""Fixtures shared by the tests of carpd.config: `workdir` (a cwd with key files and scripts)."""

from tests.config.test_loader import workdir  # noqa: F401 (re-exported as a fixture)
