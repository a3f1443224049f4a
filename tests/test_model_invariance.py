"""The model-invariance suite kind on the CPU: real transformers Llama and GPT-2 code, tiny configs, the routes on
the CPU key (Triton under the interpreter). The GPU run is perf/suite/test_model_invariance.py on the GPU."""

import dataclasses

import pytest
import torch

from perf.gpus import CPU, resolve
from perf.measure.target import Target
from perf.suite.hf_generation import CPU_DIMS, build_model, greedy, prompts
from perf.suite.model_invariance_specs import check, model_specs, plan

pytest.importorskip("transformers", reason="the test extra installs transformers")

ON_CPU = Target(gpu=CPU, present=CPU)
ON_GPU = Target(gpu=resolve("H100"), present=resolve("H100"))


@pytest.mark.parametrize("arch", ["llama", "gpt2"])
def test_a_prompt_keeps_its_bits_alone_and_in_padded_batches_under_the_mode(arch):
    p = plan(ON_CPU)
    assert p.mode_unavailable is None and p.dispatch_key == "CPU"  # tests/conftest.py sets TRITON_INTERPRET=1
    p = dataclasses.replace(p, steps=2, others=(2,))
    dims = CPU_DIMS[arch]
    model = build_model(dims, torch.float16, "cpu")
    results = check(model, p, dims.vocab, "CPU")
    assert [(c.batch, c.position) for c in results] == [(3, 1)]
    assert all(c.equal and c.max_abs_diff == 0.0 and c.first_step is None for c in results), results


def test_the_mode_changes_the_path_the_model_takes():
    # The routed kernels round differently from torch's CPU kernels: identical logits would mean nothing is routed.
    from perf_kernels import batch_invariant

    dims = CPU_DIMS["llama"]
    model = build_model(dims, torch.float16, "cpu")
    batch = prompts(2, dims.vocab, (3, 6), seed=4)
    plain = greedy(model, batch, steps=1)
    with batch_invariant("CPU"):
        routed = greedy(model, batch, steps=1)
    assert not torch.equal(plain, routed)
    assert (plain.float() - routed.float()).abs().max().item() < 5e-2


def test_greedy_over_a_right_padded_batch_chooses_what_hf_generate_chooses():
    dims = CPU_DIMS["gpt2"]
    model = build_model(dims, torch.float32, "cpu")
    batch = prompts(3, dims.vocab, (3, 8), seed=2)
    logits = greedy(model, batch, steps=4)
    assert logits.shape == (3, 5, dims.vocab)
    for i, p in enumerate(batch):
        ids = torch.tensor([p])
        with torch.no_grad():
            ref = model.generate(ids, attention_mask=torch.ones_like(ids), max_new_tokens=5, do_sample=False,
                                 pad_token_id=0)
        assert logits[i].argmax(-1).tolist() == ref[0, len(p):].tolist(), f"prompt {i}"


def test_models_are_seeded_and_leave_the_global_rng_alone():
    state = torch.random.get_rng_state()
    a = build_model(CPU_DIMS["llama"], torch.float32, "cpu")
    b = build_model(CPU_DIMS["llama"], torch.float32, "cpu")
    assert torch.equal(torch.random.get_rng_state(), state)
    assert all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values()))
    assert a.config._attn_implementation == "sdpa"


def test_specs_time_both_modes_per_model():
    specs = model_specs(ON_CPU)
    assert [s.id for s in specs] == [
        "generate:llama:invariant:fp16:b4:steps3", "generate:llama:torch:fp16:b4:steps3",
        "generate:gpt2:invariant:fp16:b4:steps3", "generate:gpt2:torch:fp16:b4:steps3",
    ]
    assert all(s.family == "model" and s.params["generated_tokens"] == 4 * 4 for s in specs)
    assert [s.requires for s in specs[:2]] == [("transformers", "triton"), ("transformers",)]
    # On a GPU both modes are timed by the device's work (the wall time follows the host's CPU), on every GPU
    assert {s.method for s in model_specs(ON_GPU)} == {"cuda-profiler"}
    prepared = specs[1].build(ON_CPU)
    prepared.verify()
