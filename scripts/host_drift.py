"""How far a run's GPU sits from its baseline entries: verdict counts, every regression and unreliable result with
its measurements, and the median change (now / entry - 1) per family and provider; then decode MHA b1 L1k (triton).

    python3 scripts/host_drift.py RESULTS.json [RESULTS.json ...]
"""

from __future__ import annotations

import collections
import json
import statistics
import sys


def provider(record: dict) -> str:
    params = record.get("params") or {}
    return params.get("provider") or params.get("op") or "-"


def main() -> None:
    for path in sys.argv[1:]:
        rows = json.load(open(path))["results"]
        print(f"{path}: {len(rows)} results, " + ", ".join(
            f"{n} {v}" for v, n in collections.Counter(r["verdict"] for r in rows).most_common()))
        for r in rows:
            if r["verdict"] in ("regression", "unreliable"):
                steps = " | ".join(f"{m['change']:+.1%} {m['where']}" for m in r.get("measurements", [])
                                   if m.get("change") is not None)
                print(f"  {r['verdict']:<10} {r['key'][:80]:<80} {steps}")
        groups = collections.defaultdict(list)
        for r in rows:
            if r.get("change") is not None:
                groups[f"{r['family']}/{provider(r)}"].append(r["change"])
        every = [c for g in groups.values() for c in g]
        print(f"  median change, all {len(every)} compared: {statistics.median(every):+.2%}")
        for name in sorted(groups):
            g = groups[name]
            print(f"  {name:<22} {len(g):4d}  median {statistics.median(g):+.2%}  "
                  f"q1 {statistics.quantiles(g, n=4)[0]:+.2%}  q3 {statistics.quantiles(g, n=4)[2]:+.2%}"
                  if len(g) >= 4 else f"  {name:<22} {len(g):4d}  median {statistics.median(g):+.2%}")
        for r in rows:
            if r["key"] == "decode/attention:triton:bf16:mha-h32-kv32-d128:b1:L1024":
                print(f"  decode MHA b1 L1k triton: {1e3 * r['summary']['median_ms']:.2f} us ({r['method']}), "
                      f"{r['verdict']}")


if __name__ == "__main__":
    main()
