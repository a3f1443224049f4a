"""The suite's options: one pytest group, validated when pytest configures, shared by `python -m perf refresh`
(which runs pytest with them). Precedence: defaults < pyproject.toml ([tool.pytest.ini_options]) <
environment (PERF_*) < command line.
"""

from __future__ import annotations

import fnmatch
import math
import os
from dataclasses import dataclass, field, replace
from pathlib import Path

from perf import gpus
from perf.spec import FAMILIES
from perf.shape import models, shape_policy
from perf.measure.timing import TimingSettings
from perf.verdict import destination

# Each command's default regression threshold (all parsed by `threshold` below):
DEFAULT_THRESHOLD = 0.03  # pytest perf/: against a stored baseline, with the noise model above it; 5% must be seen
AB_THRESHOLD = 0.02  # perf ab: both revisions on one GPU in interleaved rounds, with no between-process, sibling-GPU
# or host spread in the change (docs/ab.md), so a smaller change than the suite's can be called
COMPARE_THRESHOLD = 0.05  # perf compare: for a B record without its own threshold; two files of one run each carry
# no between-run spread, so the bar is wider than the suite's
CONFIRM = ("process", "window")
DTYPES = ("bf16", "fp16")
CLAIMS = ("report", "strict")
REFERENCES = ("history", "history-host", "baseline")  # --perf-reference
SWEEPS = ("compact", "full")


class OptionError(ValueError):
    """A bad option value: names the option, the value and what was expected."""


