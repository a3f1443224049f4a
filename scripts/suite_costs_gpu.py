"""Where the longest benchmarks of a suite run spend their time (issue 12's wall time), on one GPU.

    OUT=out PYTHONPATH=. python3 scripts/suite_costs_gpu.py            # the parent: runs the children below
    PYTHONPATH=. python3 scripts/suite_costs_gpu.py --child model      # one child (a fresh process)

The -n 4 runs of round 6 had a few items far longer than the ~0.45 s of a short benchmark: the invariant
model generations (26-28 s each against 7-9 s for torch's path), test_model_invariance (10-18 s) and decode
attention MHA b64 L32768 with our kernel (17-18 s; torch's item of the same shape 0.7 s). Each child times
the phases of such an item in a fresh process: building, verifying, the first and second calls, and the
suite's measurement, and counts the files in Triton's cache. The model child runs twice on one cache (cold,
then warm), so the compile cost and the rest are told apart.

Writes $OUT/suite_costs.json; prints a short table last.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def _files(folder: str) -> int:
    return sum(len(names) for _, _, names in os.walk(folder)) if os.path.isdir(folder) else 0


def _target():
    from perf import gpus
    from perf.measure.target import Target

    present = gpus.detect()
    return Target(gpu=present, present=present)


def _sync():
    import torch

    torch.cuda.synchronize()


def _phase(rows: list, item: str, name: str, fn):
    t0 = time.perf_counter()
    out = fn()
    _sync()
    rows.append({"item": item, "phase": name, "s": round(time.perf_counter() - t0, 3)})
    return out


def child_model(rows: list) -> None:
    from perf_kernels import batch_invariant
    from perf.suite import model_invariance_specs as mis
    from perf.suite.hf_generation import build_model, greedy, prompts

    target = _target()
    p = mis.plan(target)
    for arch in ("llama", "gpt2"):
        dims = p.dims[arch]
        model = _phase(rows, arch, "build model", lambda: build_model(dims, target.torch_dtype(p.dtype), "cuda"))
        batch = prompts(p.throughput_batch, dims.vocab, p.prompt_lengths, seed=1)
        for mode in ("torch", "invariant"):
            def call():
                if mode == "invariant":
                    with batch_invariant("CUDA"):
                        return greedy(model, batch, p.steps)
                return greedy(model, batch, p.steps)
            for i in (1, 2, 3):
                _phase(rows, f"{arch}:{mode}", f"generate b{p.throughput_batch} call {i}", call)
            one = prompts(1, dims.vocab, p.prompt_lengths, seed=2)
            for n in (1, 3, 17):  # new batch shapes after the first: what a check's batches cost
                def small(n=n):
                    if mode == "invariant":
                        with batch_invariant("CUDA"):
                            return greedy(model, one * n, p.steps)
                    return greedy(model, one * n, p.steps)
                _phase(rows, f"{arch}:{mode}", f"generate b{n} first call", small)
        del model


def child_decode(rows: list) -> None:
    import torch

    from perf.measure import timing
    from perf.suite import decode_specs

    target = _target()
    wanted = {"attention:triton:bf16:mha-h32-kv32-d128:b64:L32768", "attention:torch:bf16:mha-h32-kv32-d128:b64:L32768",
              "attention:triton:bf16:gqa-h32-kv8-d128:b64:L32768"}
    for spec in decode_specs.attention_specs(target):
        if spec.id not in wanted:
            continue
        prepared = _phase(rows, spec.id, "build", lambda: spec.build(target))
        _phase(rows, spec.id, "first call", prepared.fn)
        _phase(rows, spec.id, "verify", prepared.verify)
        samples = _phase(rows, spec.id, "measure", lambda: timing.measure(prepared, target))
        rows.append({"item": spec.id, "phase": "median ms", "s": round(samples.summary().median_ms, 4)})
        del prepared
        torch.cuda.empty_cache()


CHILDREN = {"model": child_model, "decode": child_decode}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--child", choices=sorted(CHILDREN))
    args = parser.parse_args()
    if args.child:
        rows: list = []
        t0 = time.perf_counter()
        import torch

        torch.zeros(1, device="cuda")
        rows.append({"item": "process", "phase": "import torch + CUDA context", "s": round(time.perf_counter() - t0, 3)})
        CHILDREN[args.child](rows)
        print(json.dumps(rows))
        return
    out = Path(os.environ.get("OUT", "out"))
    out.mkdir(parents=True, exist_ok=True)
    cache = tempfile.mkdtemp(prefix="triton-cache-")
    env = dict(os.environ, TRITON_CACHE_DIR=cache)
    env.pop("TRITON_INTERPRET", None)
    runs = []
    for name, child in (("model, cold cache", "model"), ("model, warm cache", "model"), ("decode", "decode")):
        before = _files(cache)
        t0 = time.perf_counter()
        proc = subprocess.run([sys.executable, __file__, "--child", child], env=env, capture_output=True, text=True)
        wall = time.perf_counter() - t0
        lines = [line for line in proc.stdout.splitlines() if line.startswith("[")]
        runs.append({"run": name, "rc": proc.returncode, "wall_s": round(wall, 1), "cache_files_added": _files(cache) - before,
                     "rows": json.loads(lines[-1]) if lines else [], "stderr_tail": proc.stderr[-2000:]})
        (out / "suite_costs.json").write_text(json.dumps(runs, indent=1))
    for run in runs:
        print(f"== {run['run']}: rc {run['rc']}, {run['wall_s']} s, {run['cache_files_added']} files added to Triton's cache")
        if run["rc"]:
            print(run["stderr_tail"][-600:])
        for r in run["rows"]:
            print(f"  {r['item']:<52} {r['phase']:<34} {r['s']:>9}")


if __name__ == "__main__":
    main()
