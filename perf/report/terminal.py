"""What `pytest perf/` prints: the header after collection (target, baseline, threshold, how a regression is
confirmed) and the summary at the end (pairs, benchmarks and their verdicts, claims, the environment's changes, the
per-GPU table, the offsets, the history, a refresh). The tables' cells and the verdict order are perf.report.cells'.

`state` is the plugin's PerfSession (perf/session.py), read only: target, options, results, extras, baselines,
environment, history_db, history_references, min_history_runs, and the notes it keeps (timing_blocked, history_note,
claims_note, refreshed, interrupted, wrote).
"""

from __future__ import annotations

import shlex
import textwrap

from perf.measure import environment, paired
from perf.report import cells, kernel_targets, offsets, pairs_table, per_gpu
from perf.report.refresh_table import moves_lines
from perf.report.text_table import fit_columns, format_table
from perf.verdict import baselines, noise

# ------------------------------------------------------------------------------------------------ header


def header_lines(state, config) -> list[tuple[str, dict]]:
    """(line, markup) for the terminal after collection, where the run times anything."""
    lines: list[tuple[str, dict]] = []
    t = state.target
    if t.is_cpu:
        lines.append(("perf: no GPU found: running on the CPU device (torch on the CPU, small shapes, host timer, one "
                      "thread, warm caches)", {}))
        lines += [(f"perf: {line}", {"yellow": True}) for line in cpu_substitutions(config)]
    else:
        origin = "read off the device" if t.present.detected else "from the spec table"
        lines.append((f"perf: target {t.gpu.key}; device present {t.present.name} ({t.present.sms} SMs, "
                      f"{t.present.l2_mib:.0f} MiB L2, {origin}); CUDA-event timing, cold L2", {}))
    if state.timing_blocked:
        lines.append((f"perf: timing benchmarks stopped: {state.timing_blocked}", {"red": True}))
        return lines
    if state.baseline_error:  # pytest says it, once, as the run's usage error
        return lines
    options = state.options
    lines.append((f"perf: baselines {state.baselines.path} ({len(state.baselines.entries)} entries, "
                  f"{runs_phrase(state.baselines)}); threshold {options.threshold:.1%}; a change counts "
                  f"beyond the largest of the threshold, {noise.K_BETWEEN_RUNS:g} x the between-run sigma, "
                  f"the within-run noise and {noise.FLOOR_TICKS} timer ticks; a regression is confirmed "
                  f"by a re-measure in a {'fresh process' if options.confirm == 'process' else 'second window'}"
                  + ("; REFRESH: entries that run are rewritten" if options.refresh else ""), {}))
    if state.history_db is not None:
        lines.append((f"perf: results history {state.history_db.where}: " + (
            "the committed baseline decides every verdict (--perf-reference baseline)"
            if options.reference == "baseline" or options.refresh else
            f"each benchmark is compared with this runner's own recent runs where it has enough "
            f"({'the host' if options.reference == 'history-host' else 'this device'}, the same environment), "
            f"else with the baseline") + ("; this self-test run is not stored" if not state.stores_history else ""),
            {}))
    if state.pair_items:
        lines.append((f"perf: {state.pair_items} side-by-side pairs: ours and the reference in alternation, "
                      f"{paired.ROUNDS} ABBA rounds each; ratio = reference time / ours (above 1: ours faster)", {}))
    return lines


def cpu_substitutions(config) -> list[str]:
    """What the CPU device runs instead of the GPU-only settings the user asked for."""
    lines = []
    dtype = config.getoption("--perf-dtype")
    if dtype:
        lines.append(f"--perf-dtype {dtype} does not apply on the CPU device: its benchmarks run in fp32 ({dtype} "
                     f"matmuls on most CPUs go through slow fallbacks); the dtype applies on a GPU")
    if config.getoption("--sweep") == "full":
        lines.append("--sweep full does not apply on the CPU device: it runs the small CPU sweep points; the full "
                     "sweeps apply on a GPU")
    return lines


def runs_phrase(base: baselines.Baselines) -> str:
    runs = sorted({len(e.get("run_medians_ms") or ()) or 1 for e in base.entries.values()})
    if not runs:
        return "none yet"
    if runs == [1]:
        return (f"one run each: the between-run sigma is the default {noise.DEFAULT_SPREAD[base.device_kind]:.0%}; "
                f"`python -m perf refresh --runs 3` learns it")
    return f"{runs[0]} runs each" if len(runs) == 1 else f"{runs[0]}-{runs[-1]} runs each"


