"""The last lines of scripts/ab_gpu.sh: the self-test (each injected benchmark: the slowdown injected, the change
measured with its interval, the verdict; the false alarms among the rest; the interval widths per family; the
wall time per benchmark) and the real pair's largest changes.

    python3 scripts/ab_gpu_summary.py SELFTEST.json PAIR.json "KEY KEY ..."   (the injected keys)
"""

from __future__ import annotations

import json
import statistics
import sys
from pathlib import Path

from perf.report.text_table import format_table


def _pct(x) -> str:
    return "-" if x is None else f"{x:+.1%}"


def _load(path: str) -> dict | None:
    p = Path(path)
    if not p.exists():
        print(f"{path}: not written (see the phase's log)")
        return None
    return json.loads(p.read_text())


def selftest(doc: dict, injected: list[str]) -> None:
    ab = doc["ab"]
    rows = {b["key"]: b for b in ab["benchmarks"]}
    table = []
    for key in injected:
        b = rows.get(key)
        given = [r[key].get("injected") for r in ab["head_rounds"] if key in r and r[key].get("injected") is not None]
        table.append((key, _pct(statistics.median(given)) if given else "-", _pct(b and b["change"]),
                      f"[{_pct(b['low'])}, {_pct(b['high'])}]" if b and b["low"] is not None else "-",
                      b["verdict"] if b else "missing"))
    print(f"self-test: {ab['rounds_done']} rounds ({ab['order']}), threshold {ab['threshold']:.0%}, "
          f"{len(rows)} benchmarks, 2% injected into {len(injected)}")
    for line in format_table(("injected benchmark", "injected", "measured", "interval", "verdict"), table):
        print(line)
    caught = sum(1 for k in injected if rows.get(k, {}).get("verdict") == "regression")
    rest = [b for k, b in rows.items() if k not in injected]
    alarms = [b for b in rest if b["verdict"] == "regression"]
    unreliable = [b for b in rest if b["verdict"] == "unreliable"]
    print(f"caught {caught} of {len(injected)}; false alarms {len(alarms)} of {len(rest)} "
          f"({len(unreliable)} unreliable)")
    for b in alarms:
        print(f"  false alarm: {b['key']} {_pct(b['change'])} [{_pct(b['low'])}, {_pct(b['high'])}]")
    widths: dict[str, list[float]] = {}
    for b in rest:
        if b["low"] is not None:
            widths.setdefault(b["key"].split("/")[0], []).append(b["high"] - b["low"])
    print("interval width of the untouched benchmarks per family (median, max): " + "; ".join(
        f"{fam} {statistics.median(w):.2%}, {max(w):.2%}" for fam, w in sorted(widths.items())))
    n = max(len(rows), 1)
    print(f"wall time {ab['wall_s']:.0f} s: {ab['wall_s'] / n:.1f} s per benchmark for the whole A/B "
          f"({ab['wall_s'] / n / max(ab['rounds_done'], 1) / 2:.2f} s per benchmark and process)")


def pair(doc: dict) -> None:
    ab = doc["ab"]
    rows = sorted(ab["benchmarks"], key=lambda b: -abs(b["change"] or 0))
    counts: dict[str, int] = {}
    for b in rows:
        counts[b["verdict"]] = counts.get(b["verdict"], 0) + 1
    print(f"real pair {ab['base']['commit'][:10]} -> {ab['head']['commit'][:10]}: {len(rows)} benchmarks, "
          + ", ".join(f"{n} {v}" for v, n in sorted(counts.items())) + f"; wall time {ab['wall_s']:.0f} s")
    table = [(b["key"], _pct(b["change"]), f"[{_pct(b['low'])}, {_pct(b['high'])}]" if b["low"] is not None else "-",
              b["verdict"]) for b in rows[:8]]
    for line in format_table(("largest changes", "change", "interval", "verdict"), table):
        print(line)


def main(argv: list[str]) -> int:
    first, second, injected = argv[0], argv[1], argv[2].split()
    doc = _load(first)
    if doc:
        selftest(doc, injected)
    doc = _load(second)
    if doc:
        pair(doc)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
