"""`python -m perf refresh --gpu H100 [-k EXPR] [pytest options]`: re-measure the selected benchmarks, merge
their entries into baselines/<GPU>.json (others are kept), write atomically and print what moved.

It runs the suite through pytest with --perf-refresh, so every option of the suite applies and is validated
the same way.
"""

from __future__ import annotations

import sys
from pathlib import Path

SUITE = Path(__file__).parent.parent / "suite"


def main(argv: list[str]) -> int:
    if argv and argv[0] in ("-h", "--help"):
        print(__doc__.strip())
        print("\nAll pytest options of the suite apply; see `pytest perf/ --help`, group 'perf'.")
        return 0
    import pytest

    args = [str(SUITE), "-p", "perf.plugin", "--perf-refresh", "-m", "timing", "-q", *argv]
    return int(pytest.main(args))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
