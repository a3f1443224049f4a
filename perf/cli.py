"""`python -m perf COMMAND ...`: refresh, detect, ab, lint, advise, report, compare, claims, history, decode-model.

Each command lives in its own module of perf/commands/ with `main(argv) -> int`; this module only dispatches.
"""

from __future__ import annotations

import errno
import importlib
import os
import sys

COMMANDS = {
    "refresh": ("perf.commands.refresh", "re-measure benchmarks and rewrite their baseline entries atomically"),
    "detect": ("perf.commands.detect", "detection experiment: inject a slowdown into chosen benchmarks, see what is caught"),
    "ab": ("perf.commands.ab", "two git revisions measured in interleaved rounds on one GPU: change, interval, verdict"),
    "bisect": ("perf.commands.bisect", "the first commit between GOOD and BAD that slows the selected benchmarks (A/B steps)"),
    "lint": ("perf.commands.lint", "check a model config against the shape rules for a GPU"),
    "advise": ("perf.commands.advise", "propose nearby model shapes that run faster on a GPU"),
    "report": ("perf.commands.report", "tables and plots from a results file"),
    "compare": ("perf.commands.compare", "compare two results files"),
    "claims": ("perf.commands.claims", "the paper's claims decided by a results (or baseline) file's measurements"),
    "history": ("perf.commands.history", "the results history in a database: import, show, changes, report"),
    "decode-model": ("perf.commands.decode_model", "tokens/s, KV-cache memory and FLOPs over decoding steps from a results file"),
}


def usage() -> str:
    lines = ["usage: python -m perf COMMAND [options]", "", "commands:"]
    lines += [f"  {name:<12} {help_}" for name, (_, help_) in COMMANDS.items()]
    lines += ["", "python -m perf COMMAND --help shows a command's options."]
    return "\n".join(lines)


BROKEN_PIPE = 141  # the exit status of a program ended by SIGPIPE (128 + 13), as a shell reports it


def main(argv: list[str] | None = None) -> int:
    """Run a command; a reader that stops reading (`perf-suite --help | head`) ends it quietly."""
    try:
        code = _run(argv)
        sys.stdout.flush()
        return code
    except BrokenPipeError:
        # Python would print a traceback and then fail again flushing stdout at exit: send what is left to nowhere.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return BROKEN_PIPE


def _run(argv: list[str] | None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(usage())
        return 0 if argv else 2
    name, rest = argv[0], argv[1:]
    if name not in COMMANDS:
        print(f"unknown command {name!r}\n\n{usage()}", file=sys.stderr)
        return 2
    module = importlib.import_module(COMMANDS[name][0])
    try:
        return int(module.main(rest) or 0)
    except BrokenPipeError:
        raise
    except OSError as exc:  # a full disk, an I/O error: one line naming the path and the errno, never a traceback
        code = errno.errorcode.get(exc.errno or 0)
        said = str(exc) if exc.filename is None else f"{exc.filename}: {exc.strerror}" + (f" ({code})" if code else "")
        print(f"perf {name}: error: {said}", file=sys.stderr)
        return 1
