"""`python -m carpd`: the same as the `carpd` command."""

from carpd.app.cli import main

raise SystemExit(main())
