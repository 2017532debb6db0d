"""Which text lines must be hidden: those holding identity numbers, and (for --cards
fields) a document's name lines.

Input is a list of text.TextLine (quad (4, 2) float32 pixels, text, confidence); output is
one SensitiveLine per line to hide. The text itself never leaves this module.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from ..core import quads as q
from .numbers import find_numbers
from .text import TextLine

# labels printed before a holder's name on ID cards and passports (Chinese, English,
# French, German, Spanish, Italian)
_NAME_LABEL = re.compile(r"姓名|姓\s*名|\bname|surname|given|\bnom\b|pr[ée]nom|vorname|apellido|cognome",
                         re.IGNORECASE)
# kinds in order of importance, for a line holding several
_PRIORITY = ("mrz", "id", "card", "phone", "email", "digits")
# Machine-readable zones (ICAO 9303): TD1 cards carry three lines of 30 characters, TD2
# documents two of 36, passports (TD3) two of 44. OCR often reads an MRZ line short (an
# outline that stops before the document's edge cuts it off; fillers at its end go unread)
# or misses one of its lines, so every MRZ line read is hidden as its whole zone
# (``_mrz_zones``). (characters per line, lines) of the zone taken for the longest line
# read, by the number of its characters: up to 30 a TD1 zone; longer, a passport's (a
# line of 31-36 may be a TD2 line or a passport's read short: its length covers both).
MRZ_FORMATS = ((30, 3), (44, 2))
# the lines of a zone are this many line heights apart at most (ICAO: 6 lines per inch for
# characters about 2.4 mm tall, 1.7 heights; the text box around them is taller still)
MRZ_LINE_PITCH = 2.0
# lines this many line heights apart at most (across) belong to one zone
ZONE_SPAN = (max(count for _length, count in MRZ_FORMATS) - 1) * MRZ_LINE_PITCH


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
    mrz: list[tuple[TextLine, bool]] = []
    for index, line in enumerate(lines):
        matches = find_numbers(line.text)
        if matches:
            kinds = {m.kind for m in matches}
            kind = next(k for k in _PRIORITY if k in kinds)
            validated = all(m.validated for m in matches if m.kind == kind)
            if kind == "mrz":
                mrz.append((line, validated))
            else:
                out.append(SensitiveLine(line.quad, kind, validated))
            chosen.add(index)
    out += _mrz_zones(mrz)
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


class _Axis(NamedTuple):
    """A text line's frame: its centre, unit vectors along and across it (pixels), and its
    length and height."""

    centre: np.ndarray
    along: np.ndarray
    across: np.ndarray
    length: float
    height: float


def _axis(quad: np.ndarray) -> _Axis:
    ordered = q.landscape(q.order_quad(quad))
    along = (ordered[1] + ordered[2] - ordered[0] - ordered[3]) / 2
    length = max(float(np.linalg.norm(along)), 1e-6)
    along = along / length
    return _Axis(ordered.mean(axis=0), along, np.float32([-along[1], along[0]]), length,
                 max(q.short_side(ordered), 1.0))


def _mrz_zones(lines: list[tuple[TextLine, bool]]) -> list[SensitiveLine]:
    """One quad per machine-readable zone among ``lines`` (MRZ lines read, with whether
    their check digits hold): the lines of a zone (parallel, side by side, at most
    ZONE_SPAN line heights apart) taken together, drawn out at both ends to the
    length of their format (the shortest of MRZ_FORMATS that holds the longest line read,
    at that line's character pitch) plus one character, and widened on both sides by
    MRZ_LINE_PITCH heights per line of the format not read. A zone read whole keeps its
    lines' extent (plus one character at each end)."""
    zones: list[list[tuple[TextLine, bool, _Axis]]] = []
    framed = [(line, validated, _axis(line.quad)) for line, validated in lines]
    for line, validated, axis in sorted(framed, key=lambda item: -item[2].length):
        for zone in zones:
            first = zone[0][2]
            offset = axis.centre - first.centre
            if (abs(float(axis.along @ first.along)) >= 0.97
                    and abs(float(offset @ first.across)) <= ZONE_SPAN * first.height
                    and abs(float(offset @ first.along)) <= first.length / 2):
                zone.append((line, validated, axis))
                break
        else:
            zones.append([(line, validated, axis)])
    return [_zone_quad(zone) for zone in zones]


def _zone_quad(zone: list[tuple[TextLine, bool, _Axis]]) -> SensitiveLine:
    """The SensitiveLine covering one zone (see _mrz_zones); zone[0] is its longest line."""
    longest, _validated, axis = zone[0]
    characters = max(len(line.text.strip()) for line, _v, _a in zone)
    per_line, line_count = next((f for f in MRZ_FORMATS if f[0] >= characters), MRZ_FORMATS[-1])
    pitch = axis.length / max(len(longest.text.strip()), 1)
    corners = np.concatenate([line.quad for line, _v, _a in zone]) - axis.centre
    along, across = corners @ axis.along, corners @ axis.across
    grow_along = (max(per_line - characters, 0) + 1) * pitch
    grow_across = max(line_count - len(zone), 0) * MRZ_LINE_PITCH * axis.height
    a0, a1 = along.min() - grow_along, along.max() + grow_along
    b0, b1 = across.min() - grow_across, across.max() + grow_across
    quad = np.float32([axis.centre + a * axis.along + b * axis.across
                       for a, b in ((a0, b0), (a1, b0), (a1, b1), (a0, b1))])
    return SensitiveLine(q.order_quad(quad), "mrz", any(v for _l, v, _a in zone))
