"""`python -m tap_restoauth` runs the tap's command line."""

from tap_restoauth.tap import cli

cli()
