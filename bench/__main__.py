"""`make bench`: start the local services once, run every benchmark section, print the tables.

Sections are modules in this package with ``run(stack) -> list[tuple[title, rows]]``. Request
counts are deterministic and are what the budgets are about; times are medians on this machine
and only comparable within one run.
"""

from __future__ import annotations

import argparse
import importlib
import platform
import sys
import time
from pathlib import Path

from bench.table import render

SECTIONS = ["storage", "cache", "recall", "recall_quality", "cold_start", "peer"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make bench")
    parser.add_argument("sections", nargs="*", default=SECTIONS, help=f"any of {SECTIONS}")
    parser.add_argument("--out", default=".cache/bench-results.md", help="also write the tables here")
    args = parser.parse_args(argv)

    from bench.services import LocalServices

    started = time.perf_counter()
    output = [
        f"memkit bench — {platform.machine()}, Python {platform.python_version()}, "
        f"{time.strftime('%Y-%m-%d %H:%M')}\n"
    ]
    with LocalServices() as stack:
        for name in args.sections:
            module = importlib.import_module(f"bench.{name}")
            for title, rows in module.run(stack):
                table = render(title, rows)
                print(table, flush=True)
                output.append(table)
    output.append(f"total bench time: {time.perf_counter() - started:.0f} s\n")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text("\n".join(output))
    print(f"(tables written to {args.out})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
