"""Bounds on the numbers of a model config: what a real transformer could have, with room to spare (the largest
published models have h = 25,600, a = 160, 160 layers, a 256k vocabulary, a 10M-token context). Checked before
anything loops over or multiplies them, so that a config with h = 10**18 is one line, not a check that never
ends; and the names a config gives are shown with their control characters escaped, never sent to the terminal."""

from __future__ import annotations

BOUNDS = {  # our field name -> the largest value accepted
    "hidden": 2**20,
    "heads": 2**14,
    "layers": 2**14,
    "vocab": 2**24,
    "seq": 2**27,
    "ffn": 2**22,
    "kv_heads": 2**14,
    "head_dim": 2**14,
}


def shown(value: object) -> str:
    """A value for a message: an integer of more than 15 digits as its size (Python refuses to print one of more
    than 4300 digits), anything else as repr, at most 80 characters."""
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 10**15:
        try:
            return f"an integer of {len(str(abs(value)))} digits"
        except ValueError:  # beyond Python's limit for printing an integer
            return f"an integer of about {round(abs(value).bit_length() * 0.30103)} digits"
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def out_of_bounds(field: str, value: object) -> str | None:
    """Why an integer field's value is beyond what a real model could have, or None."""
    bound = BOUNDS.get(field)
    if bound is None or not isinstance(value, int) or isinstance(value, bool) or value <= bound:
        return None
    return f"must be at most {bound} (beyond any real model), got {shown(value)}"


def printable(text: str) -> str:
    """`text` with control characters (terminal escape codes among them) escaped as Python writes them."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)
