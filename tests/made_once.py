"""A folder of files that one test run makes once and its pytest-xdist workers share (a baseline measured by a
refresh, which costs several suite processes): the first worker to ask makes it, holding a lock; the others wait
for the lock and find it made. Without workers it is made once per module that asks, as a module fixture is."""

from __future__ import annotations

import fcntl
from pathlib import Path
from typing import Callable

DONE = ".made"


def made_once(request, name: str, make: Callable[[Path], None]) -> Path:
    """The folder `name` of this run, after `make(folder)` filled it (in this process or another worker). A `make`
    that raises leaves the folder unmade: the next to ask tries again, and fails as it did."""
    root = request.getfixturevalue("tmp_path_factory").getbasetemp()
    if hasattr(request.config, "workerinput"):  # each worker's base folder lies in the run's own: share that one
        root = root.parent
    folder = root / f"made-once-{name}"
    with open(root / f"made-once-{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (folder / DONE).is_file():
            folder.mkdir(exist_ok=True)
            make(folder)
            (folder / DONE).write_text("")
    return folder
