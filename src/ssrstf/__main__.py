"""``python -m ssrstf`` runs the command-line interface."""

from ssrstf.cli import main

raise SystemExit(main())
