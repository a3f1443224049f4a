"""Baseline files survive interruptions and refusals: an interrupted refresh leaves the file byte-identical (or,
with --checkpoint, a complete file of the modules it finished); a read-only file or folder and a --baseline-dir
that is a file are refused before anything is measured; a rewritten file keeps its mode."""

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

import forked
from made_once import made_once
from perf.verdict import baselines
from perf.commands.suite_process import checkout_pythonpath

ROOT = Path(__file__).resolve().parents[1]
SUITE = str(ROOT / "perf" / "suite")
PLUGINS = Path(__file__).parent / "fixtures" / "plugins"
# One decode module benchmark set and one GEMM module benchmark set of a small model, sampled briefly.
SELECT = ["--model", "pythia-70m", "-k", "(test_gemm and (qkv or out_proj)) or (test_decode and qkv)",
          "--perf-max-time", "0.2", "-p", "no:cacheprovider"]


def _env(interrupt: str | None = None) -> dict:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([checkout_pythonpath(ROOT), str(PLUGINS), os.environ.get("PYTHONPATH", "")])}
    env.pop("PERF_TEST_INTERRUPT", None)
    if interrupt:
        env["PERF_TEST_INTERRUPT"] = interrupt
    return env


def perf(*args, interrupt=None, timeout=300):
    """`python -m perf ...` in a session of its own, so that a signal to its process group reaches it and its
    runs (as Ctrl-C in a terminal does) and nothing else: a new process where the run is interrupted, else forked
    from this one (tests/forked.py)."""
    if interrupt:
        return subprocess.run([sys.executable, "-m", "perf", *args], cwd=ROOT, capture_output=True, text=True,
                              env=_env(interrupt), timeout=timeout, start_new_session=True)
    return forked.run_perf(args, cwd=ROOT, env=_env(), timeout=timeout, new_session=True)


def suite(*args, interrupt=None):
    """The suite run as `perf` is."""
    if interrupt:
        return subprocess.run([sys.executable, "-m", "pytest", SUITE, *SELECT, *args], cwd=ROOT,
                              capture_output=True, text=True, env=_env(interrupt), timeout=300, start_new_session=True)
    return forked.run_module("pytest", [SUITE, *SELECT, *args], cwd=ROOT, env=_env(), timeout=300, new_session=True)


@pytest.fixture(scope="module")
def measured(request) -> bytes:
    """A baseline file of the selection, from a one-run refresh (one for the run, shared by the workers)."""
    def make(folder):
        done = perf("refresh", "--runs", "1", "--baseline-dir", str(folder), *SELECT)
        assert done.returncode == 0, done.stdout + done.stderr

    return (made_once(request, "measured-baseline", make) / "cpu.json").read_bytes()


@pytest.fixture
def baseline(tmp_path, measured) -> Path:
    path = tmp_path / "bl" / "cpu.json"
    path.parent.mkdir()
    path.write_bytes(measured)
    return path


def _keys(path: Path) -> set[str]:
    return set(json.loads(path.read_text())["entries"])


@pytest.mark.perf_expected_s(17)
@pytest.mark.parametrize("name", ["INT", "TERM"])
def test_interrupted_refresh_leaves_the_baseline_byte_identical(baseline, name):
    before = baseline.read_bytes()
    done = perf("refresh", "--runs", "2", "--baseline-dir", str(baseline.parent), *SELECT, "-p", "interrupt_suite",
                interrupt=f"{name}:test_gemm.py:group")
    assert done.returncode == (130 if name == "INT" else 143), done.stdout + done.stderr
    assert f"interrupted (SIG{name})" in done.stderr and "the baseline file was left as it is" in done.stderr
    assert "Traceback" not in done.stderr
    assert baseline.read_bytes() == before
    assert sorted(p.name for p in baseline.parent.iterdir()) == ["cpu.json"]  # no temporary file left


@pytest.mark.perf_expected_s(12)
def test_interrupted_refresh_inside_pytest_writes_nothing(baseline):
    before = baseline.read_bytes()
    done = suite("--perf-refresh", "--baseline-dir", str(baseline.parent), "-p", "interrupt_suite",
                 interrupt="INT:test_gemm.py:self")
    assert done.returncode == pytest.ExitCode.INTERRUPTED, done.stdout + done.stderr
    assert "perf: refreshed" not in done.stdout
    assert f"interrupted: nothing refreshed; {baseline} was left as it was" in done.stdout
    assert baseline.read_bytes() == before


