"""Where the suite writes its files (baselines, results, reports): whether a path can be a folder, and whether the
mode bits let this process write there; checked before anything is measured, so that nothing is lost at the end."""

from __future__ import annotations

import os
import stat
from pathlib import Path


def nearest_existing(path: Path) -> Path:
    """The path itself, or the nearest of its parents that exists."""
    path = Path(path).absolute()
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def not_a_folder(path: Path, what: str, expected: str) -> str | None:
    """Why `path` cannot be (or become) a folder: a file there or on the way; None when it can."""
    existing = nearest_existing(path)
    if existing.is_dir():
        return None
    which = "that" if existing == Path(path).absolute() else str(existing)
    return f"{what} {path}: {which} is a file; expected {expected}"


def _writable_by_mode(st: os.stat_result) -> bool:
    """Whether the mode bits grant this process write permission. The bits decide even for root (which the
    kernel, and os.access, would let write anyway): a file or folder made read-only is meant to stay as it is."""
    uid = os.geteuid()
    if uid == 0:
        bits = stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH
    elif st.st_uid == uid:
        bits = stat.S_IWUSR
    elif st.st_gid == os.getegid() or st.st_gid in os.getgroups():
        bits = stat.S_IWGRP
    else:
        bits = stat.S_IWOTH
    return bool(st.st_mode & bits)


def unwritable(path: Path) -> str | None:
    """Why a baseline file could not be written at `path` (by the mode bits of the file and of its folder, or
    the nearest folder that exists), or None when it can."""
    path = Path(path)
    if path.exists():
        if not path.is_file():
            return f"{path}: not a regular file"
        st = path.stat()
        if not _writable_by_mode(st):
            return f"{path}: read-only (mode {stat.S_IMODE(st.st_mode):04o}); make it writable (chmod u+w) to refresh it"
    folder = nearest_existing(path.parent)
    if not folder.is_dir():
        return f"{folder}: a file, not a folder; expected a folder of <GPU>.json baseline files"
    st = folder.stat()
    if not _writable_by_mode(st):
        return (f"{folder}: folder is read-only (mode {stat.S_IMODE(st.st_mode):04o}); the baseline file cannot be "
                f"written there: make it writable or pass another --baseline-dir")
    return None
