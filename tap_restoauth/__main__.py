"""`python -m tap_restoauth` and the `tap-restoauth` command: the tap's command line."""

import gc


def main() -> None:
    """Import the tap with the garbage collector paused, then run its command line.

    Importing it (singer-sdk most of all) builds a few hundred thousand objects that live
    until exit, and no garbage. The collector would scan them all, several times over,
    during the import and after it (about a third of `--about`'s CPU time): they are moved
    out of its sight instead (`gc.freeze`), as `sync_all` does again before a sync.
    """
    collecting = gc.isenabled()
    gc.disable()
    try:
        from tap_restoauth.tap import cli  # noqa: PLC0415
    finally:
        gc.freeze()
        if collecting:
            gc.enable()
    cli()


if __name__ == "__main__":
    main()
