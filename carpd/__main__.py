"""`python -m carpd`: the same as the `carpd` command."""

from carpd.cli import main

raise SystemExit(main())