def add_options(parser) -> None:
    group = parser.getgroup("perf", "performance-regression suite")
    group.addoption("--gpu", metavar="NAME",
                    help="target GPU (A100, h100, H100-PCIe, H200, ...; env PERF_GPU). Timing needs this GPU to be the "
                         "device present; rule checks run anywhere. Default: the device present.")
    group.addoption("--baseline-dir", metavar="DIR",
                    help="folder of <GPU>.json baseline files (ini perf_baseline_dir, env PERF_BASELINE_DIR). Default: "
                         "baselines/ in the checkout; for the CPU device ~/.cache/perf-suite/baselines.")
    group.addoption("--perf-threshold", metavar="FRACTION",
                    help="regression threshold: a fraction up to 1 or a percentage, 0.05 or 5%% (ini perf_threshold, "
                         "env PERF_THRESHOLD)")
    group.addoption("--perf-family-threshold", action="append", default=[], metavar="FAMILY=FRACTION",
                    help="threshold for one benchmark family (" + ", ".join(FAMILIES) + "), e.g. decode=0.08 or "
                         "decode=8%% (ini perf_family_thresholds)")
    group.addoption("--perf-fail-on-new", action="store_true", default=None,
                    help="fail benchmarks that have no baseline entry (ini perf_fail_on_new)")
    group.addoption("--perf-json", metavar="PATH", help="write the run's results (and environment) to PATH")
    group.addoption("--perf-refresh", action="store_true", default=False,
                    help="re-measure and rewrite the baseline entries that ran (what `python -m perf refresh` does)")
    group.addoption("--model", action="append", default=[], metavar="NAME",
                    help="benchmark this registered model (repeatable); default: the suite's workloads")
    group.addoption("--perf-dtype", choices=DTYPES, help="dtype of the GEMM benchmarks (default bf16)")
    group.addoption("--sweep", choices=SWEEPS, help="sweep size of the sweep families (default compact)")
    group.addoption("--perf-max-time", metavar="SECONDS", help="sampling time cap per benchmark")
    group.addoption("--perf-noise-target", metavar="FRACTION",
                    help="stop sampling when the median's 95%% confidence half-width is within this fraction")
    group.addoption("--perf-inject-slowdown", action="append", default=[], metavar="PATTERN=FRACTION[@GPU]",
                    help="self-test: add real device time of FRACTION x the benchmark's time to benchmarks whose key "
                         "matches the glob PATTERN, to prove that the suite flags it; @GPU (an index or a UUID "
                         "prefix) slows them only where measured on that GPU (to prove the sibling check)")
    group.addoption("--perf-inject-calibration", metavar="PATH",
                    help="a JSON file of calibrated injections: an injection found there (same benchmark, same "
                         "fraction) reuses its extra work and its measured slowdown instead of calibrating again; "
                         "new calibrations are added to it (repeated runs of one self-test: `perf ab` rounds)")
    group.addoption("--perf-history", metavar="URL",
                    help="store the run in the results history: an SQLAlchemy URL such as sqlite:///perf-history.db "
                         "or postgresql://user@host/db (ini perf_history, env PERF_HISTORY); the summary then lists "
                         "change points ending at this run and benchmarks unreliable on their last runs")
    group.addoption("--perf-reference", choices=REFERENCES,
                    help="what a verdict compares with when --perf-history is given: 'history' (default: this GPU's "
                         "own recent runs in the same environment, where it has enough; else the committed "
                         "baseline), 'history-host' (the host's GPUs of the kind pooled) or 'baseline' (always the "
                         "committed baseline; the run is still stored) (ini perf_reference, env PERF_REFERENCE)")
    group.addoption("--perf-report", metavar="DIR", help="write summary.md, index.html, CSV and plots to DIR")
    group.addoption("--perf-confirm", choices=CONFIRM,
                    help="how a suspected regression is re-measured before it fails: 'process' (default: a fresh "
                         "process, independent of the first measurement) or 'window' (a second window in this "
                         "process; faster, correlated with the first) (env PERF_CONFIRM)")
    group.addoption("--perf-no-sibling", action="store_true", default=False,
                    help="with workers on several GPUs, a regression confirmed on one GPU is measured once more on a "
                         "sibling GPU, and stands only if the sibling shows it too (else: unreliable, that GPU is "
                         "the suspect); this skips that measurement")
    group.addoption("--perf-measure-only", action="store_true", default=False,
                    help="measure and record (--perf-json) without verdicts failing or re-measures: what "
                         "`python -m perf refresh --runs N` and the fresh-process re-measure run")
    group.addoption("--perf-claims", choices=CLAIMS,
                    help="the paper's claims (marker claims, run after the benchmarks they read): 'report' (default: a "
                         "contradicted claim is an xfail naming the numbers) or 'strict' (it fails) (env PERF_CLAIMS)")
    group.addoption("--perf-claims-file", metavar="PATH",
                    help="the claims to evaluate (default perf/shape/claims.toml; env PERF_CLAIMS_FILE)")
    group.addoption("--perf-pairs", action="store_true", default=False,
                    help="also time each of our kernels and its reference side by side: in alternation in one process "
                         "(ABBA rounds, marker pairs), for the ratio a speed target reads; off by default (each pair "
                         "takes 8 windows)")
    shape_policy.add_options(group)
    shape_policy.add_ini(parser)
    parser.addini("perf_threshold", "regression threshold (fraction)", default=str(DEFAULT_THRESHOLD))
    parser.addini("perf_family_thresholds", "FAMILY=FRACTION lines", type="linelist", default=[])
    parser.addini("perf_baseline_dir", "folder of baseline files", default="")
    parser.addini("perf_history", "results-history database URL", default="")
    parser.addini("perf_reference", "history, history-host or baseline", default="")
    parser.addini("perf_fail_on_new", "fail benchmarks with no baseline", type="bool", default=False)


def _fraction(value: str, what: str) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise OptionError(f"{what}: expected a fraction such as 0.05, got {value!r}") from None
    if not 0 <= number < 10:
        raise OptionError(f"{what}: expected a fraction between 0 and 10 (0.05 is 5%), got {value!r}")
    return number


def threshold(value: str, what: str) -> float:
    """A regression threshold: a fraction up to 1 (0.05) or a percentage (5%). A bare number above 1 is refused:
    `5` would mean 500%."""
    text = str(value).strip()
    percent = text.endswith("%")
    try:
        number = float(text[:-1] if percent else text)
    except ValueError:
        raise OptionError(f"{what}: expected a fraction such as 0.05 or a percentage such as 5%, got {value!r}") from None
    if percent:
        number /= 100
    if not math.isfinite(number) or number < 0:
        raise OptionError(f"{what}: expected a non-negative fraction (0.05 or 5%), got {value!r}")
    if number > 1 and not percent:
        raise OptionError(f"{what}: {value!r} would be {number:.0%}; write a fraction or a percentage: "
                          f"0.05 or 5% (a threshold above 100% needs the %, e.g. {number:g}00%)")
    return number


