"""Every registered model's shapes against the paper's rules for the target GPU: runs anywhere, no GPU needed.

`pytest perf/ -m shape_rules --gpu H100`. Without --gpu on a machine with no GPU the rules are checked against
the H100-SXM profile (the test records that as the user property perf_shape_rules.gpu_note). `--model NAME`
selects models; `--shape-rules=warn|off` (ini perf_shape_rules) turns failures into warnings or skips.
A model's `expected_violations` lists the rules it breaks on purpose (see perf/shape/shape_policy.py).
"""

from __future__ import annotations

import warnings

import pytest

from perf.shape import models
from perf.shape.layout import Layout
from perf.shape.rules import evaluate
from perf.shape.shape_policy import ShapeRuleWarning, judge, policy_from, rules_gpu


def pytest_generate_tests(metafunc):
    if "model_name" not in metafunc.fixturenames:
        return
    selected = tuple(metafunc.config.getoption("model", default=None) or ())
    names = [n for n in sorted(models.registry()) if not selected or n in selected]
    metafunc.parametrize("model_name", names)


@pytest.mark.shape_rules
def test_shape_rules(model_name, perf_target, request, record_property):
    policy = policy_from(request.config)
    if policy == "off":
        pytest.skip("shape rules are off (--shape-rules=off or perf_shape_rules = \"off\")")
    gpu, note = rules_gpu(perf_target.gpu)
    model = models.get(model_name)
    layout = Layout(dtype=perf_target.dtype)
    report = evaluate(model, gpu, layout)
    verdict = judge(model, report)
    record_property("perf_shape_rules", {
        "model": model_name,
        "gpu": gpu.key,
        "gpu_note": note,
        "layout": layout.describe(model),
        "ok": verdict.ok,
        "expected": list(verdict.expected),
        "findings": [f.as_dict() for f in report.findings if f.is_violation],
    })
    if verdict.ok:
        return
    text = f"{model_name} on {gpu.key} ({layout.describe(model)}{'; ' + note if note else ''}):\n  " + "\n  ".join(verdict.problems)
    if policy == "warn":
        warnings.warn(ShapeRuleWarning(text), stacklevel=1)
    else:
        pytest.fail(text, pytrace=False)
