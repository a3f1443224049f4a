"""The model registry (>= 20 public architectures, each number with a source) and the shape-rules policy."""

import dataclasses
from pathlib import Path

import pytest

import forked
from perf import gpus
from perf.shape import models
from perf.shape.layout import Layout
from perf.shape.rules import RULE_IDS, evaluate
from perf.shape.shape_policy import (POLICIES, PolicyError, ShapeRuleWarning, add_ini, add_options, judge, policy_from,
                               resolve_policy, rules_gpu)

ROOT = Path(__file__).resolve().parents[1]
REGISTRY = models.registry()

# Models the GEMM suite uses by name: they must keep their names.
SUITE_MODELS = ("gpt3-2.7b", "gpt3-2.7b-a20", "paper-c1", "paper-c2", "pythia-70m", "pythia-1b", "llama-2-7b")
# The families the brief asks for, one representative each.
FAMILIES = ("gpt2", "gpt2-xl", "gpt3-2.7b", "gpt-neox-20b", "pythia-70m", "pythia-12b", "opt-1.3b", "bloom-7b1",
            "llama-2-7b", "llama-2-13b", "llama-2-70b", "llama-3-8b", "llama-3-70b", "mistral-7b", "falcon-7b",
            "falcon-40b", "qwen2-7b", "gemma-7b", "phi-2", "paper-c1", "paper-c2", "gpt3-2.7b-a20")


def test_registry_has_at_least_20_public_architectures():
    assert len(REGISTRY) >= 20
    missing = [n for n in (*SUITE_MODELS, *FAMILIES) if n not in REGISTRY]
    assert not missing


def test_every_model_has_a_source_and_known_expected_violations():
    for m in REGISTRY.values():
        assert m.source, f"{m.name}: no source"
        for field in m.sources:
            assert field in ("hidden", "heads", "layers", "vocab", "seq", "ffn", "activation", "kv_heads", "head_dim"), (m.name, field)
        unknown = set(m.expected_violations) - set(RULE_IDS)
        assert not unknown, f"{m.name}: unknown rule ids {unknown}"


@pytest.mark.parametrize("numbers", [
    # name: hidden, heads, kv heads, layers, ffn, vocab  (from the papers and config.json files cited in the TOML)
    ("llama-2-70b", 8192, 64, 8, 80, 28672, 32000),
    ("llama-3-8b", 4096, 32, 8, 32, 14336, 128256),
    ("mistral-7b", 4096, 32, 8, 32, 14336, 32000),
    ("falcon-7b", 4544, 71, 1, 32, 18176, 65024),
    ("gemma-7b", 3072, 16, 16, 28, 24576, 256000),
    ("gpt-neox-20b", 6144, 64, 64, 44, 24576, 50432),
    ("gpt2-xl", 1600, 25, 25, 48, 6400, 50257),
    ("bloom-176b", 14336, 112, 112, 70, 57344, 250880),
], ids=lambda n: n[0])
def test_spot_checked_numbers(numbers):
    name, h, a, kv, L, ffn, v = numbers
    m = REGISTRY[name]
    assert (m.hidden, m.heads, m.n_kv_heads, m.layers, m.ffn, m.vocab) == (h, a, kv, L, ffn, v)


def test_gemma_and_gpt3_xl_head_dims_are_explicit():
    assert REGISTRY["gemma-7b"].d_head == 256
    assert REGISTRY["gpt3-1.3b"].d_head == 128 and REGISTRY["gpt3-13b"].d_head == 128


@pytest.mark.parametrize("gpu_name", ["V100", "A100", "A100-80GB", "H100", "H100-PCIe", "H200"])
def test_registry_is_green_under_the_default_policy_on_every_gpu(gpu_name):
    gpu = gpus.resolve(gpu_name)
    for m in REGISTRY.values():
        dtype = "fp16" if gpu.peak("bf16") is None else "bf16"
        verdict = judge(m, evaluate(m, gpu, Layout(dtype=dtype)))
        assert verdict.ok, (m.name, verdict.problems)


