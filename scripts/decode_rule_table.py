"""Decode attention per shape from a kernel_explore_gpu.py results file: each variant's ratio to SDPA beside the
module's launch, so that a rule which lifts the worst shapes and one which only moves the median are told apart.

    python3 scripts/decode_rule_table.py OUT/kernel_explore.json
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def lines(rows: list[dict]) -> list[str]:
    decode = [r for r in rows if r.get("part") == "decode" and r.get("ratio") and r["variant"] != "sdpa"]
    variants = list(dict.fromkeys(r["variant"] for r in decode))
    out = ["shape".ljust(34) + "".join(v[:27].rjust(28) for v in variants)]
    for shape in dict.fromkeys(r["shape"] for r in decode):
        here = {r["variant"]: r for r in decode if r["shape"] == shape}
        out.append(shape.ljust(34) + "".join(
            (f"{here[v]['ratio']:.3f}" + ("" if here[v].get("bits_equal_default", True) else "*")).rjust(28)
            if v in here else "-".rjust(28) for v in variants))
    out.append("(* bits differ from the module's launch: another rule, fixed by the length alone)")
    return out


if __name__ == "__main__":
    print("\n".join(lines(json.loads(Path(sys.argv[1]).read_text()))))