def _positive(value: str, what: str) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise OptionError(f"{what}: expected a positive number, got {value!r}") from None
    if not number > 0 or not math.isfinite(number):  # nan and inf are no time: a NaN would reach the baseline
        raise OptionError(f"{what}: expected a positive number, got {value!r}")
    return number


@dataclass(frozen=True)
class Injection:
    """A self-test's slowdown: a fraction of the benchmark's time, everywhere or only on one GPU."""

    fraction: float
    gpu: str | None = None  # an NVML index or a UUID prefix; None: every GPU

    def applies_on(self, gpu) -> bool:
        """Does it slow a benchmark measured on `gpu` (a workers.PhysicalGpu, None on the CPU device)?"""
        if self.gpu is None:
            return True
        if gpu is None:
            return False
        return self.gpu == str(gpu.index) if self.gpu.isdigit() else gpu.uuid.startswith(self.gpu)

    def to_text(self) -> str:
        return f"{self.fraction!r}" + (f"@{self.gpu}" if self.gpu else "")


def _injection(value: str, what: str) -> Injection:
    fraction, at, gpu = value.partition("@")
    if at and not (gpu.isdigit() or gpu.startswith("GPU-")):
        raise OptionError(f"{what}: @{gpu}: expected a GPU index such as @0 or a UUID prefix such as @GPU-3a9e")
    return Injection(_fraction(fraction, what), gpu or None)


def _pairs(items: list[str], what: str, value_of=_fraction) -> dict:
    pairs = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise OptionError(f"{what}: expected NAME=FRACTION, got {item!r}")
        pairs[name.strip()] = value_of(value.strip(), f"{what} {name.strip()}")
    return pairs


def _family_thresholds(items: list[str], what: str) -> dict[str, float]:
    pairs = _pairs(items, what, threshold)
    unknown = sorted(set(pairs) - set(FAMILIES))
    if unknown:
        raise OptionError(f"{what}: unknown benchmark famil{'y' if len(unknown) == 1 else 'ies'} "
                          f"{', '.join(map(repr, unknown))}; known: {', '.join(FAMILIES)}")
    return pairs


def default_cpu_baseline_dir() -> Path:
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(cache) / "perf-suite" / "baselines"


BASELINE_DIR_ENV = "PERF_BASELINE_DIR"
BASELINE_DIR_INI = "perf_baseline_dir"


def named_baseline_dir(option: str | Path | None, ini: str | None, rootdir: Path,
                       environ=None) -> tuple[Path | None, str | None]:
    """The baseline folder the user named and where: the option > env PERF_BASELINE_DIR > ini perf_baseline_dir (a
    relative folder taken from `rootdir`, the checkout); (None, None) where none is named."""
    environ = os.environ if environ is None else environ
    for value, source in ((option, "--baseline-dir"), (environ.get(BASELINE_DIR_ENV), BASELINE_DIR_ENV),
                          (ini, f"{BASELINE_DIR_INI} in the ini file")):
        if value not in (None, ""):
            folder = Path(value)
            return (folder if folder.is_absolute() else Path(rootdir) / folder), source
    return None, None


def baseline_folder(option: str | Path | None, rootdir: Path, *, is_cpu: bool, ini: str | None = None,
                    environ=None) -> Path:
    """The folder of <GPU>.json baseline files every command reads and writes: the one named (named_baseline_dir:
    option > env PERF_BASELINE_DIR > ini perf_baseline_dir), else the default: the checkout's baselines/ on a GPU,
    the user's cache on the CPU device (its baselines are this machine's, never committed)."""
    named, _ = named_baseline_dir(option, ini, rootdir, environ)
    if named is not None:
        return named
    return default_cpu_baseline_dir() if is_cpu else Path(rootdir) / "baselines"


def ini_value(rootdir: Path, name: str) -> str | None:
    """A [tool.pytest.ini_options] setting of the checkout's pyproject.toml, for commands that run outside pytest."""
    import tomllib

    path = Path(rootdir) / "pyproject.toml"
    try:
        data = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError):
        return None
    value = data.get("tool", {}).get("pytest", {}).get("ini_options", {}).get(name)
    return None if value is None else str(value)