# ------------------------------------------------------------------------------------------------ summary


def summary(tr, state) -> None:
    """The end of the run on the terminal reporter `tr`."""
    if state.timing_blocked:
        tr.write_sep("=", "perf: timing benchmarks did not run", red=True)
        tr.write_line(state.timing_blocked)
    pairs = state.extras.get("perf_pairs")
    if pairs:
        pairs_summary(tr, state, pairs)
    if state.results:
        benchmarks_summary(tr, state)
    history_summary(tr, state)
    refresh_summary(tr, state)
    for line in state.wrote:
        tr.write_line(f"perf: wrote {line}")
    for line in state.write_errors:
        tr.write_line(line, red=True)


def pairs_summary(tr, state, pairs: list[dict]) -> None:
    """The side-by-side pairs' table and the kernel targets they decide."""
    tr.write_sep("=", f"perf: {len(pairs)} pairs side by side on {state.target.present.name} (ratio = reference "
                      f"time / ours: above 1, ours is faster)")
    for line in format_table(pairs_table.HEADER, pairs_table.rows(pairs), numbers_right=True, width=_width(tr)):
        tr.write_line(line)
    for line in pairs_table.summary_lines(pairs):
        tr.write_line(line)
    verdicts = kernel_targets.decided(pairs)
    if verdicts:
        tr.write_line("kernel targets (docs/kernels.md), decided side by side:")
        for line in format_table(kernel_targets.HEADER, kernel_targets.rows(verdicts), width=_width(tr)):
            tr.write_line(line)


def history_summary(tr, state) -> None:
    """Where the run was stored in the results history, and what the history says of it (a run of pairs alone
    too)."""
    if state.history_note:
        tr.write_sep("=", "perf: history")
        tr.write_line(state.history_note)
        for d in state.extras.get("perf_history_drift", []):
            tr.write_line(f"drift: {d['benchmark']} {d['change']} since {d['since']} (commit {d['commit'] or '?'}): "
                          f"{d['before_ms']:.4g} -> {d['after_ms']:.4g} ms, p={d['p_value']:.2g}"
                          + (f"; {d['environment']}" if d["environment"] else ""), yellow=True)
        for u in state.extras.get("perf_history_unreliable", []):
            tr.write_line(f"unreliable on each of the last {u['runs']} runs: {u['benchmark']} (since {u['since']})",
                          yellow=True)


def refresh_summary(tr, state) -> None:
    """What --perf-refresh wrote, or that an interrupted refresh wrote nothing."""
    if state.refreshed is not None:
        path, moves, kept = state.refreshed
        tr.write_sep("=", f"perf: refreshed {len(moves)} entries in {path} ({kept} kept)")
        for line in moves_lines(moves):
            tr.write_line(line)
        flagged = [m.key for m in moves if m.flags]
        if flagged:
            tr.write_line(f"{len(flagged)} entries written with quality flags (throttled or noisy in every run): "
                          + ", ".join(flagged[:10]), yellow=True)
    elif state.options.refresh and state.interrupted:
        tr.write_line(f"perf: interrupted: nothing refreshed; {state.baselines.path} was left as it was", red=True)


