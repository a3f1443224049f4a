"""Plain-text tables for the terminal: a header, a rule, and rows padded to the widest cell. Given a width (the
terminal's: COLUMNS where set), a table wider than it wraps its text columns, the widest first, each cell onto as
many lines as it needs (at spaces, else at ':' or '/', else anywhere), where that makes it fit; number columns are
never wrapped. A table that still cannot fit leaves out the columns the caller named as optional, in their order
(fit_columns), and says which."""

from __future__ import annotations

import re
from typing import Sequence

GAP = 2
MIN_FIRST = 30  # the first column (the benchmark, the claim) is never wrapped narrower
MIN_TEXT = 16
_NUMBERISH = re.compile(r"^[-+±~x]?[\d.,]*\d[\d.,]*(e[-+]?\d+)?\s*(%|x|ms|s|us)?\*?$|^-?$")


def format_table(header: Sequence[str], rows: Sequence[Sequence[str]], *, numbers_right: bool = False,
                 width: int | None = None) -> list[str]:
    """The table's lines. With numbers_right, every column after the first is right-aligned. With width, text
    columns wrap so that the lines fit it where they can."""
    widths = [max([len(h), *(len(r[i]) for r in rows)]) for i, h in enumerate(header)]
    if width is not None:
        widths = fitted(header, rows, widths, width)

    def line(cells: Sequence[str]) -> str:
        return (" " * GAP).join(
            c.rjust(w) if numbers_right and i else c.ljust(w) for i, (c, w) in enumerate(zip(cells, widths))
        ).rstrip()

    lines = [line(header), line(["-" * w for w in widths])]
    for r in rows:
        pieces = [wrap(c, w) for c, w in zip(r, widths)]
        for k in range(max(len(p) for p in pieces)):
            lines.append(line([p[k] if k < len(p) else "" for p in pieces]))
    return lines


def fitted(header: Sequence[str], rows: Sequence[Sequence[str]], widths: list[int], width: int) -> list[int]:
    """Column widths that fit `width`: the widest text column narrowed first, down to its minimum. A table that
    cannot fit even so keeps its widths (wrapping would make it longer without making it fit)."""
    natural, widths = widths, list(widths)
    minimum = []
    for i, h in enumerate(header):
        text = any(not _NUMBERISH.match(r[i]) for r in rows)
        floor = MIN_FIRST if i == 0 else MIN_TEXT
        minimum.append(min(widths[i], max(floor, len(h))) if text else widths[i])
    while sum(widths) + GAP * (len(widths) - 1) > width:
        candidates = [i for i in range(len(widths)) if widths[i] > minimum[i]]
        if not candidates:
            break
        widest = max(candidates, key=lambda i: widths[i] - minimum[i])
        widths[widest] -= 1
    return widths if sum(widths) + GAP * (len(widths) - 1) <= width else natural


def wrap(text: str, width: int) -> list[str]:
    """`text` in lines of at most `width` characters, broken after a space, ':' or '/' where one is near."""
    lines = []
    while len(text) > width:
        cut = max(text.rfind(ch, 0, width) for ch in " :/;,")
        cut = cut + 1 if cut >= width // 3 else width
        lines.append(text[:cut].rstrip())
        text = text[cut:].lstrip()
    return [*lines, text]


def fit_columns(header: Sequence[str], rows: Sequence[Sequence[str]], width: int | None,
                optional: Sequence[str]) -> tuple[list[str], list[tuple[str, ...]], list[str]]:
    """The header and rows to show at `width`, and the headers left out: the `optional` columns are left out one at
    a time, in their order, until the table fits with its text columns wrapped (or no optional column is left)."""
    keep = list(range(len(header)))
    left_out: list[str] = []

    def fits() -> bool:
        shown = [header[i] for i in keep]
        cut = [[r[i] for i in keep] for r in rows]
        natural = [max([len(h), *(len(r[k]) for r in cut)]) for k, h in enumerate(shown)]
        widths = fitted(shown, cut, natural, width)
        return sum(widths) + GAP * (len(widths) - 1) <= width

    if width is not None:
        for name in optional:
            if fits():
                break
            if name in header and header.index(name) in keep:
                keep.remove(header.index(name))
                left_out.append(name)
    return [header[i] for i in keep], [tuple(r[i] for i in keep) for r in rows], left_out