@pytest.mark.perf_expected_s(20)
@pytest.mark.parametrize("name", ["INT", "TERM"])
def test_checkpointed_refresh_keeps_the_modules_it_finished(tmp_path, name):
    folder = tmp_path / "bl"
    done = perf("refresh", "--runs", "2", "--checkpoint", "--baseline-dir", str(folder), *SELECT,
                "-p", "interrupt_suite", interrupt=f"{name}:test_gemm.py:group")
    assert done.returncode == (130 if name == "INT" else 143), done.stdout + done.stderr
    assert "perf refresh: checkpoint: wrote" in done.stdout and "test_decode.py, 3 benchmarks" in done.stdout
    assert "keeps the 3 entries refreshed up to the last checkpoint" in done.stderr
    data = json.loads((folder / "cpu.json").read_text())  # a complete, valid file
    baselines.parse((folder / "cpu.json").read_text(), folder / "cpu.json", "cpu")
    assert {k.split("/")[0] for k in data["entries"]} == {"decode"} and len(data["entries"]) == 3
    assert all(len(e["run_medians_ms"]) >= 2 for e in data["entries"].values())  # every run of the module
    assert sorted(p.name for p in folder.iterdir()) == [".cpu.json.lock", "cpu.json"]  # the writers' lock, no temporary


@pytest.mark.perf_expected_s(25)
def test_checkpoint_every_writes_after_each_piece(tmp_path):
    folder = tmp_path / "bl"
    done = perf("refresh", "--runs", "1", "--checkpoint-every", "2", "--baseline-dir", str(folder), *SELECT)
    assert done.returncode == 0, done.stdout + done.stderr
    lines = [line for line in done.stdout.splitlines() if line.startswith("perf refresh: checkpoint: wrote")]
    assert len(lines) == 3  # decode: 2 + 1, gemm: 2
    assert "test_decode.py part 1 of 2, 2 benchmarks" in lines[0] and "5 entries refreshed" in lines[2]
    assert "refreshed 5 entries" in done.stdout and len(_keys(folder / "cpu.json")) == 5


@pytest.mark.perf_expected_s(14)
def test_read_only_baseline_file_is_refused_before_measuring(baseline):
    baseline.chmod(0o444)
    before = baseline.read_bytes()
    done = perf("refresh", "--runs", "1", "--baseline-dir", str(baseline.parent), *SELECT)
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stderr.strip().splitlines() == [
        f"perf refresh: error: cannot refresh the baseline: {baseline}: read-only (mode 0444); make it writable "
        f"(chmod u+w) to refresh it; the baseline file was left as it is"]
    assert "run 1 of" not in done.stdout  # nothing measured
    assert baseline.read_bytes() == before and stat.S_IMODE(baseline.stat().st_mode) == 0o444

    direct = suite("--perf-refresh", "--baseline-dir", str(baseline.parent))
    assert direct.returncode == pytest.ExitCode.USAGE_ERROR
    assert f"{baseline}: read-only (mode 0444)" in direct.stderr and " passed" not in direct.stdout
    assert baseline.read_bytes() == before


def test_read_only_folder_is_refused_before_measuring(tmp_path):
    folder = tmp_path / "bl"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        done = perf("refresh", "--runs", "1", "--baseline-dir", str(folder), *SELECT)
        assert done.returncode == 2, done.stdout + done.stderr
        assert len(done.stderr.strip().splitlines()) == 1
        assert f"{folder}: folder is read-only (mode 0555)" in done.stderr and "run 1 of" not in done.stdout
        assert list(folder.iterdir()) == []
    finally:
        folder.chmod(0o755)


@pytest.mark.parametrize("command", [["refresh", "--runs", "1"], ["detect", "*:qkv:*"]])
def test_baseline_dir_that_is_a_file_is_a_usage_error(tmp_path, command):
    not_a_folder = tmp_path / "baselines.json"
    not_a_folder.write_text("{}")
    done = perf(*command, "--baseline-dir", str(not_a_folder), *SELECT)
    assert done.returncode == 2, done.stdout + done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    assert f"--baseline-dir {not_a_folder}: that is a file; expected a folder" in done.stderr
    assert "run 1 of" not in done.stdout and not_a_folder.read_text() == "{}"


def test_baseline_dir_that_is_a_file_stops_a_suite_run(tmp_path):
    not_a_folder = tmp_path / "baselines.json"
    not_a_folder.write_text("{}")
    done = suite("--baseline-dir", str(not_a_folder / "sub"))
    assert done.returncode == pytest.ExitCode.USAGE_ERROR
    assert f"{not_a_folder} is a file; expected a folder" in done.stderr