def benchmarks_summary(tr, state) -> None:
    """The benchmarks' table, their verdicts, the claims, the baseline's hints, the per-GPU table and the offsets."""
    records = cells.sorted_records(state.results)
    tr.write_sep("=", f"perf: {len(records)} benchmarks on {state.target.present.name}")
    rows = [cells.row(r, cells.TERMINAL_COLUMNS) for r in records]
    width = _width(tr)
    header, rows, left_out = fit_columns(cells.TERMINAL_COLUMNS, rows, width, cells.TERMINAL_OPTIONAL)
    for line in format_table(header, rows, numbers_right=True, width=width):
        tr.write_line(line)
    if left_out:
        note = f"(not shown in {width} columns: {', '.join(left_out)}; a wider COLUMNS or --perf-report shows them)"
        for line in textwrap.wrap(note, width):
            tr.write_line(line)
    counts = cells.verdict_counts(records)
    tr.write_line("verdicts: " + cells.counts_line(counts)
                  + ("   (* re-measured)" if any(r["remeasured"] for r in records) else ""))
    references_summary(tr, state, records)
    if counts.get("improvement") and not state.options.refresh:
        tr.write_line("improvements beyond noise: refresh the baseline with `python -m perf refresh` to keep them"
                      + (", or accept those decided by the history with `python -m perf history accept KEY... "
                         "--reason TEXT`" if state.history_references else ""), green=True)
    claims = state.extras.get("perf_claims")
    if claims:
        tr.write_sep("-", f"perf: {len(claims)} claims of the co-design paper on {state.target.present.name}")
        rows = [(c["id"], c["verdict"], c["numbers"]) for c in claims]
        for line in format_table(("claim", "verdict", "measured"), rows, width=_width(tr)):
            tr.write_line(line)
        if state.claims_note:
            tr.write_line(state.claims_note)
    if counts.get("new") and not (state.options.refresh or state.options.measure_only):
        tr.write_line(f"{counts['new']} benchmarks have no baseline in {state.baselines.path}; measure one with:",
                      yellow=True)
        tr.write_line(f"    {refresh_command(state.options, state.config.option.keyword)}")
    base_env = state.baseline_environment()
    if base_env:
        diffs = environment.differences(state.environment, base_env)
        if diffs:
            tr.write_line("environment differs from the baseline's: " + "; ".join(
                cells.difference_text(k, then, now) for k, then, now in diffs), yellow=True)
    by_gpu = per_gpu.rows(records)
    if by_gpu:
        tr.write_line("per GPU (change = now / baseline - 1):")
        for line in format_table(per_gpu.HEADER, by_gpu, numbers_right=True, width=_width(tr)):
            tr.write_line(line)
    offsets_summary(tr, records)


def references_summary(tr, state, records: list[dict]) -> None:
    """Which reference decided the verdicts: this runner's history, the committed baseline, or none."""
    refs = [r.get("reference") or {} for r in records]
    history = [ref for ref in refs if ref.get("source") == "history"]
    parts = []
    if history:
        runs = sorted(ref["runs"] for ref in history)
        span = f"{runs[0]}" if runs[0] == runs[-1] else f"{runs[0]}-{runs[-1]}"
        runners = sorted({ref["runner"] for ref in history})
        parts.append(f"{len(history)} by this runner's history ({span} runs of {', '.join(runners)} since "
                     f"{min(ref['since'] for ref in history)})")
    baseline = sum(1 for ref in refs if ref.get("source") == "baseline")
    if baseline:
        parts.append(f"{baseline} by {state.baselines.path}")
    if state.history_db is not None:
        tr.write_line("references: " + "; ".join(parts or ["none"]) + (
            "" if not baseline else f" (the history decides once a benchmark has {state.min_history_runs} clean runs "
                                    f"of this runner in this environment)"))


def offsets_summary(tr, records) -> None:
    """Each GPU's offset from its entries per family (perf.report.offsets), and in words those of 1% or more."""
    family_offsets = offsets.offsets(records)
    if family_offsets:
        tr.write_line("offset from the entries per GPU and family (median change = now / baseline - 1; positive is "
                      "slower):")
        rows = [o.row() for o in family_offsets]
        for line in format_table(offsets.HEADER, rows, numbers_right=True, width=_width(tr)):
            tr.write_line(line)
        for o in family_offsets:
            if o.notable:
                tr.write_line(o.sentence(), yellow=True)


def _width(tr) -> int | None:
    """The terminal's width (COLUMNS where set): the tables wrap to fit it (None: a reporter without one)."""
    return getattr(getattr(tr, "_tw", None), "fullwidth", None)


def refresh_command(options, keyword: str | None) -> str:
    """The `python -m perf refresh` line that measures a baseline for what this run selected (`options`, the
    run's PerfOptions; `keyword`, its -k expression)."""
    words = ["python", "-m", "perf", "refresh"]
    if options.gpu is not None:
        words += ["--gpu", options.gpu.key]
    if options.baseline_dir is not None:
        words += ["--baseline-dir", str(options.baseline_dir)]
    for name in options.models:
        words += ["--model", name]
    if keyword:
        words += ["-k", keyword]
    return shlex.join(words)
