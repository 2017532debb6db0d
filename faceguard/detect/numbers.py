"""Recognizers for identity numbers in OCR text, with their check digits.

Pure string functions, no models. ``find_numbers(text)`` returns every match as a
NumberMatch(kind, start, end, validated): ``start:end`` indexes ``text``, ``validated`` says
whether the number's own check digits agree. A number that fails its check is still a
match: specimen documents carry invalid numbers, OCR misreads a digit, and a number that
can be read is a leak either way.

Kinds:
  id      Chinese resident ID, 18 characters (GB 11643-1999, ISO 7064 MOD 11-2)
  card    payment card number, 13-19 digits in groups (Luhn)
  phone   mainland China mobile number, 1[3-9] and 9 more digits
  mrz     ICAO 9303 machine-readable-zone line (TD1 30, TD2 36, TD3 44 characters)
  email   an e-mail address (validated when it has a dotted domain)
"""
from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class NumberMatch:
    kind: str
    start: int
    end: int
    validated: bool


_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
# digits may be separated by single spaces (OCR often splits groups)
_ID_RE = re.compile(r"(?<![\dXx])\d(?: ?\d){16} ?[\dXx](?![\dXx])")
_CARD_RE = re.compile(r"(?<!\d)\d(?:[ -]?\d){12,18}(?!\d)")
_PHONE_RE = re.compile(r"(?<!\d)(?<!\d[ -])(?:\+?86[ -]?)?1[3-9]\d(?:[ -]?\d){8}(?!\d)")
_MRZ_RE = re.compile(r"[A-Z0-9<«]{25,46}")
_EMAIL_RE = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*")
# any other long digit run: account, licence, passport numbers without a known check
_DIGITS_RE = re.compile(r"(?<!\d)\d(?:[ -]?\d){7,}(?!\d)")


def resident_id_ok(number: str) -> bool:
    """ISO 7064 MOD 11-2 check of an 18-character Chinese resident ID number."""
    if len(number) != 18 or not number[:17].isdigit():
        return False
    total = sum(int(d) * w for d, w in zip(number[:17], _ID_WEIGHTS))
    return "10X98765432"[total % 11] == number[17].upper()


def luhn_ok(digits: str) -> bool:
    """Luhn check of a payment card number (digits only)."""
    if not digits.isdigit() or len(digits) < 2:
        return False
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def mrz_check_digit(field: str) -> str:
    """ICAO 9303 check digit of a field: weights 7, 3, 1; A-Z = 10-35, '<' = 0."""
    total = 0
    for i, ch in enumerate(field):
        if ch.isdigit():
            value = int(ch)
        elif "A" <= ch <= "Z":
            value = ord(ch) - 55
        else:
            value = 0
        total += value * (7, 3, 1)[i % 3]
    return str(total % 10)


def _checks_hold(line: str, fields: list[tuple[int, int, int]]) -> bool:
    return all(mrz_check_digit(line[a:b]) == line[c] for a, b, c in fields)


# (start, end, check position) of each checked field on the line that carries check digits
_MRZ_FIELDS = {
    # TD3 line 2: document number, birth date, expiry, personal number
    44: [(0, 9, 9), (13, 19, 19), (21, 27, 27), (28, 42, 42)],
    # TD2 line 2: document number, birth date, expiry
    36: [(0, 9, 9), (13, 19, 19), (21, 27, 27)],
    # TD1 line 2: birth date, expiry (line 1's document number is checked separately)
    30: [(0, 6, 6), (8, 14, 14)],
}


def mrz_line_ok(line: str) -> bool:
    """True when an MRZ line's own check digits agree.

    TD3/TD2 data lines and TD1 line 2 carry check digits; TD1 line 1 carries the document
    number's. Name lines carry none and are never validated.
    """
    if len(line) == 30 and line[0] in "ACI" and line[14].isdigit():
        return _checks_hold(line, [(5, 14, 14)])
    fields = _MRZ_FIELDS.get(len(line))
    if fields is None or not all(line[c].isdigit() for _a, _b, c in fields):
        return False
    return _checks_hold(line, fields)


# OCR often breaks an MRZ line on a misread character ("I<U0509M05×6<<<<<<<<"); a run of
# filler characters in a long line is an MRZ line all the same
_MRZ_FILLER_RE = re.compile(r"^(?=.{20,})[^\s]*<{4,}[^\s]*$")


def _is_mrz(candidate: str) -> bool:
    return candidate.count("<") >= 4 or (candidate.count("<") >= 2 and mrz_line_ok(candidate))


def find_numbers(text: str) -> list[NumberMatch]:
    """Every identity number in one OCR line of ``text``, in order of kind then position."""
    found: list[NumberMatch] = []

    def taken(start: int, end: int) -> bool:
        return any(m.start < end and start < m.end for m in found)

    upper = text.upper().replace("«", "<")
    for m in _MRZ_RE.finditer(upper):
        squeezed = m.group()
        if _is_mrz(squeezed):
            found.append(NumberMatch("mrz", m.start(), m.end(), mrz_line_ok(squeezed)))
    if not found:
        for m in re.finditer(r"\S+", upper):
            if _MRZ_FILLER_RE.match(m.group()):
                found.append(NumberMatch("mrz", m.start(), m.end(), False))
    for m in _ID_RE.finditer(text):
        if not taken(m.start(), m.end()):
            number = m.group().replace(" ", "")
            found.append(NumberMatch("id", m.start(), m.end(), resident_id_ok(number)))
    for m in _PHONE_RE.finditer(text):
        if not taken(m.start(), m.end()):
            found.append(NumberMatch("phone", m.start(), m.end(), True))
    for m in _CARD_RE.finditer(text):
        if not taken(m.start(), m.end()):
            digits = re.sub(r"\D", "", m.group())
            found.append(NumberMatch("card", m.start(), m.end(), luhn_ok(digits)))
    for m in _EMAIL_RE.finditer(text):
        if not taken(m.start(), m.end()):
            domain = m.group().split("@", 1)[1]
            found.append(NumberMatch("email", m.start(), m.end(), "." in domain))
    for m in _DIGITS_RE.finditer(text):
        if not taken(m.start(), m.end()):
            found.append(NumberMatch("digits", m.start(), m.end(), False))
    return found


def looks_like_date(digits: str) -> bool:
    """True for 8 digits that read as a calendar date (DDMMYYYY, MMDDYYYY or YYYYMMDD,
    years 1900-2099): the date a camera prints into the corner of a photo."""
    digits = re.sub(r"\D", "", digits)
    if len(digits) != 8:
        return False

    def valid(day: str, month: str, year: str) -> bool:
        return 1 <= int(day) <= 31 and 1 <= int(month) <= 12 and 1900 <= int(year) <= 2099

    return (valid(digits[:2], digits[2:4], digits[4:]) or valid(digits[2:4], digits[:2], digits[4:])
            or valid(digits[6:], digits[4:6], digits[:4]))
