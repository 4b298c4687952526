"""Run every benchmark module in ``bench/`` (or the ones named on the command line)."""

from __future__ import annotations

import importlib
import pkgutil
import sys
from pathlib import Path


def _suites() -> list[str]:
    here = Path(__file__).parent
    return sorted(
        info.name for info in pkgutil.iter_modules([str(here)]) if not info.name.startswith("_")
    )


def main(argv: list[str]) -> int:
    """Run the named suites (default: all); each suite module exposes ``main(argv) -> int``."""
    names = argv or _suites()
    unknown = sorted(set(names) - set(_suites()))
    if unknown:
        print(f"unknown benchmark(s): {', '.join(unknown)}; choose from {', '.join(_suites())}")
        return 2
    status = 0
    for name in names:
        print(f"== bench/{name} ==", flush=True)
        module = importlib.import_module(f"bench.{name}")
        status = max(status, module.main([]))
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
