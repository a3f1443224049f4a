"""The co-design paper's claims (perf/shape/claims.toml, or --perf-claims-file), each decided by this run's
measurements; they run last, after the benchmarks they read.

A claim that holds passes; one whose benchmarks did not run is skipped, naming them; a contradicted claim is an
xfail that gives the numbers (the GPU disagrees with the paper: information, not a regression), and a failure
with `--perf-claims strict`. The verdicts go to the results file (perf_claims) and the terminal summary.
`pytest perf/ -m claims` alone measures nothing: evaluate a results file with `python -m perf claims FILE`.
"""

from __future__ import annotations

import pytest

from perf.shape import claims


@pytest.mark.claims
def test_claim(perf_claim, perf_evidence, perf_options, record_property):
    verdict = claims.evaluate(perf_claim, perf_evidence)
    record_property("perf_claims", verdict.as_dict())
    text = f"{perf_claim.id}: {verdict.verdict}: {verdict.numbers} (paper, {perf_claim.source}: {perf_claim.paper})"
    if verdict.verdict == claims.NOT_MEASURED:
        pytest.skip(text)
    if verdict.verdict == claims.CONTRADICTED:
        if perf_options.claims == "strict":
            pytest.fail(text + "\n  " + "\n  ".join(verdict.details), pytrace=False)
        pytest.xfail(text)
