"""Whose turn it is on each GPU of a run with one worker per GPU, so that a worker can re-measure on a sibling GPU
without sharing it with that GPU's own worker.

A benchmark can be slow on one GPU of a host and not on its sibling, with no change of code (seen on an H200 host:
decode attention GQA b8 L16k read +10.7% against its entry on one GPU, within 1% on the other). A change in the
code slows every GPU of the kind; so a regression confirmed on one GPU is measured once more on a sibling, and where
the sibling reads no regression the GPU, not the code, is the suspect.

Every GPU of the run has a lock file in a folder the controller makes. A worker holds its own GPU's lock while it runs
a test (`own`), and to measure on a sibling it lets its own go, takes the sibling's, and takes its own back after
(`borrow`): no worker ever waits for one lock while it holds another, so two workers borrowing each other's GPU at
once cannot deadlock. The sibling's worker waits at its next test until the borrowed measurement is done. The locks
are advisory `flock`s: released by the kernel when a process ends, however it ends.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, Sequence


@dataclass
class GpuLocks:
    folder: Path  # one lock file per GPU, named by its UUID
    own_gpu: str  # this worker's GPU (a UUID)
    run_gpus: Sequence[str]  # every GPU of the run, in the controller's order
    _held: dict = field(default_factory=dict)  # GPU -> open file descriptor of its lock, while held

    def sibling(self) -> str | None:
        """The GPU after this worker's in the run's order (the first after the last), or None when it has none."""
        gpus = list(self.run_gpus)
        if self.own_gpu not in gpus or len(gpus) < 2:
            return None
        return gpus[(gpus.index(self.own_gpu) + 1) % len(gpus)]

    def _take(self, gpu: str) -> None:
        fd = os.open(self.folder / f"{gpu}.lock", os.O_RDWR | os.O_CREAT, 0o600)
        fcntl.flock(fd, fcntl.LOCK_EX)  # waits for the holder
        self._held[gpu] = fd

    def _give(self, gpu: str) -> None:
        fd = self._held.pop(gpu, None)
        if fd is not None:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    @contextlib.contextmanager
    def own(self) -> Iterator[None]:
        """This worker's GPU is its own for the block (a test)."""
        self._take(self.own_gpu)
        try:
            yield
        finally:
            self._give(self.own_gpu)

    @contextlib.contextmanager
    def borrow(self, gpu: str) -> Iterator[None]:
        """`gpu` (a sibling) is this worker's for the block; its own GPU's lock is let go meanwhile, if held, and
        taken back after."""
        had_own = self.own_gpu in self._held
        self._give(self.own_gpu)
        try:
            self._take(gpu)
            try:
                yield
            finally:
                self._give(gpu)
        finally:
            if had_own:
                self._take(self.own_gpu)
