"""Recognizers of identity numbers: check digits and what counts as a match."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from faceguard.detect.numbers import find_numbers, luhn_ok, mrz_check_digit, mrz_line_ok, resident_id_ok
from tests.scenes import card_number, resident_id, td1_lines, td3_lines

seeds = st.integers(min_value=0, max_value=2**32 - 1)


def _kinds(text: str) -> list[tuple[str, bool]]:
    return [(m.kind, m.validated) for m in find_numbers(text)]


def test_icao_check_digits_of_the_specimen_in_doc_9303():
    # ICAO 9303 part 4 specimen: L898902C3 -> 6, 740812 -> 2, 120415 -> 9
    assert mrz_check_digit("L898902C3") == "6"
    assert mrz_check_digit("740812") == "2"
    assert mrz_check_digit("120415") == "9"
    assert mrz_line_ok("L898902C36UTO7408122F1204159ZE184226B<<<<<10")
    assert not mrz_line_ok("L898902C37UTO7408122F1204159ZE184226B<<<<<10")


@given(seeds)
def test_generated_resident_ids_validate_and_any_single_digit_change_fails(seed):
    rng = np.random.default_rng(seed)
    number = resident_id(rng, valid=True)
    assert resident_id_ok(number)
    position = int(rng.integers(0, 17))
    changed = number[:position] + str((int(number[position]) + int(rng.integers(1, 10))) % 10) \
        + number[position + 1:]
    assert not resident_id_ok(changed)  # MOD 11-2 catches every single-digit error
    assert _kinds(f"公民身份号码 {number}") == [("id", True)]
    assert _kinds(f"公民身份号码 {changed}") == [("id", False)]


@given(seeds)
def test_luhn_accepts_generated_card_numbers_and_rejects_a_changed_digit(seed):
    rng = np.random.default_rng(seed)
    number = card_number(rng, valid=True, length=int(rng.choice([16, 19])))
    assert luhn_ok(number)
    position = int(rng.integers(0, len(number)))
    changed = number[:position] + str((int(number[position]) + 1) % 10) + number[position + 1:]
    assert not luhn_ok(changed)
    grouped = " ".join(number[i:i + 4] for i in range(0, len(number), 4))
    assert _kinds(grouped) == [("card", True)]


@given(seeds)
def test_generated_mrz_lines_are_found_and_their_data_lines_validate(seed):
    rng = np.random.default_rng(seed)
    for lines in (td3_lines(rng, valid=True), td1_lines(rng, valid=True)):
        kinds = [_kinds(line) for line in lines]
        assert all(k and k[0][0] == "mrz" for k in kinds)
        assert any(k[0][1] for k in kinds)  # the line with check digits validates
    broken = td3_lines(rng, valid=False)[1]
    assert _kinds(broken) == [("mrz", False)]


def test_phone_email_and_long_digit_runs_are_matched_without_their_neighbours():
    assert _kinds("电话 138 1234 5678") == [("phone", True)]
    assert _kinds("+86 13912345678") == [("phone", True)]
    assert _kinds("write to jane.doe@example.org today") == [("email", True)]
    assert _kinds("No. 12345678") == [("digits", False)]
    assert _kinds("born 1986 in Shanghai, 2 kids") == []
    # an ID number is one match, not also a phone number and a card number
    assert _kinds("11010519491231002X") == [("id", True)]


def test_an_mrz_line_broken_by_a_misread_character_is_still_an_mrz_line():
    # OCR read "×" for a letter: the line no longer matches the MRZ alphabet throughout
    assert _kinds("I<U0509M05×6<<<<<<<<<<<<<<<") == [("mrz", False)]
    assert _kinds("see <<<< here") == []  # a short run of '<' in prose is not one


@pytest.mark.parametrize("text, date", [("12052001", True), ("12 05 2001", True), ("20011205", True),
                                        ("05312001", True), ("62270020", False), ("99999999", False),
                                        ("1205200", False)])
def test_camera_date_stamps_are_told_from_other_digit_runs(text, date):
    from faceguard.detect.numbers import looks_like_date
    assert looks_like_date(text) is date


def test_a_date_stamp_alone_does_not_make_an_outline_a_document():
    from faceguard.detect.cards import _identity_evidence
    assert not _identity_evidence("12052001")
    assert _identity_evidence("No. 62270020 0751")       # a digit run that is no date
    assert _identity_evidence("6227 0020 0751 0134")    # a card number
