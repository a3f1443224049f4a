"""Real model code under batch_invariant(): Hugging Face Llama and GPT-2 built from configs, random weights.

- test_model_invariance[<arch>]: a prompt's logits at every greedy step (prefill, then decode steps)
  alone and inside batches of other prompts of different lengths (padded after each prompt). Under the
  mode they must be bitwise equal (fails otherwise, naming the batch and the first step that differs);
  without it, the same comparison of torch's own path is reported, never failing (the audit). Findings go
  to the results file as "perf_model_invariance" and a table is printed (-s).
- test_model_generate[generate:<arch>:<mode>:...]: one batched greedy generation timed with and without
  the mode; the record's params give generated_tokens, so tokens/s = generated_tokens / median seconds,
  recorded as "perf_model_throughput". On a GPU the median is the device's work (the verdict's time) and
  `wall_tokens_per_s` the same from the wall time, host included.
"""

from __future__ import annotations

import statistics

import pytest

from perf.measure.requirements import unmet
from perf.suite.hf_generation import ARCHS, build_model
from perf.suite.model_invariance_specs import check, model_specs, plan


def perf_specs(target, options):
    return model_specs(target)


@pytest.mark.perf_expected_s(15)  # 8-22 s each on an H200
def test_model_generate(perf_spec, perf_measure, request):
    record = perf_measure(perf_spec)
    median_ms = record["summary"]["median_ms"]
    tokens = perf_spec.params["generated_tokens"]
    wall = statistics.median(record.get("wall_ms") or [median_ms])
    request.node.user_properties.append(("perf_model_throughput", {
        "arch": perf_spec.params["arch"], "mode": perf_spec.params["mode"], "generated_tokens": tokens,
        "median_ms": median_ms, "tokens_per_s": tokens / (median_ms * 1e-3), "method": record["method"],
        "wall_ms": wall, "wall_tokens_per_s": tokens / (wall * 1e-3),
    }))


@pytest.mark.perf_expected_s(12)  # 10-15 s each on an H200
@pytest.mark.parametrize("arch", ARCHS)
def test_model_invariance(arch, perf_target, request):
    reason = unmet(("transformers",), perf_target)
    p = plan(perf_target)
    if reason or p.mode_unavailable:
        pytest.skip(reason or p.mode_unavailable)
    dims = p.dims[arch]
    model = build_model(dims, perf_target.torch_dtype(p.dtype), perf_target.device)
    ours = check(model, p, dims.vocab, p.dispatch_key)
    torch_path = check(model, p, dims.vocab, None)
    finding = {
        "arch": arch, "model": dims.name, "dtype": p.dtype, "steps": p.steps, "device": perf_target.present.name,
        "invariant": [c.as_dict() for c in ours], "torch": [c.as_dict() for c in torch_path],
    }
    request.node.user_properties.append(("perf_model_invariance", finding))
    print(f"\n{dims.name} {p.dtype}: a prompt alone vs inside a batch, {p.steps} decode steps ('=' bitwise equal)")
    print(f"{'batch':>6} {'batch_invariant()':>20} {'max|diff|':>10} {'torch':>8} {'max|diff|':>10} {'first step':>10}")
    for a, b in zip(ours, torch_path):
        print(f"{a.batch:>6} {'=' if a.equal else 'x':>20} {a.max_abs_diff:>10.2e} {'=' if b.equal else 'x':>8} "
              f"{b.max_abs_diff:>10.2e} {'-' if b.first_step is None else b.first_step:>10}")
    failed = [c for c in ours if not c.equal]
    assert not failed, (
        f"{dims.name}: under batch_invariant() the prompt's logits differ from its logits alone in batches of "
        + ", ".join(f"{c.batch} (first at step {c.first_step}, max |diff| {c.max_abs_diff:.3e})" for c in failed)
    )
