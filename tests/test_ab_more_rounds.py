"""perf ab's later looks as the command runs them, with each side's process replaced by synthetic rounds and a
clock that each process advances: only the benchmarks still unreliable are measured again, up to the next look,
and no look is started that --max-time cannot finish."""

import pytest

from perf.commands import ab as ab_command
from perf.report import ab as ab_report

NOISY_HEAD = [1.005, 1.035, 1.005, 1.035, 1.02, 1.02]  # six rounds leave it unreliable; 2% steady after that
PROCESS_S = 10.0


class Clock:
    def __init__(self):
        self.now = 0.0

    def monotonic(self):
        return self.now

    def __getattr__(self, name):  # anything else of the time module
        import time
        return getattr(time, name)


@pytest.fixture
def fake(monkeypatch):
    clock, calls = Clock(), []

    def measure(side, tmp, round_no, errors, nodeids=()):
        calls.append((round_no, side.name, tuple(nodeids)))
        clock.now += PROCESS_S
        keys = [n.split("::")[1] for n in nodeids] or ["slow", "noisy"]
        head = side.name == "HEAD"
        medians = {"slow": 1.3 if head else 1.0,
                   "noisy": (NOISY_HEAD[round_no - 1] if round_no <= 6 else 1.02) if head else 1.0}
        records = {k: {"key": k, "nodeid": f"t::{k}", "summary": {"median_ms": medians[k]}, "method": "host",
                       "throttled": False} for k in keys}
        return ab_command.SideRun(0, records, {}, None, "", None)

    monkeypatch.setattr(ab_command, "_measure", measure)
    monkeypatch.setattr(ab_command, "time", clock)
    return calls


def run(tmp_path, *args):
    request = ab_command.parse(["HEAD", "HEAD", *args])
    revision = ab_report.Revision("HEAD", "0" * 40)
    return ab_command._run(request, tmp_path, revision, revision, tmp_path, tmp_path, tmp_path)


def test_only_the_unreliable_benchmark_gets_more_rounds_and_is_resolved(fake, tmp_path, capsys):
    outcome = run(tmp_path, "--rounds", "6", "--max-time", "15m")
    rows = {r.key: r.paired for r in outcome.run.sides.rows}
    assert rows["slow"].verdict.value == "regression" and rows["slow"].look == 1
    assert rows["noisy"].verdict.value == "regression" and rows["noisy"].look == 2
    assert {nodeids for round_no, _, nodeids in fake if round_no <= 6} == {()}  # the whole selection
    assert {nodeids for round_no, _, nodeids in fake if round_no > 6} == {("t::noisy",)}
    assert max(round_no for round_no, _, _ in fake) == 12 and outcome.run.looks_done == 2
    assert outcome.code == 1
    out = capsys.readouterr().out
    assert "1 benchmarks still unreliable after 6 rounds: rounds 7-12 for them alone" in out
    assert "more rounds: 1 benchmarks measured beyond the first 6 rounds (up to 12" in out and "1 resolved" in out
    doc = ab_report.document(outcome.run, [], [])
    assert doc["ab"]["looks_done"] == 2 and [look["rounds"] for look in doc["ab"]["looks"]][:2] == [6, 12]
    assert {b["key"]: b["look"] for b in doc["ab"]["benchmarks"]} == {"noisy": 2, "slow": 1}


def test_no_look_is_started_that_max_time_cannot_finish(fake, tmp_path, capsys):
    # the first look: 12 processes of 10 s; look 2 needs 6 rounds of 20 s, and 150 s leave 30
    outcome = run(tmp_path, "--rounds", "6", "--max-time", "150s")
    rows = {r.key: r.paired for r in outcome.run.sides.rows}
    assert rows["noisy"].verdict.value == "unreliable" and rows["noisy"].look == 1
    assert max(round_no for round_no, _, _ in fake) == 6
    assert "look 2 needs 6 more rounds (about 120 s), 30 s of --max-time are left: stopped here" in \
        capsys.readouterr().out


def test_max_time_zero_is_the_plain_a_b(fake, tmp_path):
    outcome = run(tmp_path, "--rounds", "6", "--max-time", "0")
    assert max(round_no for round_no, _, _ in fake) == 6 and len(outcome.run.schedule) == 1
    assert outcome.run.schedule[0].confidence == 0.95


@pytest.mark.parametrize("text, seconds", [("900", 900), ("900s", 900), ("15m", 900), ("1.5h", 5400), ("0", 0)])
def test_durations(text, seconds):
    assert ab_command.duration_value(text) == seconds


@pytest.mark.parametrize("text", ["soon", "-5m", "15x", "inf"])
def test_bad_durations_name_the_option(text):
    with pytest.raises(ab_command.UsageError, match="--max-time: expected a duration"):
        ab_command.duration_value(text)
