"""One line of a results file's verdict counts, then each regression (the tail of a GPU call's output).

    python3 scripts/verdict_counts.py RESULTS.json [LABEL]
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path


def main(path: Path, label: str) -> None:
    records = json.loads(path.read_text())["results"]
    counts = Counter(r["verdict"] for r in records)
    print(f"{label}{len(records)} results; " + ", ".join(f"{v} {n}" for v, n in sorted(counts.items())))
    for r in sorted(records, key=lambda r: r["key"]):
        if r["verdict"] == "regression":
            print(f"  regression: {r['key']} {r.get('change')}")


if __name__ == "__main__":
    main(Path(sys.argv[1]), sys.argv[2] + ": " if len(sys.argv) > 2 else "")