def _entry_set(tmp_path, mode: int | None) -> baselines.Baselines:
    base = baselines.Baselines(path=tmp_path / "cpu.json", gpu="cpu")
    if mode is not None:
        base.path.write_text(base.to_json())
        base.path.chmod(mode)
    return base


@pytest.mark.parametrize("mode", [0o644, 0o664, 0o640])
def test_save_keeps_the_files_mode(tmp_path, mode):
    base = _entry_set(tmp_path, mode)
    base.environments["e"] = {"device": "cpu"}
    baselines.save(base)
    assert stat.S_IMODE(base.path.stat().st_mode) == mode
    assert json.loads(base.path.read_text())["gpu"] == "cpu"


def test_save_gives_a_new_file_the_umasks_mode(tmp_path):
    old = os.umask(0o027)
    try:
        baselines.save(_entry_set(tmp_path, None))
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "cpu.json").stat().st_mode) == 0o640


def test_save_refuses_a_file_without_write_bits_even_as_root(tmp_path):
    base = _entry_set(tmp_path, 0o444)
    before = base.path.read_bytes()
    with pytest.raises(baselines.BaselineError, match=r"cpu.json: read-only \(mode 0444\)"):
        baselines.save(base)
    assert base.path.read_bytes() == before and sorted(p.name for p in tmp_path.iterdir()) == ["cpu.json"]


@pytest.mark.parametrize("args, message", [
    (["--foo"], "perf refresh: error: unrecognized arguments: --foo; the baseline file was left as it is"),
    (["--perf-threshold", "5"], "perf refresh: error: --perf-threshold: '5' would be 500%"),
    (["--runs", "0"], "perf refresh: error: --runs: expected a positive number of runs, got 0"),
    (["--checkpoint-every", "0"], "perf refresh: error: --checkpoint-every: expected a positive number of benchmarks"),
    (["--checkpoint", "--from-results", "a.json"], "perf refresh: error: --checkpoint: --from-results measures nothing"),
    (["--only", "kernel/*"], "perf refresh: error: --only selects entries of --from-results files"),
    (["-k", "no_such_benchmark"], "perf refresh: error: no timing benchmark selected (check -k, -m and --model)"),
])
def test_refresh_usage_errors_are_one_line_before_measuring(tmp_path, args, message):
    done = perf("refresh", "--baseline-dir", str(tmp_path / "bl"), *args)
    assert done.returncode == 2, done.stdout + done.stderr
    assert len(done.stderr.strip().splitlines()) == 1 and done.stderr.startswith(message)
    assert "run 1 of" not in done.stdout and not (tmp_path / "bl").exists()


@pytest.mark.perf_expected_s(13)
def test_from_results_writes_into_the_baseline_dir_given_and_leaves_the_compared_file(baseline, tmp_path):
    """Runs that compared with one baseline merged into a new one elsewhere (e.g. a baseline of `-n 4` runs to
    check runs without workers against): the file they compared with keeps its bytes."""
    before = baseline.read_bytes()
    files = []
    for i in range(2):
        files.append(tmp_path / f"run{i}.json")
        done = suite("--baseline-dir", str(baseline.parent), "--perf-json", str(files[-1]))
        assert done.returncode == 0, done.stdout + done.stderr
    elsewhere = tmp_path / "elsewhere"
    missing = perf("refresh", "--from-results", *map(str, files), "--baseline-dir", str(elsewhere))
    assert missing.returncode == 2 and f"--baseline-dir: {elsewhere}: expected an existing folder" in missing.stderr
    elsewhere.mkdir()
    done = perf("refresh", "--from-results", *map(str, files), "--baseline-dir", str(elsewhere))
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"in {elsewhere / 'cpu.json'} from 2 runs" in done.stdout
    assert _keys(elsewhere / "cpu.json") == _keys(baseline)
    assert all(len(e["run_medians_ms"]) == 2 for e in json.loads((elsewhere / "cpu.json").read_text())["entries"].values())
    assert baseline.read_bytes() == before

    other_host = json.loads(files[1].read_text())
    other_host["baseline_file"] = "/another/checkout/baselines/cpu.json"  # the same GPU kind, another checkout
    files[1].write_text(json.dumps(other_host))
    assert perf("refresh", "--from-results", *map(str, files), "--baseline-dir", str(elsewhere)).returncode == 0
    other_host["baseline_file"] = "/another/checkout/baselines/H200.json"  # another GPU kind: refused
    files[1].write_text(json.dumps(other_host))
    kept = (elsewhere / "cpu.json").read_bytes()
    refused = perf("refresh", "--from-results", *map(str, files), "--baseline-dir", str(elsewhere))
    assert refused.returncode == 2 and "expected a file named 'cpu.json'" in refused.stderr
    assert (elsewhere / "cpu.json").read_bytes() == kept


