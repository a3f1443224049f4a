"""What the terminal shows: tables that fit its width (COLUMNS), the environment line with only what differs, a
broken pipe that ends quietly, and a run that fails though its tests passed saying why in its last line."""

import os
import subprocess
import sys
from pathlib import Path

import forked
from perf.report import cells
from perf.report.text_table import format_table

ROOT = Path(__file__).resolve().parents[1]
SUITE = str(ROOT / "perf" / "suite")
MISSING = "missing 55 benchmark(s): " + ", ".join(f"gemm/torch:llama-2-7b:prefill:mlp_up:m{m}" for m in range(55))


def test_a_table_wider_than_the_terminal_wraps_its_text_columns_and_keeps_every_character():
    rows = [("flash-beats-sdpa", "not measured", MISSING), ("gqa-saves-bandwidth", "holds", "1.9x less traffic")]
    lines = format_table(("claim", "verdict", "measured"), rows, width=100)
    assert max(map(len, lines)) <= 100 and len(lines) > 4  # wrapped onto more lines, none wider than 100
    assert lines[2].split()[:3] == ["flash-beats-sdpa", "not", "measured"]  # the first line names the claim
    column = lines[0].index("measured")
    text = "".join(line[column:] for line in lines[2:-1])  # the claim's rows, the measured column
    assert text.replace(" ", "") == MISSING.replace(" ", "")
    assert format_table(("claim", "verdict", "measured"), rows) == format_table(
        ("claim", "verdict", "measured"), rows, width=10_000)  # wide enough: as it was


def test_number_columns_are_never_wrapped_and_a_table_that_cannot_fit_stays_whole():
    header = ("benchmark", "reference ms", "change", "tolerance", "verdict")
    rows = [("decode/gemm:pythia-70m:mlp_down:fp32:m1:batch", "0.01234", "+15.5%", "±4.5%", "improvement")]
    fits = format_table(header, rows, numbers_right=True, width=80)
    assert max(map(len, fits)) <= 80 and len(fits) == 4  # the benchmark wrapped once, the numbers whole
    assert "+15.5%" in fits[2] and "±4.5%" in fits[2] and "improvement" in fits[2]
    assert format_table(header, rows, numbers_right=True, width=40) == format_table(header, rows, numbers_right=True)


def test_the_environment_line_names_only_the_keys_that_differ():
    then = {"max_time_s": 0.1, "noise_target": 0.01, "min_samples": 10}
    now = {"min_samples": 10, "noise_target": 0.01, "max_time_s": 2.0}
    assert cells.difference_text("timing", then, now) == "timing.max_time_s 0.1 -> 2"
    assert cells.difference_text("driver", "565.57", "570.86") == "driver 565.57 -> 570.86"


def test_a_reader_that_stops_reading_ends_the_command_quietly():
    read, write = os.pipe()
    os.close(read)  # the reader is gone before the first line: every write is a broken pipe
    env = {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{ROOT / 'kernels'}"}
    try:
        done = subprocess.run([sys.executable, "-m", "perf", "--help"], stdout=write, stderr=subprocess.PIPE,
                              text=True, env=env, cwd=ROOT, timeout=120)
    finally:
        os.close(write)
    assert "Traceback" not in done.stderr and "BrokenPipeError" not in done.stderr, done.stderr
    assert done.returncode == 141


def test_a_run_that_fails_though_its_tests_passed_says_why_last(pytester, tmp_path):
    done = forked.runpytest(pytester, SUITE, "--gpu", "A100", "--model", "pythia-70m", "-k", "decode and m1",
                            "--baseline-dir", str(tmp_path / "bl"), "-p", "no:cacheprovider")
    assert done.ret == 4
    last = done.stdout.str().rstrip().splitlines()[-1]
    assert last.startswith("perf: exit status 4 (usage error): timing benchmarks did not run: --gpu A100"), last


def test_a_table_too_wide_even_wrapped_leaves_out_the_optional_columns_in_order_and_says_which():
    from perf.report.text_table import fit_columns
    header = ("benchmark", "now ms", "TFLOP/s", "% peak", "change", "verdict")
    rows = [("kernel/rms_norm:torch:fp32:h256:tok64", "0.01191", "0.00537", "41.2%", "+0.3%", "pass")]
    shown, cut, left_out = fit_columns(header, rows, 66, ("% peak", "TFLOP/s", "now ms"))
    assert left_out == ["% peak"] and shown == ["benchmark", "now ms", "TFLOP/s", "change", "verdict"]
    assert cut == [("kernel/rms_norm:torch:fp32:h256:tok64", "0.01191", "0.00537", "+0.3%", "pass")]
    assert max(map(len, format_table(shown, cut, numbers_right=True, width=66))) <= 66
    narrow = fit_columns(header, rows, 50, ("% peak", "TFLOP/s", "now ms"))
    assert narrow[2] == ["% peak", "TFLOP/s", "now ms"]  # in the order given, only as many as needed
    assert fit_columns(header, rows, 200, ("% peak",)) == (list(header), [rows[0]], [])
    assert fit_columns(header, rows, None, ("% peak",))[2] == []  # no terminal width: everything


def test_the_benchmark_table_fits_80_columns_and_names_what_it_left_out(pytester, tmp_path, monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")
    done = forked.runpytest(pytester, SUITE, "-k", "test_kernels and rms_norm and tok64", "--perf-max-time", "0.1",
                            "--baseline-dir", str(tmp_path / "bl"), "-p", "no:cacheprovider")
    table = done.outlines[done.outlines.index(next(l for l in done.outlines if l.startswith("benchmark "))):]
    table = table[:next(i for i, l in enumerate(table) if l.startswith("verdicts:"))]
    assert table and max(map(len, table)) <= 80, table
    assert "verdict" in table[0] and "change" in table[0] and "TFLOP/s" not in table[0]
    assert any("not shown in 80 columns: % roof, GB/s, % peak, TFLOP/s" in l for l in table), table
