"""perf bisect's search and its reading of one step's A/B, without git or measurements: the binary search over
first-parent commits, `git bisect skip`'s neighbour rule, and good / bad / skip from an A/B outcome."""

import pytest

from perf.commands import ab as ab_command
from perf.commands import bisect
from perf.report import ab as ab_report
from perf.verdict import ab


def run_search(count: int, culprit: int, broken: set[int] = frozenset()) -> tuple[list[int], list[int]]:
    """Bisect `count` commits where index `culprit` and every later one is slow and `broken` do not run: the
    commits measured, in order, and the candidates left."""
    search, measured = bisect.Search(count), []
    while (index := search.next()) is not None:
        measured.append(index)
        search.mark(index, "skip" if index in broken else ("bad" if index >= culprit else "good"))
    return measured, search.candidates()


@pytest.mark.parametrize("count", [1, 2, 3, 5, 16, 17, 100])
def test_every_culprit_is_found_in_about_log2_steps(count):
    for culprit in range(count):
        measured, candidates = run_search(count, culprit)
        assert candidates == [culprit]
        assert len(measured) <= max(1, (count - 1).bit_length())
        assert count - 1 not in measured  # BAD is assumed bad (the command confirms it only if all were good)


def test_a_broken_commit_at_the_middle_is_skipped_for_its_later_neighbour():
    measured, candidates = run_search(5, culprit=3, broken={1})
    assert measured == [1, 2, 3] and candidates == [3]


def test_a_broken_commit_just_before_the_culprit_leaves_both_as_candidates():
    measured, candidates = run_search(6, culprit=3, broken={2})
    assert candidates == [2, 3] and 2 in measured


def test_skipped_commits_outside_the_final_range_are_forgotten():
    measured, candidates = run_search(16, culprit=12, broken={7, 8})
    assert candidates == [12]


def test_bad_marks_are_refused():
    with pytest.raises(ValueError, match="good, bad or skip"):
        bisect.Search(3).mark(0, "maybe")
    with pytest.raises(ValueError, match="at least one"):
        bisect.Search(0)


# ---------------------------------------------------------------------------------------------- one step

def _record(median, nodeid):
    return {"summary": {"median_ms": median}, "method": "host", "throttled": False, "nodeid": nodeid}


def _outcome(changes: dict[str, float], failed=(), missing=()) -> ab_command.Outcome:
    base = [{k: _record(1.0, f"t::{k}") for k in [*changes, *missing]} for _ in range(6)]
    head = [{k: _record(1.0 + c, f"t::{k}") for k, c in changes.items()} for _ in range(6)]
    sides = ab.compare_sides(base, head, 0.02)
    revision = ab_report.Revision("x", "0" * 40)
    run = ab_report.Run(revision, revision, 6, 0.02, sides)
    return ab_command.Outcome(1, run, {f"t::{k}": "AssertionError" for k in failed})


def test_a_regressed_target_makes_the_commit_bad_and_names_the_largest_change():
    mark, why, row = bisect.classify(_outcome({"a": 0.05, "b": 0.30, "c": 0.0}), bisect.Targets(frozenset(), None))
    assert mark == "bad" and row.key == "b" and "2 of 3" in why


def test_only_the_targets_decide():
    outcome = _outcome({"a": 0.0, "other": 0.5})
    assert bisect.classify(outcome, bisect.Targets(frozenset({"a"}), "a"))[0] == "good"


@pytest.mark.parametrize("outcome, why", [
    (ab_command.Outcome(1, None, stopped="HEAD", stop_message="HEAD c (c) stopped in round 1 (exit 70)"),
     "does not run: stopped in round 1 (exit 70)"),
    (_outcome({"a": 0.0}, failed=["a"]), "fails on a: AssertionError"),
    (_outcome({}, missing=["a"]), "not measured on this commit: a"),
])
def test_a_commit_that_does_not_run_or_misses_a_target_is_skipped(outcome, why):
    mark, reason, _ = bisect.classify(outcome, bisect.Targets(frozenset({"a"}), "a"))
    assert mark == "skip" and reason.startswith(why), reason


def test_an_unreliable_target_is_skipped_not_called_good():
    outcome = _outcome({"a": 0.0})
    noisy = [1.005, 1.035, 1.005, 1.035, 1.02, 1.02]
    row = outcome.run.sides.rows[0]
    paired = ab.compare_rounds([1.0] * 6, noisy, 0.02)
    outcome.run.sides.rows[0] = ab.Row(row.key, paired, row.base_record, row.head_record)
    assert bisect.classify(outcome, bisect.Targets(frozenset(), None))[:2] == ("skip", "unreliable (1 of 1)")


def test_an_unreliable_target_that_can_only_be_faster_does_not_stop_a_good_mark():
    outcome = _outcome({"a": 0.0})
    row = outcome.run.sides.rows[0]
    faster = [0.965, 0.995, 0.965, 0.995, 0.98, 0.98]  # unreliable on the faster side only
    paired = ab.compare_rounds([1.0] * 6, faster, 0.02)
    assert paired.verdict.value == "unreliable" and paired.interval.high < 0.02
    outcome.run.sides.rows[0] = ab.Row(row.key, paired, row.base_record, row.head_record)
    assert bisect.classify(outcome, bisect.Targets(frozenset(), None))[0] == "good"
