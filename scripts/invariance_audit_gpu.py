"""Which operator of a Hugging Face model's forward makes a prompt's logits depend on its batch (GPU call script).

For each model of perf/suite/hf_generation.py (GPU_DIMS) and each mode (batch_invariant() on, off): prefill a
prompt alone, and inside a batch of prompts of the same length (no padding, so every operator's output for the
prompt is a slice of the batch's: rows [0:1] of a batched tensor, rows [0:L] of a flattened one). Every aten
operator is recorded with a TorchDispatchMode; the first operator whose output for the prompt differs while all
its tensor inputs were equal is where the batch gets in. Then the same prompt first in a right-padded batch of
longer prompts (the suite's test): equal logits or not, the first operator that differs there (the prompt's part of
a padded tensor is a prefix in every dimension), and the arguments SDPA got (mask, is_causal) alone and in that
batch.

    PYTHONPATH=.:kernels python3 scripts/invariance_audit_gpu.py [OUT_DIR]      (a GPU; writes audit.json there)

A check of the script on the CPU (tiny models, the routes on the CPU key, Triton under the interpreter):
    AUDIT_DEVICE=cpu TRITON_INTERPRET=1 PYTHONPATH=.:kernels python3 scripts/invariance_audit_gpu.py /tmp/audit
"""

from __future__ import annotations

import difflib
import json
import os
import sys
from pathlib import Path

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten

from perf_kernels.batch_invariant import batch_invariant
from perf.suite.hf_generation import CPU_DIMS, GPU_DIMS, build_model, prompts

DEVICE = os.environ.get("AUDIT_DEVICE", "cuda")
DIMS = CPU_DIMS if DEVICE == "cpu" else GPU_DIMS
DISPATCH_KEY = "CPU" if DEVICE == "cpu" else "CUDA"
BATCH = 8
LENGTH = 37


class Recorder(TorchDispatchMode):
    """Every aten call: its name, its tensor inputs and its first tensor output (cloned)."""

    def __init__(self):
        super().__init__()
        self.calls: list[tuple[str, list, torch.Tensor | None, dict]] = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        flat_in = [a for a in tree_flatten((args, kwargs))[0] if isinstance(a, torch.Tensor)]
        flat_out = [o for o in tree_flatten(out)[0] if isinstance(o, torch.Tensor)]
        note = {}
        if "scaled_dot_product" in str(func) or "attention" in str(func):
            mask = kwargs.get("attn_mask", next((a for a in args[3:] if isinstance(a, torch.Tensor)), None))
            note = {"op": str(func), "mask": None if mask is None else f"{tuple(mask.shape)} {mask.dtype}",
                    "is_causal": kwargs.get("is_causal", next((a for a in args[3:] if isinstance(a, bool)), None)),
                    "enable_gqa": kwargs.get("enable_gqa"), "q": tuple(args[0].shape), "k": tuple(args[1].shape)}
        self.calls.append((str(func), [t.detach().clone() for t in flat_in],
                           flat_out[0].detach().clone() if flat_out else None, note))
        return out


def prompt_part(alone: torch.Tensor, batched: torch.Tensor) -> torch.Tensor | None:
    """The prompt's part of a batched tensor, or None: the prompt is the batch's first sequence and its tokens come
    first (right padding), so in every dimension its part is a prefix: rows [0:1] of a batch dimension, positions
    [0:L] of a sequence dimension, rows [0:L] of a flattened (batch x sequence) one."""
    if alone.shape == batched.shape:
        return batched
    if alone.dim() == 0 or alone.dim() != batched.dim() or any(a > b for a, b in zip(alone.shape, batched.shape)):
        return None
    return batched[tuple(slice(0, a) for a in alone.shape)]


def same(a: torch.Tensor, b: torch.Tensor | None) -> bool:
    return b is not None and a.dtype == b.dtype and a.shape == b.shape and torch.equal(a, b)


def forward(model, ids: torch.Tensor, mask: torch.Tensor) -> tuple[Recorder, torch.Tensor, bool]:
    """The logits of a plain forward, the recorded calls of a second one, and whether recording kept the bits."""
    positions = torch.arange(ids.shape[1], device=ids.device).expand_as(ids)
    rec = Recorder()
    with torch.no_grad():
        plain = model(input_ids=ids, attention_mask=mask, position_ids=positions, use_cache=True).logits
        with rec:
            recorded = model(input_ids=ids, attention_mask=mask, position_ids=positions, use_cache=True).logits
    return rec, plain, bool(torch.equal(plain, recorded))


