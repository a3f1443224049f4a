"""`python -m perf decode-model RESULTS --model NAME [--batch B] [--budget TOKENS] [--prompt N] [--provider P]
[--csv FILE] [--plot FILE]`: the decode-step model of perf/report/decode_model.py (tokens/s, KV-cache memory, FLOPs
over steps) from a results file's decode measurements; exit 2 on bad input."""

from __future__ import annotations

import argparse
import json

from perf.report.decode_model import PROVIDER_ORDER, DecodeModelError, decode_frame, load_results, plot
from perf.shape import models


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m perf decode-model",
                                     description="Decode-step model (tokens/s, KV bytes, FLOPs over steps) from results")
    parser.add_argument("results", help="results JSON written by --perf-json (decode family included)")
    parser.add_argument("--model", action="append", required=True, help="registered model (repeatable)")
    parser.add_argument("--batch", type=int, action="append", help="batch size (repeatable; default 1)")
    parser.add_argument("--budget", type=int, action="append", help="KV budget in tokens (repeatable); "
                        "each model is also shown without one")
    parser.add_argument("--prompt", type=int, default=0, help="prompt tokens in the cache at step 0")
    parser.add_argument("--provider", choices=PROVIDER_ORDER, help="attention provider (default: triton, else torch)")
    parser.add_argument("--csv", help="write all rows to this CSV file")
    parser.add_argument("--plot", help="write the three-panel chart to this PNG file")
    args = parser.parse_args(argv)
    try:
        results = load_results(args.results)
        frame = decode_frame(results, args.model, args.batch or [1], [None, *(args.budget or [])],
                             prompt=args.prompt, provider=args.provider)
    except (OSError, json.JSONDecodeError, models.ModelConfigError, DecodeModelError) as exc:
        print(f"decode-model: {exc}")
        return 2
    shown = frame[frame["step"] % 2048 == 0]
    cols = ["model", "batch", "kv_budget", "step", "step_ms", "tokens_per_s", "kv_cache_gb", "gflops"]
    print(shown[cols].to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    if args.csv:
        frame.to_csv(args.csv, index=False)
        print(f"wrote {args.csv}")
    if args.plot:
        print(f"wrote {plot(frame, args.plot)}")
    return 0

