"""Which text lines must be hidden: those holding identity numbers, and (for --cards
fields) a document's name lines.

Input is a list of text.TextLine (quad (4, 2) float32 pixels, text, confidence); output is
one SensitiveLine per line to hide. The text itself never leaves this module.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from .numbers import find_numbers
from .text import TextLine

# labels printed before a holder's name on ID cards and passports (Chinese, English,
# French, German, Spanish, Italian)
_NAME_LABEL = re.compile(r"姓名|姓\s*名|\bname|surname|given|\bnom\b|pr[ée]nom|vorname|apellido|cognome",
                         re.IGNORECASE)
# kinds in order of importance, for a line holding several
_PRIORITY = ("mrz", "id", "card", "phone", "email", "digits")


@dataclass(frozen=True)
class SensitiveLine:
    quad: np.ndarray
    kind: str
    validated: bool


def _value_after(label: TextLine, lines: list[TextLine]) -> TextLine | None:
    """The line right of or just below a name label (the value it labels)."""
    lx0, ly0 = label.quad.min(axis=0)
    lx1, ly1 = label.quad.max(axis=0)
    height = ly1 - ly0
    best, best_distance = None, np.inf
    for other in lines:
        if other is label:
            continue
        ox0, oy0 = other.quad.min(axis=0)
        ox1, oy1 = other.quad.max(axis=0)
        same_row = oy0 < ly1 and ly0 < oy1 and ox0 >= lx1 - height
        below = ly1 - height < oy0 < ly1 + 2.5 * height and ox0 < lx1 and lx0 < ox1 + 2 * height
        if same_row or below:
            distance = (ox0 - lx1) if same_row else (oy0 - ly1) + height
            if distance < best_distance:
                best, best_distance = other, distance
    return best


def sensitive_lines(lines: list[TextLine], *, names: bool = False) -> list[SensitiveLine]:
    """The lines to hide: every line with an identity number; with ``names``, name lines too."""
    out: list[SensitiveLine] = []
    chosen: set[int] = set()
    for index, line in enumerate(lines):
        matches = find_numbers(line.text)
        if matches:
            kinds = {m.kind for m in matches}
            kind = next(k for k in _PRIORITY if k in kinds)
            validated = all(m.validated for m in matches if m.kind == kind)
            out.append(SensitiveLine(line.quad, kind, validated))
            chosen.add(index)
    if names:
        for line in lines:
            if not _NAME_LABEL.search(line.text):
                continue
            targets = [line]
            value = _value_after(line, lines)
            if value is not None:
                targets.append(value)
            for target in targets:
                position = next(i for i, other in enumerate(lines) if other is target)
                if position not in chosen:
                    out.append(SensitiveLine(target.quad, "name", False))
                    chosen.add(position)
    return out
