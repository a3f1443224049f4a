"""The paper's takeaways as claims (claims.toml) and their verdicts on a run's measurements.

A claim is data: id, statement, source, the paper's own numbers, the benchmark patterns it reads and the rule
that decides it (perf/shape/claim_rules.py; both read the evidence types of perf/shape/claim_evidence.py). `evaluate(claim, evidence)` gives a verdict: "holds",
"contradicted", or "not measured" (naming the patterns that matched no record), with the numbers that decide.
Evidence is a list of result records (the dicts of a results file, or a baseline file's entries made into
records), the copy bandwidth measured in the run where there is one, and the GPU.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping, Sequence

from perf.shape.claim_evidence import ClaimError, Evidence, Missing  # ClaimError, Evidence: the names callers use
from perf.shape.claim_rules import RULES

CLAIMS_FILE = Path(__file__).with_name("claims.toml")
HOLDS, CONTRADICTED, NOT_MEASURED = "holds", "contradicted", "not measured"
VERDICTS = (HOLDS, CONTRADICTED, NOT_MEASURED)
_REQUIRED = ("id", "statement", "source", "paper", "rule")


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


# ------------------------------------------------------------------------------------------------ loading

def load(path: Path = CLAIMS_FILE) -> list[Claim]:
    """The claims of a TOML file, checked: each names its fields, and its rule is one claim_rules knows."""
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
