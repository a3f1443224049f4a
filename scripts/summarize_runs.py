"""Short table of a GPU session's runs (the last thing scripts/gpu_session.sh prints).

    python3 scripts/summarize_runs.py OUT_DIR
"""

from __future__ import annotations

import json
import statistics
import sys
from pathlib import Path


def main(out: Path) -> None:
    for name in ("refresh", "rerun", "inject"):
        paths = sorted(out.glob(f"{name}*.json"))
        if not paths:
            continue
        results = [r for p in paths for r in json.loads(p.read_text())["results"]]
        counts: dict[str, int] = {}
        for r in results:
            counts[r["verdict"]] = counts.get(r["verdict"], 0) + 1
        changes = [abs(r["change"]) for r in results if r.get("change") is not None]
        line = f"{name}: {len(results)} results, " + ", ".join(f"{n} {v}" for v, n in sorted(counts.items()))
        if changes:
            line += f"; |change| median {statistics.median(changes):.2%}, max {max(changes):.2%}"
        print(line)
        flagged = [r["key"] for r in results if r["verdict"] in ("regression", "unreliable")]
        if flagged:
            print("  flagged:", ", ".join(flagged[:10]))
        gemm = [r for r in results if r["family"] == "gemm" and r["params"].get("model") in ("gpt3-2.7b", "gpt3-2.7b-a20")]
        for r in gemm if name == "refresh" else ():
            print(f"  {r['id']:<45} {r['summary']['median_ms']:.4f} ms {r['tflops']:7.1f} TFLOP/s")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
