"""Options that used to be accepted but wrong: a threshold of 5 (500%), an unknown family, a dtype or sweep size
that the CPU device does not run."""

import pytest

import forked
from perf import options
from perf.spec import FAMILIES
from perf import gpus
from perf.measure.target import Target
from perf.suite import decode_specs, gemm_specs, kernel_specs, sweep_specs

ROOT_SUITE = "perf/suite"
SELECT = ["--model", "pythia-70m", "-k", "test_gemm and qkv", "--perf-max-time", "0.2", "-p", "no:cacheprovider"]


@pytest.mark.parametrize("text, value", [("0.05", 0.05), ("5%", 0.05), ("0", 0.0), ("1", 1.0), ("300%", 3.0),
                                         (" 2.5% ", 0.025)])
def test_threshold_accepts_a_fraction_or_a_percentage(text, value):
    assert options.threshold(text, "--perf-threshold") == pytest.approx(value)


@pytest.mark.parametrize("text, message", [
    ("5", "--perf-threshold: '5' would be 500%; write a fraction or a percentage: 0.05 or 5%"),
    ("1.5", "'1.5' would be 150%"),
    ("-0.1", "expected a non-negative fraction (0.05 or 5%)"),
    ("five", "expected a fraction such as 0.05 or a percentage such as 5%"),
    ("nan", "expected a non-negative fraction"),
])
def test_threshold_refuses_what_it_cannot_mean(text, message):
    with pytest.raises(options.OptionError) as raised:
        options.threshold(text, "--perf-threshold")
    assert message in str(raised.value)


@pytest.mark.parametrize("gpu", ["H100", "cpu"])
def test_every_family_of_the_suite_is_known(gpu):
    """The families a threshold may name are the families of the suite's specs (none missing, none invented)."""
    device = gpus.detect() if gpu == "cpu" else gpus.resolve(gpu)
    target = Target(gpu=device, present=device)
    specs = [*gemm_specs.gemm_specs(target), *kernel_specs.kernel_specs(target), *decode_specs.decode_specs(target),
             *sweep_specs.sweep_specs(target)]
    assert {s.family for s in specs} == set(FAMILIES)


@pytest.mark.parametrize("args, message", [
    (["--perf-threshold", "5"], "--perf-threshold: '5' would be 500%; write a fraction or a percentage: 0.05 or 5%"),
    (["--perf-family-threshold", "gemm=8"], "--perf-family-threshold gemm: '8' would be 800%"),
    (["--perf-threshold", ""], "--perf-threshold: expected a fraction or a percentage such as 0.05 or 5%, got an empty"),
    (["--perf-family-threshold", "foo=0.1"],
     "--perf-family-threshold: unknown benchmark family 'foo'; known: gemm, kernel, decode, sweep"),
])
def test_bad_thresholds_are_usage_errors(pytester, tmp_path, args, message):
    # in this process: the run stops before timing anything
    result = pytester.runpytest_inprocess(str(pytester_root() / ROOT_SUITE), "--baseline-dir", str(tmp_path), *SELECT,
                                           *args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert message in result.stderr.str()


def test_percent_threshold_runs_and_is_shown(pytester, tmp_path):
    result = forked.runpytest(pytester, str(pytester_root() / ROOT_SUITE), "--baseline-dir", str(tmp_path), *SELECT,
                              "--perf-threshold", "5%", "--perf-family-threshold", "decode=8%")
    assert result.ret == 0, result.stdout.str()
    assert "threshold 5.0%" in result.stdout.str()


def test_cpu_device_says_what_runs_instead_of_bf16_and_the_full_sweep(pytester, tmp_path):
    result = forked.runpytest(pytester, str(pytester_root() / ROOT_SUITE), "--baseline-dir", str(tmp_path), *SELECT,
                              "--perf-dtype", "bf16", "--sweep", "full")
    assert result.ret == 0, result.stdout.str()
    text = result.stdout.str()
    assert "--perf-dtype bf16 does not apply on the CPU device: its benchmarks run in fp32" in text
    assert "--sweep full does not apply on the CPU device: it runs the small CPU sweep points" in text
    assert "gemm/pythia-70m:qkv:fp32" in text  # what ran, as the header said


def pytester_root():
    from pathlib import Path

    return Path(__file__).resolve().parents[1]


def test_every_command_reads_a_threshold_with_the_one_parser(tmp_path, capsys):
    """`perf ab --threshold` and `perf compare --threshold` take what the suite takes and refuse what it refuses: a
    bare 5 would be 500%, so it is an error, not a threshold nobody meant."""
    from perf.commands import ab, compare

    assert ab.threshold_value("2%") == options.threshold("2%", "--threshold") == pytest.approx(0.02)
    with pytest.raises(ab.UsageError, match="--threshold: '5' would be 500%"):
        ab.threshold_value("5")
    assert compare.main([str(tmp_path / "a.json"), str(tmp_path / "b.json"), "--threshold", "5"]) == 2
    assert "--threshold: '5' would be 500%" in capsys.readouterr().err


def test_each_command_has_one_documented_default_threshold():
    from perf.commands import ab

    assert options.DEFAULT_THRESHOLD == 0.03 and options.COMPARE_THRESHOLD == 0.05
    assert ab.DEFAULT_THRESHOLD == options.AB_THRESHOLD == 0.02
    assert "default 2%, below the suite's 3%" in ab.__doc__  # the help says why ab's is smaller


@pytest.mark.parametrize("option, env, ini, is_cpu, expected", [
    ("opt", "env", "ini", False, "root/opt"),  # the option first
    (None, "env", "ini", False, "root/env"),  # then PERF_BASELINE_DIR
    (None, None, "ini", False, "root/ini"),  # then perf_baseline_dir in the ini file
    (None, None, None, False, "root/baselines"),  # then the checkout's baselines/ on a GPU
    (None, None, None, True, "cache"),  # or the user's cache on the CPU device
    ("/abs", None, None, True, "/abs"),  # an absolute folder as it is
])
def test_the_baseline_folder_is_resolved_in_one_place(tmp_path, monkeypatch, option, env, ini, is_cpu, expected):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    environ = {"PERF_BASELINE_DIR": env} if env else {}
    folder = options.baseline_folder(option, tmp_path / "root", is_cpu=is_cpu, ini=ini, environ=environ)
    want = {"cache": tmp_path / "xdg" / "perf-suite" / "baselines", "/abs": options.Path("/abs")}.get(
        expected, tmp_path / expected)
    assert folder == want


def test_perf_ab_reads_the_baseline_folder_as_the_suite_does(tmp_path, monkeypatch):
    """`perf ab` honours PERF_BASELINE_DIR and the ini setting (it used to take only --baseline-dir)."""
    (tmp_path / "pyproject.toml").write_text('[tool.pytest.ini_options]\nperf_baseline_dir = "from-ini"\n')
    monkeypatch.delenv("PERF_BASELINE_DIR", raising=False)
    ini = options.ini_value(tmp_path, options.BASELINE_DIR_INI)
    assert options.baseline_folder(None, tmp_path, is_cpu=False, ini=ini) == tmp_path / "from-ini"
    monkeypatch.setenv("PERF_BASELINE_DIR", str(tmp_path / "from-env"))
    assert options.baseline_folder(None, tmp_path, is_cpu=False, ini=ini) == tmp_path / "from-env"
    import inspect

    from perf.commands import ab

    assert "options.baseline_folder(" in inspect.getsource(ab._run)
