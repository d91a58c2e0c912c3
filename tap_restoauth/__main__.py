"""`python -m tap_restoauth` and the `tap-restoauth` command: the tap's command line."""

import gc


def main() -> None:
    """Import the tap with the garbage collector paused, then run its command line.

    Importing it (singer-sdk most of all) builds a few hundred thousand long-lived
    objects and no garbage; with the collector on, each of its full passes re-scans
    all of them, several times over (~7% of `--about`).
    """
    collecting = gc.isenabled()
    gc.disable()
    try:
        from tap_restoauth.tap import cli  # noqa: PLC0415
    finally:
        if collecting:
            gc.enable()
    cli()


if __name__ == "__main__":
    main()
