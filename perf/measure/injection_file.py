"""The file of calibrated injections (`--perf-inject-calibration PATH`): benchmark key -> its calibrated
injection (perf.measure.slowdown.Injection as a dict). A run reuses an entry of the same key and fraction, and
adds what it calibrates; each write replaces the file whole (written aside, then renamed), so a reader never
sees half a file. Workers of one run that calibrate at once may each drop the other's new entry: a later run
then calibrates that benchmark again, nothing worse.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from perf.measure.slowdown import Injection

SCHEMA = "perf-injections/1"


class InjectionFileError(ValueError):
    """A calibration file that cannot be used: names the file and the field."""


def load(path: Path) -> dict[str, Injection]:
    """The stored calibrations by benchmark key; none when the file does not exist yet."""
    try:
        data = json.loads(Path(path).read_text())
    except FileNotFoundError:
        return {}
    except json.JSONDecodeError as exc:
        raise InjectionFileError(f"{path}: not valid JSON (line {exc.lineno}, column {exc.colno}): {exc.msg}") from None
    if not isinstance(data, dict) or data.get("schema") != SCHEMA:
        got = data.get("schema") if isinstance(data, dict) else type(data).__name__
        raise InjectionFileError(f"{path}: schema: expected {SCHEMA!r}, got {got!r}")
    entries = data.get("injections")
    if not isinstance(entries, dict):
        raise InjectionFileError(f"{path}: injections: expected an object of benchmark key -> injection")
    found = {}
    for key, entry in entries.items():
        try:
            found[key] = Injection.from_dict(entry)
        except (KeyError, TypeError, ValueError) as exc:
            raise InjectionFileError(f"{path}: injections[{key!r}]: expected asked, measured, rounds, work, kind and "
                                     f"size ({type(exc).__name__}: {exc})") from None
    return found


def find(path: Path, key: str, fraction: float) -> Injection | None:
    """The stored calibration of this benchmark at this fraction, if there is one."""
    stored = load(path).get(key)
    return stored if stored is not None and stored.asked == fraction else None


def store(path: Path, key: str, injection: Injection) -> None:
    """Add (or replace) one benchmark's calibration."""
    path = Path(path)
    entries = {k: v.to_dict() for k, v in load(path).items()}
    entries[key] = {**injection.to_dict(), "reused": False}
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps({"schema": SCHEMA, "injections": entries}, indent=1, sort_keys=True) + "\n")
    tmp.replace(path)