@dataclass(frozen=True)
class PerfOptions:
    gpu: gpus.GpuSpec | None  # None: the device present
    baseline_dir: Path | None  # None: the default for the device
    threshold: float = DEFAULT_THRESHOLD
    family_thresholds: dict = field(default_factory=dict)
    fail_on_new: bool = False
    json_path: Path | None = None
    refresh: bool = False
    models: tuple[str, ...] = ()
    dtype: str = "bf16"
    sweep: str = "compact"
    timing: TimingSettings = TimingSettings()
    injections: dict = field(default_factory=dict)  # glob -> Injection
    injection_calibration: Path | None = None  # where calibrated injections are reused from and stored
    report_dir: Path | None = None
    confirm: str = "process"
    sibling_check: bool = True  # re-measure a confirmed regression on a sibling GPU (runs with workers on several)
    measure_only: bool = False
    claims: str = "report"
    claims_file: Path | None = None  # None: perf/shape/claims.toml
    history: str | None = None  # database URL of the results history
    reference: str = "history"  # what verdicts compare with where a history is given (REFERENCES)
    pairs: bool = False  # run the side-by-side pairs (perf/suite/test_pairs.py)

    def threshold_for(self, family: str) -> float:
        return self.family_thresholds.get(family, self.threshold)

    def injection_for(self, key: str, gpu=None) -> float | None:
        """The fraction to slow benchmark `key` by when measured on `gpu` (a workers.PhysicalGpu or None)."""
        for pattern, injection in self.injections.items():
            if fnmatch.fnmatchcase(key, pattern):
                return injection.fraction if injection.applies_on(gpu) else None
        return None


