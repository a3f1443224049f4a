"""The paper's takeaways as claims (claims.toml) and their verdicts on a run's measurements.

A claim is data: id, statement, source, the paper's own numbers, the benchmark patterns it reads and the rule
that decides it (perf/shape/claim_rules.py). `evaluate(claim, evidence)` gives a verdict: "holds",
"contradicted", or "not measured" (naming the patterns that matched no record), with the numbers that decide.
Evidence is a list of result records (the dicts of a results file, or a baseline file's entries made into
records), the copy bandwidth measured in the run where there is one, and the GPU.
"""

from __future__ import annotations

import fnmatch
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Mapping, Sequence

from perf.gpus import GpuSpec

CLAIMS_FILE = Path(__file__).with_name("claims.toml")
HOLDS, CONTRADICTED, NOT_MEASURED = "holds", "contradicted", "not measured"
VERDICTS = (HOLDS, CONTRADICTED, NOT_MEASURED)
_REQUIRED = ("id", "statement", "source", "paper", "rule")


class ClaimError(ValueError):
    """A claims file that cannot be used: names the file, the claim and the field."""


class Missing(Exception):
    """Benchmarks a claim reads that the run did not measure (their patterns)."""

    def __init__(self, patterns: Iterable[str]):
        self.patterns = sorted(set(patterns))
        super().__init__(", ".join(self.patterns))


@dataclass(frozen=True)
class Claim:
    id: str
    statement: str
    source: str
    paper: str
    rule: str
    fields: Mapping = field(default_factory=dict)  # the rule's own fields (patterns, bars)


@dataclass(frozen=True)
class ClaimVerdict:
    claim: Claim
    verdict: str
    numbers: str  # one line: what decided it
    details: tuple[str, ...] = ()  # one line per case / sweep
    missing: tuple[str, ...] = ()  # patterns with no record (not measured)

    def as_dict(self) -> dict:
        return {"id": self.claim.id, "statement": self.claim.statement, "source": self.claim.source,
                "paper": self.claim.paper, "verdict": self.verdict, "numbers": self.numbers,
                "details": list(self.details), "missing": list(self.missing)}


class Evidence:
    """The measurements claims read: result records by key, the measured copy bandwidth, the GPU."""

    def __init__(self, records: Iterable[Mapping], *, copy_gbs: float | None = None, gpu: GpuSpec | None = None):
        self.records = [r for r in records if _median(r) is not None]
        self.copy_gbs = copy_gbs
        self.gpu = gpu

    def matching(self, pattern: str) -> list[Mapping]:
        return [r for r in self.records if fnmatch.fnmatchcase(str(r.get("key")), pattern)]

    def one(self, pattern: str) -> Mapping:
        """The record a pattern names. Missing when none; ClaimError when several (say, two dtypes in one file)."""
        found = self.matching(pattern)
        if not found:
            raise Missing([pattern])
        if len(found) > 1:
            keys = ", ".join(sorted(str(r["key"]) for r in found)[:4])
            raise ClaimError(f"pattern {pattern!r} matches {len(found)} records ({keys}): evaluate one dtype at a time")
        return found[0]

    def records_of(self, patterns: Sequence[str]) -> list[Mapping]:
        """One record per pattern; Missing names every pattern without one."""
        found, missing = [], []
        for pattern in patterns:
            try:
                found.append(self.one(pattern))
            except Missing:
                missing.append(pattern)
        if missing:
            raise Missing(missing)
        return found


def _median(record: Mapping) -> float | None:
    value = (record.get("summary") or {}).get("median_ms")
    return float(value) if isinstance(value, (int, float)) and value > 0 else None


def median_ms(record: Mapping) -> float:
    return _median(record)  # Evidence keeps only records that have one


def tflops(records: Sequence[Mapping]) -> float:
    """Throughput of records run one after another: their FLOPs over their summed time, in TFLOP/s."""
    return sum(r["flops"] for r in records) / sum(median_ms(r) for r in records) / 1e9


def expand(pattern: str, **names) -> list[str]:
    """A pattern with {each} (a list) and other {name} placeholders filled in: one pattern per entry of each."""
    each = names.pop("each", None)
    if "{each}" in pattern:
        if not each:
            raise ClaimError(f"pattern {pattern!r} has {{each}} but the claim gives no 'each' list")
        return [pattern.replace("{each}", str(e)).format(**names) for e in each]
    return [pattern.format(**names)]


# ------------------------------------------------------------------------------------------------ loading

def load(path: Path = CLAIMS_FILE) -> list[Claim]:
    """The claims of a TOML file, checked: each names its fields, and its rule is one claim_rules knows."""
    from perf.shape.claim_rules import RULES

    path = Path(path)
    try:
        data = tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise ClaimError(f"{path}: no such claims file") from None
    except tomllib.TOMLDecodeError as exc:
        raise ClaimError(f"{path}: not valid TOML: {exc}") from None
    tables = data.get("claim")
    if not isinstance(tables, list) or not tables:
        raise ClaimError(f"{path}: expected [[claim]] tables")
    claims, seen = [], set()
    for i, table in enumerate(tables):
        where = f"{path}: claim {table.get('id', f'#{i + 1}')!r}"
        for name in _REQUIRED:
            if not isinstance(table.get(name), str) or not table[name].strip():
                raise ClaimError(f"{where}: field {name!r} must be a non-empty string")
        if table["id"] in seen:
            raise ClaimError(f"{where}: the id is used twice")
        seen.add(table["id"])
        if table["rule"] not in RULES:
            raise ClaimError(f"{where}: field 'rule' must be one of {sorted(RULES)}, got {table['rule']!r}")
        rule_fields = {k: v for k, v in table.items() if k not in _REQUIRED}
        problem = RULES[table["rule"]].check(rule_fields)
        if problem:
            raise ClaimError(f"{where}: {problem}")
        claims.append(Claim(**{k: table[k] for k in _REQUIRED}, fields=rule_fields))
    return claims


# ------------------------------------------------------------------------------------------------ verdicts

def evaluate(claim: Claim, evidence: Evidence) -> ClaimVerdict:
    from perf.shape.claim_rules import RULES

    try:
        verdict, numbers, details = RULES[claim.rule].decide(claim.fields, evidence)
    except Missing as exc:
        return ClaimVerdict(claim, NOT_MEASURED, f"missing {len(exc.patterns)} benchmark(s): " + ", ".join(exc.patterns),
                            missing=tuple(exc.patterns))
    except ClaimError as exc:
        return ClaimVerdict(claim, NOT_MEASURED, str(exc))
    return ClaimVerdict(claim, HOLDS if verdict else CONTRADICTED, numbers, tuple(details))


def evaluate_all(evidence: Evidence, claims: Sequence[Claim] | None = None) -> list[ClaimVerdict]:
    return [evaluate(c, evidence) for c in (load() if claims is None else claims)]
