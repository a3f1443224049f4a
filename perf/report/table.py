"""A table of the report as markdown (summary.md) and as HTML (index.html, the history site): the HTML folds a long
cell into a <details> (its first words as the summary), shows `code` spans as code, keeps numbers and single short
words on one line and lets other text wrap, so that no table of a page is wider than a 1280 px window."""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field

LONG_CELL = 140  # characters: a longer cell is folded in HTML
WORD = 16  # characters: a cell of one word up to this long is never broken (a verdict, a GPU)
_NUMBER = re.compile(r"^[-+±]?(\d[\d,]*(\.\d+)?(e[-+]?\d+)?|\.\d+)\s*(%|x|ms|s)?\*?$|^-$")
_CODE = re.compile(r"`([^`]+)`")


class Html(str):
    """A cell already written as HTML (a link): the HTML table inserts it as it is, markdown shows its text."""

    def __new__(cls, markup: str, text: str):
        cell = super().__new__(cls, text)
        cell.markup = markup
        return cell


@dataclass(frozen=True)
class Table:
    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    classes: tuple[str, ...] = field(default=())  # optional CSS class per row (HTML only)
    ids: tuple[str, ...] = field(default=())  # optional anchor id per row (HTML only)
    links: tuple[str, ...] = field(default=())  # optional href of each row's first cell (HTML only)

    def markdown(self) -> str:
        esc = lambda cell: str(cell).replace("|", "\\|").replace("\n", " ")  # noqa: E731
        lines = ["| " + " | ".join(self.header) + " |", "|" + "|".join("---" for _ in self.header) + "|"]
        lines += ["| " + " | ".join(esc(c) for c in row) + " |" for row in self.rows]
        return "\n".join(lines)

    def html(self) -> str:
        head = "".join(f"<th>{html.escape(h)}</th>" for h in self.header)
        body = []
        for i, row in enumerate(self.rows):
            attrs = _attr("class", self.classes, i) + _attr("id", self.ids, i)
            cells = []
            for j, cell in enumerate(row):
                inner = cell.markup if isinstance(cell, Html) else cell_html(str(cell))
                if j == 0 and i < len(self.links) and self.links[i]:
                    inner = f"<a href='{html.escape(self.links[i])}'>{inner}</a>"
                if isinstance(cell, Html):
                    cells.append(f"<td>{inner}</td>")
                elif _NUMBER.match(str(cell)):
                    cells.append(f"<td class='n'>{inner}</td>")
                elif len(str(cell)) <= WORD and " " not in str(cell):
                    cells.append(f"<td class='w'>{inner}</td>")
                else:
                    cells.append(f"<td>{inner}</td>")
            body.append(f"<tr{attrs}>" + "".join(cells) + "</tr>")
        return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _attr(name: str, values: tuple[str, ...], i: int) -> str:
    return f' {name}="{html.escape(values[i])}"' if i < len(values) and values[i] else ""


def text_html(text: str) -> str:
    """Escaped text with its `code` spans as <code>."""
    return _CODE.sub(lambda m: f"<code>{m.group(1)}</code>", html.escape(text, quote=False))


def cell_html(text: str) -> str:
    """A cell's HTML: short text as it is; a long one folded, its first words showing."""
    if len(text) <= LONG_CELL:
        return text_html(text)
    head = text[:60].rsplit(" ", 1)[0] if " " in text[:60] else text[:60]
    return (f"<details><summary>{text_html(head)} … ({len(text)} characters)</summary>"
            f"<div class='long'>{text_html(text)}</div></details>")