def test_gpt3_worked_example_is_declared_and_caught():
    m = REGISTRY["gpt3-2.7b"]
    assert set(m.expected_violations) == {"head_dim_pow2", "vocab_multiple_64"}
    verdict = judge(m, evaluate(m, gpus.resolve("H100"), Layout()))
    assert verdict.ok and set(verdict.expected) == {"head_dim_pow2", "vocab_multiple_64"}
    assert REGISTRY["paper-c1"].expected_violations == ("head_dim_pow2",)
    assert REGISTRY["paper-c2"].expected_violations == ()  # h/a = 64


# --- the verdict ------------------------------------------------------------------------------------------------

def test_unexpected_error_fails_with_rule_gemm_dimension_value_and_fix():
    m = dataclasses.replace(REGISTRY["gpt3-2.7b"], expected_violations=("vocab_multiple_64",))
    verdict = judge(m, evaluate(m, gpus.resolve("H100"), Layout()))
    assert not verdict.ok
    (line,) = verdict.problems
    assert line.startswith("[head_dim_pow2] attn_score h/a = 80:") and "Fix: a = 20 (h/a = 128)" in line


def test_stale_expected_violation_fails():
    m = dataclasses.replace(REGISTRY["llama-2-7b"], expected_violations=("head_dim_pow2",))
    verdict = judge(m, evaluate(m, gpus.resolve("H100"), Layout()))
    assert not verdict.ok and "no longer broken" in verdict.problems[0]


def test_unknown_rule_id_in_expected_violations_fails():
    m = dataclasses.replace(REGISTRY["llama-2-7b"], expected_violations=("head_dim_power_of_two",))
    verdict = judge(m, evaluate(m, gpus.resolve("H100"), Layout()))
    assert not verdict.ok and "unknown rule" in verdict.problems[0]


# --- the policy ---------------------------------------------------------------------------------------------------

def test_policy_precedence_and_validation():
    assert resolve_policy(None, None, None) == "error"
    assert resolve_policy(None, None, "warn") == "warn"
    assert resolve_policy(None, "off", "warn") == "off"
    assert resolve_policy("error", "off", "warn") == "error"
    with pytest.raises(PolicyError, match="perf_shape_rules in the ini file: expected one of error, warn, off"):
        resolve_policy(None, None, "loud")
    with pytest.raises(PolicyError, match="PERF_SHAPE_RULES"):
        resolve_policy(None, "fail", None)
    assert POLICIES == ("error", "warn", "off")


class _Config:
    def __init__(self, option=None, ini=None):
        self.option, self.ini = option, ini

    def getoption(self, name, default=None):
        return self.option if name == "shape_rules" and self.option is not None else default

    def getini(self, name):
        if self.ini is None:
            raise ValueError(f"unknown ini {name}")
        return self.ini


def test_policy_from_config_without_registered_option():
    assert policy_from(_Config(), environ={}) == "error"
    assert policy_from(_Config(ini="warn"), environ={}) == "warn"
    assert policy_from(_Config(option="off", ini="warn"), environ={}) == "off"
    assert policy_from(_Config(ini="warn"), environ={"PERF_SHAPE_RULES": "error"}) == "error"


def test_add_options_and_add_ini_register_names():
    seen = {}

    class Group:
        def addoption(self, *names, **kw):
            seen["option"] = (names, kw)

    class Parser:
        def addini(self, name, help, **kw):
            seen["ini"] = name

    add_options(Group())
    add_ini(Parser())
    assert seen["option"][0] == ("--shape-rules",) and seen["option"][1]["choices"] == POLICIES
    assert seen["option"][1]["dest"] == "shape_rules" and seen["ini"] == "perf_shape_rules"


def test_cpu_target_uses_the_h100_profile_and_says_so():
    gpu, note = rules_gpu(gpus.CPU)
    assert gpu.key == "H100-SXM" and "H100-SXM" in note
    assert rules_gpu(gpus.resolve("A100")) == (gpus.resolve("A100"), "")
    assert issubclass(ShapeRuleWarning, UserWarning)


def test_suite_module_runs_green_without_a_gpu(pytester):
    suite = ROOT / "perf" / "suite" / "test_shape_rules.py"
    result = forked.runpytest(pytester, str(suite), "-m", "shape_rules", "--gpu", "A100", "-q",
                              "--model", "gpt3-2.7b", "--model", "llama-2-7b", "-p", "no:cacheprovider",
                              "--rootdir", str(ROOT))
    result.assert_outcomes(passed=2)
