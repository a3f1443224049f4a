"""Writing the suite's files (baselines, results files, reports) so that a failure never leaves half a file.

Every file is written to a hidden temporary file beside it (`.NAME.PID.HEX.tmp`), flushed to disk, given the old
file's mode (and owner, for root), then renamed over the old one; a symlinked file keeps its link (the file it
names is replaced). A full disk or another I/O error removes the temporary file and raises WriteError: one line
naming the path and the errno. The temporary files a killed run left behind (their process is gone) are removed by
the next write into that folder.
"""

from __future__ import annotations

import errno
import os
import re
import secrets
import stat
from pathlib import Path

_TEMP = re.compile(r"^\.(?P<name>.+)\.(?P<pid>\d+)\.[0-9a-f]+\.tmp$")


class WriteError(OSError):
    """A file that could not be written: the message names the path and the errno."""

    def __str__(self) -> str:
        return str(self.strerror)


def describe(exc: OSError, path: Path | str | None = None) -> str:
    """One line for an OSError: `path` (else the error's own), the reason and the errno's name."""
    if isinstance(exc, WriteError):
        return str(exc)
    where = path if path is not None else exc.filename
    reason = exc.strerror or str(exc) or type(exc).__name__
    code = errno.errorcode.get(exc.errno, "") if exc.errno else ""
    return f"{where}: {reason}" + (f" ({code})" if code else "") if where is not None else \
        reason + (f" ({code})" if code else "")


def process_alive(pid: int) -> bool:
    """Whether process `pid` still runs (a temporary file or folder named by it may be in use)."""
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process
    return True


def remove_stale_temps(folder: Path, name: str | None = None) -> list[Path]:
    """Remove the temporary files in `folder` (of file `name`, or of any file) whose writing process is gone; the
    paths removed."""
    removed = []
    try:
        candidates = list(Path(folder).iterdir())
    except OSError:
        return removed
    for path in candidates:
        found = _TEMP.match(path.name)
        if not found or (name is not None and found["name"] != name) or process_alive(int(found["pid"])):
            continue
        try:
            path.unlink()
            removed.append(path)
        except OSError:
            pass
    return removed


def write_text(path: Path | str, text: str) -> Path:
    """Write `text` to `path` atomically (see the module's docstring); the path written (a symlink's target)."""
    return write_bytes(path, text.encode("utf-8"))


def write_bytes(path: Path | str, data: bytes) -> Path:
    path = Path(path)
    target = Path(os.path.realpath(path)) if path.is_symlink() else path
    tmp = target.parent / f".{target.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp"
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        remove_stale_temps(target.parent, target.name)
        old = target.stat() if target.exists() else None
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)  # the umask applies, as to any new file
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        if old is not None:
            os.chmod(tmp, stat.S_IMODE(old.st_mode))
            if os.geteuid() == 0 and (old.st_uid, old.st_gid) != (0, 0):
                os.chown(tmp, old.st_uid, old.st_gid)  # root rewriting someone's file leaves it theirs
        os.replace(tmp, target)
    except OSError as exc:
        _discard(tmp)
        raise WriteError(exc.errno, f"cannot write {describe(exc, path)}") from None  # never the hidden name
    except BaseException:
        _discard(tmp)
        raise
    return target


def _discard(tmp: Path) -> None:
    try:
        tmp.unlink(missing_ok=True)
    except OSError:
        pass
