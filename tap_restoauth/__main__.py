"""`python -m tap_restoauth` and the `tap-restoauth` command: the tap's command line."""

import gc
import sys


def main() -> None:
    """Run the command line, importing no more than it needs.

    - singer-sdk's package `__init__` (targets, sinks, joblib) is not run: `lazy_sdk.py`.
    - `--about [--format F]` alone is answered from `about.py` without building the tap.
    - The tap is imported with the garbage collector paused: importing it (singer-sdk most
      of all) builds a few hundred thousand objects that live until exit, and no garbage.
      The collector would scan them all, several times over, during the import and after
      it (about a third of the import's CPU time): they are moved out of its sight instead
      (`gc.freeze`), as `sync_all` does again before a sync.
    """
    collecting = gc.isenabled()
    gc.disable()
    try:
        from tap_restoauth import lazy_sdk  # noqa: PLC0415

        lazy_sdk.defer_init()
        from tap_restoauth import about  # noqa: PLC0415

        about_format = about.about_format(sys.argv[1:])
        if about_format is not None:
            about.print_about(about_format)
            return
        from tap_restoauth.tap import cli  # noqa: PLC0415
    finally:
        gc.freeze()
        if collecting:
            gc.enable()
    cli()


if __name__ == "__main__":
    main()
