"""The speed guard's table (benchmarks/compare.py): medians, ratios to the floor, start-up costs.

Plumbing only: no timing is asserted (benchmarks measure speed, tests behaviour).
"""

from __future__ import annotations

from benchmarks.compare import Timings, table
from benchmarks.instructions import Counted
from benchmarks.instructions import table as instruction_table


def _timings(**measures: tuple[float, ...]) -> Timings:
    timings = Timings()
    for measure, walls in measures.items():
        for wall in walls:
            timings.add(measure, wall, wall / 2)
    return timings


def test_the_table_shows_medians_the_ratio_to_the_floor_and_the_start_up_cost() -> None:
    floor = _timings(sync=(1.0, 9.0, 1.2), short=(0.2, 0.3, 0.25))
    builds = {
        "5120a15": _timings(sync=(1.5, 1.4, 1.6), about=(0.5, 0.6, 0.55), short=(0.8, 0.7, 0.75)),
        "this checkout": _timings(sync=(1.3, 1.3, 1.3), about=(0.4, 0.4, 0.4), short=(0.5, 0.5, 0.5)),
    }
    lines = table(floor, builds, records=200_000, short_records=20_000)
    assert lines[0].startswith("| build (wall time) | whole sync, 200,000 records |")
    assert lines[2] == "| floor (benchmarks/floor.py) | 1.20 s | 1.00x | - | 0.25 s | - |"
    assert lines[3] == "| 5120a15 | 1.50 s | 1.25x | 0.55 s | 0.75 s | 0.50 s |"
    assert lines[4] == "| this checkout | 1.30 s | 1.08x | 0.40 s | 0.50 s | 0.25 s |"
    cpu = table(floor, builds, records=200_000, short_records=20_000, cpu=True)
    assert cpu[0].startswith("| build (CPU time) |")
    assert cpu[3] == "| 5120a15 | 0.75 s | 1.25x | 0.28 s | 0.38 s | 0.25 s |"


def test_the_instruction_table_derives_the_per_page_and_fixed_parts_from_two_workloads() -> None:
    counted = [
        Counted("floor", long=4_400_000_000, short=800_000_000),  # 20 M a page, 0.4 G fixed
        # 26.67 M a page, 1.267 G fixed; its short run 1.0 G over the floor's
        Counted("this checkout", long=6_600_000_000, short=1_800_000_000, about=600_000_000),
    ]
    lines = instruction_table(counted, records=200_000, short_records=20_000)
    assert lines[0].startswith("| program (instructions, callgrind) | whole sync, 200,000 records |")
    assert lines[0].endswith("| `--about` | start-up cost (20,000-record run - floor's) |")
    assert lines[2] == "| floor | 4.400 G | 1.00x | 20.00 M | 1.00x | 0.400 G | - | - |"
    assert lines[3] == "| this checkout | 6.600 G | 1.50x | 26.67 M | 1.33x | 1.267 G | 0.600 G | 1.000 G |"