@pytest.mark.perf_expected_s(20)
def test_from_results_with_only_merges_the_matching_entries_and_keeps_the_rest(baseline, tmp_path):
    files = []
    for i in range(3):
        files.append(tmp_path / f"run{i}.json")
        done = suite("--baseline-dir", str(baseline.parent), "--perf-json", str(files[-1]))
        assert done.returncode == 0, done.stdout + done.stderr
    before = json.loads(baseline.read_text())["entries"]
    one = sorted(before)[0]
    nothing = perf("refresh", "--from-results", *map(str, files), "--only", one, "--only", "gemm/no-such:*")
    assert nothing.returncode == 2 and "--only 'gemm/no-such:*': matches no benchmark" in nothing.stderr
    assert json.loads(baseline.read_text())["entries"] == before  # refused: nothing written
    done = perf("refresh", "--from-results", *map(str, files), "--only", one)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "refreshed 1 entries" in done.stdout
    after = json.loads(baseline.read_text())["entries"]
    run_medians = sorted(r["summary"]["median_ms"] for f in files for r in json.loads(f.read_text())["results"]
                         if r["key"] == one)
    # the entry is made of the three files' medians: all three, or two where the CPU disturbed one run (a run far
    # from the others' median is left out when two good ones remain)
    assert len(run_medians) == 3 and after[one] != before[one]
    assert 2 <= len(after[one]["run_medians_ms"]) <= 3
    assert all(any(abs(m - r) <= 1e-5 * r for r in run_medians) for m in after[one]["run_medians_ms"])
    assert {k: v for k, v in after.items() if k != one} == {k: v for k, v in before.items() if k != one}


def collect_only_process(args: list[str], refresh: bool) -> tuple[tuple[str, ...], str]:
    """What `pytest perf/suite --collect-only -q` in a process of its own (forked: tests/forked.py) says of `args`,
    as the commands read it before they collected in their own process: the node ids it lists, and the exit status
    with its error lines."""
    done = forked.run_module("pytest", [SUITE, "-p", "perf.plugin", "-p", "no:cacheprovider", "-m", "timing",
                                        "--collect-only", "-q", *(["--perf-refresh"] if refresh else []), *args],
                             cwd=ROOT, timeout=120)
    nodeids = tuple(line for line in done.stdout.splitlines() if line.startswith("perf/suite/") and "::" in line)
    errors = [line for line in done.stdout.splitlines() + done.stderr.splitlines()
              if "timing benchmarks stopped: " in line or ": error: " in line or line.startswith("ERROR: ")]
    return nodeids, f"exit {done.returncode}: {' '.join(errors)}"


@pytest.mark.parametrize("args, refresh, error", [
    (["--model", "pythia-70m", "-k", "(test_gemm and qkv) or (test_decode and m4)"], True, None),
    (["--perf-threshold", "5", "--model", "pythia-70m"], True, "--perf-threshold: '5' would be 500%"),
    (["--gpu", "A100", "--perf-inject-slowdown", "*:qkv:*=9.0"], False, "timing benchmarks need the named GPU"),
])
def test_the_selection_checked_in_this_process_is_what_a_collecting_process_lists(tmp_path, args, refresh, error):
    """suite_process.select collects with pytest.main in the command's own process: the same benchmarks, or the
    same error, as a `--collect-only` pytest process of its own."""
    from perf.commands import suite_process

    args = [*args, "--baseline-dir", str(tmp_path / "bl")]
    selection = suite_process.select(args, refresh=refresh)
    nodeids, said = collect_only_process(args, refresh)
    if error is None:
        assert selection.error is None and sorted(selection.modules()) == ["perf/suite/test_decode.py",
                                                                          "perf/suite/test_gemm.py"], selection
        assert selection.nodeids == nodeids and said == "exit 0: "
    else:
        assert selection.nodeids == nodeids == () and error in selection.error, selection
        assert selection.error in said and not said.startswith("exit 0"), said