def resolve(config, environ=os.environ) -> PerfOptions:
    """PerfOptions from a pytest config: command line over environment over ini over defaults."""
    opt = config.getoption
    rootdir = Path(config.rootpath)

    def pick(cli, cli_name, env_name, ini_name=None):
        """The value and where it came from, by precedence."""
        if cli not in (None, "", []):
            return cli, cli_name
        if environ.get(env_name):
            return environ[env_name], env_name
        if ini_name is not None and config.getini(ini_name) not in (None, "", []):
            return config.getini(ini_name), f"{ini_name} in the ini file"
        return None, None

    gpu_name, _ = pick(opt("--gpu"), "--gpu", "PERF_GPU")
    try:
        gpu = gpus.resolve(gpu_name) if gpu_name else None
    except gpus.UnknownGpu as exc:
        raise OptionError(f"--gpu: {exc}") from None

    if opt("--perf-threshold") == "":  # given, but empty (an unset variable in a CI script): not the default
        raise OptionError("--perf-threshold: expected a fraction or a percentage such as 0.05 or 5%, got an empty value")
    threshold_value, source = pick(opt("--perf-threshold"), "--perf-threshold", "PERF_THRESHOLD", "perf_threshold")
    run_threshold = threshold(threshold_value, source) if threshold_value is not None else DEFAULT_THRESHOLD

    family = _family_thresholds(list(config.getini("perf_family_thresholds")), "perf_family_thresholds")
    family.update(_family_thresholds(opt("--perf-family-threshold"), "--perf-family-threshold"))

    baseline_dir, dir_source = named_baseline_dir(opt("--baseline-dir"), config.getini(BASELINE_DIR_INI), rootdir,
                                                  environ)
    problem = baseline_dir and destination.not_a_folder(baseline_dir, dir_source, "a folder of <GPU>.json baseline files")
    if problem:
        raise OptionError(problem)

    fail_on_new = opt("--perf-fail-on-new")
    if fail_on_new is None:
        fail_on_new = bool(config.getini("perf_fail_on_new"))

    names = tuple(opt("--model"))
    if names:
        known = models.registry()
        unknown = [n for n in names if n not in known]
        if unknown:
            raise OptionError(f"--model: unknown model(s) {unknown}; registered: {', '.join(sorted(known))}")

    timing = TimingSettings()
    if opt("--perf-max-time"):
        timing = replace(timing, max_time_s=_positive(opt("--perf-max-time"), "--perf-max-time"))
    if opt("--perf-noise-target"):
        timing = replace(timing, noise_target=_positive(opt("--perf-noise-target"), "--perf-noise-target"))

    injections = _pairs(opt("--perf-inject-slowdown"), "--perf-inject-slowdown", _injection)
    calibration = opt("--perf-inject-calibration")
    if calibration and not injections:
        raise OptionError("--perf-inject-calibration without --perf-inject-slowdown: there is nothing to calibrate")
    if calibration:
        from perf.measure import injection_file

        try:
            injection_file.load(Path(calibration))  # a broken file is refused before anything is measured
        except injection_file.InjectionFileError as exc:
            raise OptionError(f"--perf-inject-calibration: {exc}") from None
    refresh = bool(opt("--perf-refresh"))
    if refresh and injections:
        raise OptionError("--perf-inject-slowdown with --perf-refresh would write slowed times into the baseline; "
                          "inject only in runs that compare with it")
    confirm, _ = pick(opt("--perf-confirm"), "--perf-confirm", "PERF_CONFIRM")
    if confirm is not None and confirm not in CONFIRM:
        raise OptionError(f"PERF_CONFIRM: expected one of {', '.join(CONFIRM)}, got {confirm!r}")

    claims, _ = pick(opt("--perf-claims"), "--perf-claims", "PERF_CLAIMS")
    if claims is not None and claims not in CLAIMS:
        raise OptionError(f"PERF_CLAIMS: expected one of {', '.join(CLAIMS)}, got {claims!r}")
    claims_file, source = pick(opt("--perf-claims-file"), "--perf-claims-file", "PERF_CLAIMS_FILE")
    if claims_file is not None and not Path(claims_file).is_file():
        raise OptionError(f"{source}: no such claims file: {claims_file}")

    history, _ = pick(opt("--perf-history"), "--perf-history", "PERF_HISTORY", "perf_history")
    reference, source = pick(opt("--perf-reference"), "--perf-reference", "PERF_REFERENCE", "perf_reference")
    if reference and reference not in REFERENCES:
        raise OptionError(f"{source}: expected one of {', '.join(REFERENCES)}, got {reference!r}")
    json_path = opt("--perf-json")
    report_dir = opt("--perf-report")
    problem = (json_path and Path(json_path).is_dir() and f"--perf-json {json_path}: a folder; expected a file name") or (
        report_dir and destination.not_a_folder(Path(report_dir), "--perf-report", "a folder for the report"))
    if problem:
        raise OptionError(problem)
    return PerfOptions(
        gpu=gpu,
        baseline_dir=baseline_dir,
        threshold=run_threshold,
        family_thresholds=family,
        fail_on_new=fail_on_new,
        json_path=Path(json_path) if json_path else None,
        refresh=refresh,
        models=names,
        dtype=opt("--perf-dtype") or "bf16",
        sweep=opt("--sweep") or "compact",
        timing=timing,
        injections=injections,
        injection_calibration=Path(calibration) if calibration else None,
        report_dir=Path(report_dir) if report_dir else None,
        confirm=confirm or "process",
        sibling_check=not opt("--perf-no-sibling"),
        measure_only=bool(opt("--perf-measure-only")),
        claims=claims or "report",
        claims_file=Path(claims_file) if claims_file else None,
        history=history or None,
        reference=reference or "history",
        pairs=bool(opt("--perf-pairs")),
    )


def to_args(options: PerfOptions, *, baseline_dir: Path | None = None) -> list[str]:
    """Command-line options that make another pytest process measure as this one does (the same GPU, baseline
    folder, dtype, sweep, models, timing settings and injected slowdowns)."""
    args = ["--perf-dtype", options.dtype, "--sweep", options.sweep,
            "--perf-max-time", repr(options.timing.max_time_s),
            "--perf-noise-target", repr(options.timing.noise_target)]
    if options.gpu is not None:
        args += ["--gpu", options.gpu.key]
    directory = baseline_dir or options.baseline_dir
    if directory is not None:
        args += ["--baseline-dir", str(Path(directory).resolve())]
    for name in options.models:
        args += ["--model", name]
    for pattern, injection in options.injections.items():
        args += ["--perf-inject-slowdown", f"{pattern}={injection.to_text()}"]
    return args