def first_origin(alone: Recorder, batch: Recorder) -> dict:
    """The first operator whose prompt output differs while its inputs were equal. The two runs' operator sequences
    are aligned first (a padded batch adds operators: the mask, repeated KV heads), and matched calls compared."""
    names_a, names_b = [c[0] for c in alone.calls], [c[0] for c in batch.calls]
    matcher = difflib.SequenceMatcher(None, names_a, names_b, autojunk=False)
    pairs = [(block.a + j, block.b + j) for block in matcher.get_matching_blocks() for j in range(block.size)]
    first_diff = None
    for i, k in pairs:
        (name, ins_a, out_a, note), (_, ins_b, out_b, note_b) = alone.calls[i], batch.calls[k]
        if out_a is None or out_a.dim() == 0:  # a full reduction over the batch differs by design
            continue
        part = prompt_part(out_a, out_b)
        if part is None or same(out_a, part):
            continue
        # inputs only the batch's call has (a padding mask) do not count: the prompt's own inputs decide
        inputs_equal = all(same(x, prompt_part(x, y)) for x, y in zip(ins_a, ins_b))
        entry = {"index": i, "op": name, "out_shape_alone": tuple(out_a.shape), "out_shape_batch": tuple(out_b.shape),
                 "max_abs_diff": float((out_a.float() - part.float()).abs().max()), "inputs_equal": inputs_equal,
                 "inputs": [f"{tuple(t.shape)} {t.dtype} stride {t.stride()}" for t in ins_a],
                 "inputs_batch": [f"{tuple(t.shape)} {t.dtype} stride {t.stride()}" for t in ins_b],
                 "note_alone": note, "note_batch": note_b}
        if first_diff is None:
            first_diff = entry
        if inputs_equal:
            return {"kind": "origin", **entry, "first_difference_index": first_diff["index"],
                    "aligned": f"{len(pairs)} of {len(names_a)} / {len(names_b)} calls"}
    return {"kind": "no difference" if first_diff is None else "difference without an origin", "first": first_diff,
            "aligned": f"{len(pairs)} of {len(names_a)} / {len(names_b)} calls"}


def audit(arch: str) -> dict:
    dims = DIMS[arch]
    model = build_model(dims, torch.bfloat16, DEVICE)
    rows = prompts(BATCH, dims.vocab, (LENGTH, LENGTH), seed=3)
    ids = torch.tensor(rows, device=DEVICE)
    ones = torch.ones_like(ids)
    padded_rows = [rows[0]] + prompts(BATCH - 1, dims.vocab, (LENGTH + 5, LENGTH + 40), seed=4)
    width = max(len(r) for r in padded_rows)
    pids = torch.zeros((BATCH, width), dtype=torch.long, device=DEVICE)
    pmask = torch.zeros_like(pids)
    for i, r in enumerate(padded_rows):
        pids[i, : len(r)] = torch.tensor(r, device=DEVICE)
        pmask[i, : len(r)] = 1
    found = {}
    for mode in ("batch_invariant", "torch"):
        ctx = batch_invariant(DISPATCH_KEY) if mode == "batch_invariant" else torch.no_grad()
        with ctx:
            rec_a, logits_a, kept_a = forward(model, ids[:1], ones[:1])
            rec_b, logits_b, kept_b = forward(model, ids, ones)
            rec_p, logits_p, _ = forward(model, pids, pmask)
        sdpa = lambda rec: [c[3] for c in rec.calls if c[3]][:1]  # noqa: E731 (the first layer's call)
        found[mode] = {
            "equal_length_batch_equal": bool(torch.equal(logits_a[0], logits_b[0])),
            "equal_length_max_diff": float((logits_a[0].float() - logits_b[0].float()).abs().max()),
            "padded_batch_equal": bool(torch.equal(logits_a[0], logits_p[0, :LENGTH])),
            "padded_max_diff": float((logits_a[0].float() - logits_p[0, :LENGTH].float()).abs().max()),
            "origin_equal_length": first_origin(rec_a, rec_b),
            "origin_padded": first_origin(rec_a, rec_p),
            "recording_kept_the_bits": kept_a and kept_b,
            "sdpa_alone": sdpa(rec_a), "sdpa_equal_length": sdpa(rec_b), "sdpa_padded": sdpa(rec_p),
            "operators": sorted({c[0] for c in rec_a.calls}),
        }
    del model
    if DEVICE == "cuda":
        torch.cuda.empty_cache()
    return {"model": dims.name, **found}


def main() -> None:
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(".")
    out.mkdir(parents=True, exist_ok=True)
    results = [audit(arch) for arch in ("llama", "gpt2")]
    (out / "audit.json").write_text(json.dumps(results, indent=1, default=str))
    for r in results:
        for mode in ("batch_invariant", "torch"):
            f = r[mode]
            o = f["origin_equal_length"]
            where = (f"{o['op']} #{o['index']} {o['out_shape_alone']}->{o['out_shape_batch']} diff {o['max_abs_diff']:.2e}"
                     if o["kind"] == "origin" else o["kind"])
            print(f"{r['model']:24} {mode:16} equal-length {'=' if f['equal_length_batch_equal'] else 'x'} "
                  f"padded {'=' if f['padded_batch_equal'] else 'x'} ({f['padded_max_diff']:.2e})  origin: {where}")
            o = f["origin_padded"]
            where = (f"{o['op']} #{o['index']} {o['out_shape_alone']}->{o['out_shape_batch']} diff {o['max_abs_diff']:.2e}"
                     f" inputs {o['inputs']} / {o['inputs_batch']}" if o["kind"] == "origin" else f"{o['kind']} ({o['aligned']})")
            print(f"{'':24} padded origin: {where}")
            print(f"{'':24} recording kept the bits: {f['recording_kept_the_bits']}; sdpa alone {f['sdpa_alone']} padded {f['sdpa_padded']}")


if __name__ == "__main__":
    main()
