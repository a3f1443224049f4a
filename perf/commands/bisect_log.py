"""`perf bisect --log FILE`: the steps of a bisect, one JSON line each, so that an interrupted bisect (Ctrl-C, a CI
job's time limit, a GPU lease that ran out) goes on where it stopped. A step is reused only by a bisect from the
same GOOD commit with the same options (the selection, threshold, rounds and pytest options decide a mark); every
other line is kept and left alone. Each write replaces the file whole (perf/verdict/file_writes.py), so a killed
bisect leaves the lines of the steps it finished."""

from __future__ import annotations

import json
from pathlib import Path

from perf.verdict import file_writes

MARKS = ("good", "bad", "skip")
FIELDS = {"good": str, "options": list, "commit": str, "mark": str, "why": str}


class LogError(ValueError):
    """A log line that cannot be read: the file, the line and what was expected."""


def read(path: Path, good: str, options: list[str]) -> dict[str, dict]:
    """The logged steps of this bisect (GOOD and options as given): commit -> its line, the last one of a commit
    winning. A missing file is an empty log."""
    if not path.exists():
        return {}
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise LogError(f"--log {path}: cannot be read ({exc})") from None
    steps: dict[str, dict] = {}
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            step = json.loads(line)
        except json.JSONDecodeError as exc:
            raise LogError(f"--log {path}: line {number}: not a JSON object ({exc.msg}); expected one step per line "
                           f"as perf bisect writes them") from None
        if not isinstance(step, dict):
            raise LogError(f"--log {path}: line {number}: expected a JSON object, got {type(step).__name__}")
        for name, kind in FIELDS.items():
            if not isinstance(step.get(name), kind):
                raise LogError(f"--log {path}: line {number}: {name}: expected a {kind.__name__}, "
                               f"got {step.get(name)!r}")
        if step["mark"] not in MARKS:
            raise LogError(f"--log {path}: line {number}: mark: expected good, bad or skip, got {step['mark']!r}")
        if step["good"] == good and step["options"] == list(options):
            steps[step["commit"]] = step
    return steps


def append(path: Path, step: dict) -> None:
    """The file with `step` as its last line (written whole: an interruption leaves the lines before)."""
    before = path.read_text(encoding="utf-8") if path.exists() else ""
    if before and not before.endswith("\n"):
        before += "\n"
    file_writes.write_text(path, before + json.dumps(step, sort_keys=True) + "\n")
