"""A run's offset from its baseline entries per GPU and family (perf.report.offsets): the medians, which families
count, the words for a notable one, and where the offsets show (terminal and report)."""

from __future__ import annotations

import pytest

from perf.report import offsets, terminal
from perf.report import sections as report_sections


def _record(key, change, gpu=0, provider="torch", host="h1", verdict="pass"):
    return {"key": key, "family": key.split("/")[0], "params": {"provider": provider}, "change": change,
            "verdict": verdict, "placement": {"worker": f"gw{gpu}", "host": host, "gpu_index": gpu,
                                              "gpu_uuid": f"GPU-{gpu}abc"}}


def _family(family, provider, changes, gpu=0, host="h1"):
    return [_record(f"{family}/{provider}-{i}", c, gpu, provider, host) for i, c in enumerate(changes)]


SLOW_GEMMS = [0.016 + 0.001 * (i % 5 - 2) for i in range(15)]  # median +1.6%
DECODE = [0.001 * (i % 3 - 1) for i in range(11)]  # median 0


def test_each_gpu_and_family_gets_its_median_and_quartiles():
    records = (_family("gemm", "torch", SLOW_GEMMS) + _family("decode", "triton", DECODE)
               + _family("gemm", "torch", [-0.02] * 10, gpu=1) + _family("kernel", "triton", [0.3] * 9)
               + [_record("gemm/torch-new", None)])
    found = offsets.offsets(records)
    assert [(o.place, o.family, o.compared) for o in found] == [
        ("GPU 0", "decode/triton", 11), ("GPU 0", "gemm/torch", 15), ("GPU 1", "gemm/torch", 10)]
    gemm = found[1]
    assert gemm.median == pytest.approx(0.016) and gemm.q1 < gemm.median < gemm.q3
    assert gemm.row() == ("GPU 0", "gemm/torch", "15", "+1.60%", f"{gemm.q1:+.2%}", f"{gemm.q3:+.2%}")
    # 9 kernel benchmarks are too few to speak for the GPU, however far they moved; a benchmark without a baseline
    # (change None) is not counted
    assert [o.notable for o in found] == [False, True, True]


def test_where_the_history_decided_the_offset_is_still_against_the_entries():
    # A host 5% faster than the entries whose own history decided: the verdicts' changes read 0, the offset -5%.
    by_history = [{**r, "summary": {"median_ms": 0.95}, "reference": {"source": "history", "entry_ms": 1.0}}
                  for r in _family("gemm", "torch", [0.0] * 12)]
    (found,) = offsets.offsets(by_history)
    assert found.compared == 12 and found.median == pytest.approx(-0.05) and found.notable
    # a history-decided record without the entry's median (no entry, or a results file of an older run): not counted
    unknown = [{**r, "reference": {"source": "history"}} for r in by_history]
    assert offsets.offsets(unknown) == []
    assert offsets.entry_change({"change": 0.02, "reference": {"source": "baseline"}}) == 0.02


def test_the_words_say_which_way_and_what_follows():
    slow = offsets.Offset("GPU 0", "gemm/torch", 43, 0.016, 0.01, 0.02).sentence()
    assert slow.startswith("gemm/torch on GPU 0 runs 1.6% slower than its entries (median of 43 compared)")
    assert "reads that much larger" in slow
    fast = offsets.Offset("GPU 1", "decode/triton", 16, -0.016, -0.02, -0.01).sentence()
    assert "1.6% faster" in fast and "may pass" in fast and "perf ab" in fast
    assert not offsets.Offset("GPU 0", "kernel/triton", 84, 0.0099, 0, 0.01).notable


def test_a_run_without_placements_and_a_run_of_two_hosts_name_their_gpus():
    bare = [{**r, "placement": None} for r in _family("sweep", "torch", [0.0] * 10)]
    assert [o.place for o in offsets.offsets(bare)] == ["this GPU"]
    two = _family("gemm", "torch", [0.0] * 10) + _family("gemm", "torch", [0.0] * 10, host="h2")
    assert [o.place for o in offsets.offsets(two)] == ["h1 GPU 0", "h2 GPU 0"]


class Terminal:
    def __init__(self):
        self.lines = []

    def write_line(self, line, **markup):
        self.lines.append((line, markup))


def test_terminal_prints_the_table_and_tells_a_notable_offset_in_yellow():
    tr = Terminal()
    terminal.offsets_summary(tr, _family("gemm", "torch", SLOW_GEMMS) + _family("decode", "triton", DECODE))
    text = [line for line, _ in tr.lines]
    assert text[0].startswith("offset from the entries per GPU and family")
    assert any("gemm/torch" in line and "+1.60%" in line for line in text[1:6])
    told = [(line, markup) for line, markup in tr.lines if "runs 1.6% slower" in line]
    assert len(told) == 1 and told[0][1] == {"yellow": True}
    quiet = Terminal()
    terminal.offsets_summary(quiet, _family("decode", "triton", DECODE[:9]))  # too few compared: nothing at all
    assert quiet.lines == []


def test_report_has_an_offset_section_with_the_words():
    doc = {"results": _family("gemm", "torch", SLOW_GEMMS)}
    sections = {heading: (table, note) for heading, table, note in report_sections.sections(doc)}
    table, note = sections["Offset from the entries (1 families)"]
    assert table.rows[0][:4] == ("GPU 0", "gemm/torch", "15", "+1.60%")
    assert note.startswith(offsets.NOTE) and "runs 1.6% slower" in note
