"""What the suite does with shape-rule findings: the `--shape-rules` policy and the verdict per model.

Policy (precedence: default < pyproject.toml `perf_shape_rules` < env PERF_SHAPE_RULES < --shape-rules):
  error  a rule broken at level "error" fails the model's test (the default)
  warn   the same findings are reported as pytest warnings; nothing fails
  off    the shape-rule tests are skipped

A registered model that breaks a rule on purpose lists it in `expected_violations`: the test then passes
while the rule fires, and fails when the rule no longer fires (the listed violation went away, so the list
is stale). Listed ids must be known rule ids. GPU-dependent rules (warnings) need not be listed.

The plugin calls `add_options(group)` from its pytest_addoption with its "perf" option group and
`add_ini(parser)` with the parser; the suite module reads the policy with `policy_from(config)`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from perf import gpus
from perf.shape.models import ModelConfig
from perf.shape.rules import RULE_IDS, Report

POLICIES = ("error", "warn", "off")
DEFAULT_POLICY = "error"
OPTION = "--shape-rules"
INI = "perf_shape_rules"
ENV = "PERF_SHAPE_RULES"
CPU_FALLBACK_GPU = "H100-SXM"  # the profile the rule checks use when no GPU is present and none is named


class ShapeRuleWarning(UserWarning):
    """A broken shape rule under --shape-rules=warn."""


class PolicyError(ValueError):
    """A policy value that is not one of POLICIES: names where it came from."""


def add_options(group) -> None:
    group.addoption(OPTION, dest="shape_rules", choices=POLICIES, default=None,
                    help=f"what a broken shape rule does: error (fail, default), warn, off (ini {INI}, env {ENV})")


def add_ini(parser) -> None:
    parser.addini(INI, "shape rules policy: error, warn or off", default="")


def check_policy(value: str, where: str) -> str:
    if value not in POLICIES:
        raise PolicyError(f"{where}: expected one of {', '.join(POLICIES)}, got {value!r}")
    return value


def resolve_policy(cli: str | None, env: str | None, ini: str | None) -> str:
    """The policy by precedence: command line over environment over ini over the default."""
    if cli:
        return check_policy(cli, OPTION)
    if env:
        return check_policy(env.strip(), ENV)
    if ini:
        return check_policy(str(ini).strip(), f"{INI} in the ini file")
    return DEFAULT_POLICY


def policy_from(config, environ=os.environ) -> str:
    """The policy of a pytest run (works also when the plugin did not register the option)."""
    try:
        ini = config.getini(INI)
    except ValueError:
        ini = None
    return resolve_policy(config.getoption("shape_rules", default=None), environ.get(ENV), ini)


def rules_gpu(target_gpu: gpus.GpuSpec) -> tuple[gpus.GpuSpec, str]:
    """The GPU profile rules are checked against, and a note when it is a stand-in for the CPU."""
    if target_gpu.is_gpu:
        return target_gpu, ""
    return gpus.resolve(CPU_FALLBACK_GPU), f"no GPU present and no --gpu: checked against the {CPU_FALLBACK_GPU} profile"


@dataclass(frozen=True)
class Verdict:
    problems: tuple[str, ...]  # each a full sentence: rule, GEMM, dimension, value, fix
    expected: tuple[str, ...]  # expected violations that fired

    @property
    def ok(self) -> bool:
        return not self.problems


def judge(model: ModelConfig, report: Report) -> Verdict:
    """Unexpected errors, expected violations that no longer fire, and unknown ids in expected_violations."""
    problems = []
    unknown = [r for r in model.expected_violations if r not in RULE_IDS]
    if unknown:
        problems.append(f"{model.origin or model.name}: model {model.name!r}: expected_violations names unknown rule(s) "
                        f"{unknown}; known: {', '.join(RULE_IDS)}")
    for f in report.errors:
        if f.rule not in model.expected_violations:
            where = f" {f.gemm}" if f.gemm else ""
            line = f"[{f.rule}]{where} {f.dimension} = {f.value}: {f.message}"
            if f.fix:
                line += f". Fix: {f.fix}"
            if f.payoff:
                line += f" ({f.payoff})"
            problems.append(line)
    broken = report.broken()
    for rule_id in model.expected_violations:
        if rule_id in RULE_IDS and rule_id not in broken:
            problems.append(f"[{rule_id}] listed in expected_violations of {model.name!r} but no longer broken on "
                            f"{report.gpu.key} ({report.layout.describe(model)}): remove it from {model.origin or 'the config'}")
    expected = tuple(r for r in model.expected_violations if r in broken)
    return Verdict(problems=tuple(problems), expected=expected)
