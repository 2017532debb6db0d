"""Identity documents: quad geometry, hiding, detection on generated scenes and on the shared
specimens, and what the report says (never the number itself)."""
from __future__ import annotations

import functools
import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from faceguard import Config
from faceguard.anonymize.documents import DocumentHider, TextHider
from faceguard.cli import main
from faceguard.core import quads as q
from faceguard.detect import text as ocr
from faceguard.detect.numbers import find_numbers
from faceguard.errors import DetectionError
from faceguard.models import OpenVinoNetwork
from faceguard.pipeline import anonymize, process_file
from tests import scenes

pytestmark = pytest.mark.skipif(not scenes.fonts_available(),
                                reason="fonts missing: apt-get install fonts-wqy-zenhei fonts-dejavu-core")

DOCUMENTS = Config(cards="whole", text="cards")  # the defaults, spelled out
coords = st.floats(min_value=0, max_value=300, allow_nan=False)


def _random_quad(rng: np.random.Generator, width: int = 320, height: int = 240) -> np.ndarray:
    centre = rng.uniform([60, 60], [width - 60, height - 60])
    angle = rng.uniform(0, np.pi)
    w, h = rng.uniform(20, 50), rng.uniform(12, 30)
    corners = np.array([[-w, -h], [w, -h], [w, h], [-w, h]])
    rot = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    return q.order_quad(corners @ rot.T + centre)


@given(st.integers(0, 2**32 - 1), st.permutations(range(4)))
def test_order_quad_ignores_the_input_order(seed, order):
    quad = _random_quad(np.random.default_rng(seed))
    np.testing.assert_allclose(q.order_quad(quad[list(order)]), quad)


@given(st.integers(0, 2**32 - 1), st.integers(0, 2**32 - 1))
def test_quad_iou_is_symmetric_bounded_and_one_on_itself(seed_a, seed_b):
    a = _random_quad(np.random.default_rng(seed_a))
    b = _random_quad(np.random.default_rng(seed_b))
    assert 0.0 <= q.quad_iou(a, b) <= 1.0
    assert q.quad_iou(a, b) == pytest.approx(q.quad_iou(b, a), abs=1e-6)
    assert q.quad_iou(a, a) == pytest.approx(1.0, abs=1e-4)
    assert q.covered_by(a, q.pad_quad(a, 3.0)) == pytest.approx(1.0, abs=1e-4)


@settings(max_examples=40)
@given(st.integers(0, 2**32 - 1), st.sampled_from(["pixelate", "fill", "text"]))
def test_hiders_change_nothing_outside_the_quads(seed, style):
    rng = np.random.default_rng(seed)
    image = rng.integers(0, 256, (240, 320, 3), dtype=np.uint8)
    quads = [_random_quad(rng) for _ in range(int(rng.integers(1, 4)))]
    hider = {"pixelate": DocumentHider(), "fill": DocumentHider(color=(0, 0, 0)),
             "text": TextHider()}[style]
    out = hider(image, quads)
    inside = np.zeros(image.shape[:2], bool)
    for quad in quads:
        x0, y0, x1, y1 = q.quad_bounds(quad, 320, 240)
        inside[y0:y1, x0:x1] |= q.quad_mask(quad, (x0, y0, x1, y1)) > 0
    assert np.array_equal(out[~inside], image[~inside])
    # every pixel strictly inside a quad was replaced by the hider's output
    assert out.dtype == np.uint8 and out.shape == image.shape


def _plain_background(rng: np.random.Generator) -> np.ndarray:
    """A smooth random 'photo' for scenes where ../shared is not available."""
    small = rng.integers(40, 220, (6, 8, 3)).astype(np.uint8)
    return np.asarray(Image.fromarray(small).resize((1200, 900), Image.Resampling.BICUBIC))


def _hidden_share(field_quad: np.ndarray, before: np.ndarray, after: np.ndarray) -> float:
    return scenes.hidden_share(field_quad, scenes.changed_pixels(before, after))


@pytest.mark.parametrize("kind", sorted(scenes.RENDERERS))
def test_a_card_in_a_scene_is_found_and_its_numbers_hidden(kind):
    rng = np.random.default_rng(7)
    scene = scenes.make_scene(rng, _plain_background(rng), kind=kind, occlude=0.0)
    result = anonymize(scene.image, config=DOCUMENTS)
    truth = scene.cards[0]
    best = max((q.quad_iou(truth.quad, np.float32(c.quad)) for c in result.cards), default=0.0)
    assert best >= 0.7, f"{kind}: best IoU {best:.2f}"
    for field in truth.fields:
        assert _hidden_share(field.quad, scene.image, result.image) >= 0.98
    # and OCR reads no identity number in the output any more
    assert not [m for line in ocr.read_text(result.image) for m in find_numbers(line.text)
                if m.kind in ("id", "card", "mrz")]


def test_the_text_networks_read_on_openvino_as_on_onnxruntime(monkeypatch):
    """OpenVINO replaces onnxruntime for the PP-OCR networks only because its outputs are
    the same: the same lines, in the same places, read the same, on a passport scene."""
    rng = np.random.default_rng(5)
    scene = scenes.make_scene(rng, _plain_background(rng), kind="passport", occlude=0.0)

    def lines_and_engine():
        ocr._engine.cache_clear()
        lines = ocr.read_text(scene.image)
        return lines, ocr._engine()

    on_openvino, engine = lines_and_engine()
    assert isinstance(engine.text_det.infer, OpenVinoNetwork)
    assert isinstance(engine.text_rec.session, OpenVinoNetwork)
    monkeypatch.setattr(ocr, "openvino_available", lambda: False)
    on_onnxruntime, engine = lines_and_engine()
    ocr._engine.cache_clear()
    assert not isinstance(engine.text_det.infer, OpenVinoNetwork)
    assert len(on_openvino) >= 5
    assert [line.text for line in on_openvino] == [line.text for line in on_onnxruntime]
    for a, b in zip(on_openvino, on_onnxruntime):
        assert np.abs(a.quad - b.quad).max() <= 0.5
        assert abs(a.confidence - b.confidence) <= 1e-3


def test_text_is_still_read_where_openvino_cannot_compile(monkeypatch):
    """OpenVINO failing on a machine (a CPU it cannot compile for) leaves the text
    networks on onnxruntime: print is still read, nothing fails."""
    from faceguard import models

    def refuse(self, path):
        raise DetectionError(f"cannot load {path.name}: no plugin for this CPU")
    monkeypatch.setattr(models.OpenVinoNetwork, "__init__", refuse)
    ocr._engine.cache_clear()
    try:
        engine = ocr._engine()
        assert not isinstance(engine.text_det.infer, OpenVinoNetwork)
        assert any("0800" in line.text for line in ocr.read_text(_placard("CALL 0800 555 0199")))
    finally:
        ocr._engine.cache_clear()


def test_the_detectors_input_made_in_one_pass_is_rapidocrs():
    """The text detector's input, made by OpenCV in one pass, is what rapidocr's own
    float64 steps make from the same image (to float32 rounding), shape and layout too."""
    from rapidocr_onnxruntime.ch_ppocr_det.utils import DetPreProcess
    image = np.random.default_rng(2).integers(0, 256, (701, 1013, 3), dtype=np.uint8)
    detector = ocr._engine().text_det
    ours = detector.get_preprocess(1013)(image)
    theirs = DetPreProcess(1500, "max", detector.mean, detector.std)(image)
    assert ours.shape == theirs.shape == (1, 3, 704, 1024) and ours.dtype == np.float32
    assert ours.flags["C_CONTIGUOUS"]
    assert np.abs(ours - theirs).max() <= 1e-6


def test_fields_policy_hides_the_numbers_but_keeps_the_rest_of_the_card():
    rng = np.random.default_rng(11)
    scene = scenes.make_scene(rng, _plain_background(rng), kind="bank", occlude=0.0)
    result = anonymize(scene.image, config=Config(cards="fields", text="cards"))
    card = scene.cards[0]
    assert result.cards and result.texts  # the number line (OCR may misread a digit or two)
    for field in card.fields:
        assert _hidden_share(field.quad, scene.image, result.image) >= 0.98
    assert _hidden_share(card.quad, scene.image, result.image) < 0.6  # not the whole card


def test_a_documents_spilling_print_is_hidden_and_nothing_else():
    """The print that runs over a document's outline or lies just beyond it is hidden
    unread (under --cards fields too, which reads only inside the outline); pixels away
    from those lines do not change."""
    from faceguard.detect.cards import Document
    from faceguard.pipeline import _hide_spilling
    rng = np.random.default_rng(31)
    image = _plain_background(rng)
    line = np.float32([[200, 600], [700, 600], [700, 630], [200, 630]])
    document = Document(quad=np.float32([[150, 200], [900, 200], [900, 580], [150, 580]]), kind="id1",
                        score=0.9, spilling=line[None])
    hidden = _hide_spilling(image, [document])
    changed = scenes.changed_pixels(image, hidden)
    assert _hidden_share(line, image, hidden) >= 0.98
    far = np.ones(changed.shape, bool)
    far[580:650, 180:720] = False           # the line and its margin
    assert not changed[far].any()


def _placard(*lines: str) -> np.ndarray:
    """A card-shaped placard with ``lines`` of print on a plain background: RGB uint8."""
    from PIL import ImageDraw
    rng = np.random.default_rng(17)
    image = Image.fromarray(_plain_background(rng))
    draw = ImageDraw.Draw(image)
    draw.rectangle((300, 250, 900, 630), fill=(245, 245, 240), outline=(20, 20, 20), width=4)
    font = scenes._font(scenes.SANS_FONT, 34)
    for row, words in enumerate(lines):
        draw.text((340, 280 + row * 70), words, fill=(20, 20, 20), font=font)
    return np.asarray(image)


SLOGANS = ("FREEDOM OF SPEECH", "WE WANT CHANGE", "NO MORE WALLS", "JOIN US")


def test_a_placard_with_lines_of_print_but_no_number_is_not_a_card():
    assert anonymize(_placard(*SLOGANS), config=DOCUMENTS).cards == []


def test_an_outline_whose_print_shows_no_digit_is_not_read_again(monkeypatch):
    """A document holds a number: an outline none of whose lines of print (read once, by
    the whole-image search, or at a glance for print that search missed) shows digits or
    MRZ filler is not read again, line search and all (the costly step of the search, on
    photos of signs and banners)."""
    from faceguard.detect import cards
    reads = []
    real = cards._read_inside
    monkeypatch.setattr(cards, "_read_inside", lambda *a, **k: (reads.append(1), real(*a, **k))[1])
    assert cards.find_documents(_placard(*SLOGANS)) == []
    assert reads == []
    # the same placard with a number on it is read closely
    cards.find_documents(_placard(*SLOGANS, "CALL 0800 555 0199"))
    assert reads


def test_a_photo_with_one_line_of_print_is_not_searched_for_outlines(monkeypatch):
    """A card holds two lines of print or more and so does a page: where the whole image
    shows one line (a shop sign, a shirt), no outline is looked for and nothing is read;
    where it shows two, the search goes on."""
    from faceguard.detect import cards
    looked = []
    real = cards.quad_candidates
    monkeypatch.setattr(cards, "quad_candidates", lambda *a, **k: (looked.append(1), real(*a, **k))[1])
    assert cards.find_documents(_placard("CALL 0800 555 0199")) == []
    assert looked == []
    cards.find_documents(_placard("CALL 0800 555 0199", "JOIN US"))
    assert looked


def test_cards_off_and_text_off_leave_a_card_alone():
    rng = np.random.default_rng(3)
    scene = scenes.make_scene(rng, _plain_background(rng), kind="cn_id", occlude=0.0)
    result = anonymize(scene.image, config=Config(cards="off", text="off"))
    assert result.cards == [] and result.texts == []


def test_text_all_hides_a_number_written_outside_any_card():
    rng = np.random.default_rng(5)
    image = Image.fromarray(_plain_background(rng))
    from PIL import ImageDraw
    ImageDraw.Draw(image).text((100, 400), "TEL 13812345678", fill=(0, 0, 0),
                               font=scenes._font(scenes.SANS_FONT, 48))
    pixels = np.asarray(image)
    result = anonymize(pixels, config=Config(text="all"))
    assert [t.kind for t in result.texts] == ["phone"]
    assert not any(find_numbers(line.text) for line in ocr.read_text(result.image))


def test_a_card_photo_without_faces_is_re_encoded_never_copied_losslessly(tmp_path):
    rng = np.random.default_rng(9)
    scene = scenes.make_scene(rng, _plain_background(rng), kind="bank", occlude=0.0)
    src = tmp_path / "card.png"
    Image.fromarray(scene.image).save(src)
    result = process_file(src, tmp_path / "out.png", config=DOCUMENTS, keep_pixels=True)
    assert result.cards and not result.lossless
    assert not np.array_equal(np.asarray(Image.open(tmp_path / "out.png").convert("RGB")), scene.image)


def test_the_report_lists_cards_and_texts_but_never_the_number(tmp_path):
    rng = np.random.default_rng(13)
    scene = scenes.make_scene(rng, _plain_background(rng), kind="cn_id", occlude=0.0)
    inbox = tmp_path / "in"
    inbox.mkdir()
    Image.fromarray(scene.image).save(inbox / "id.jpg", quality=95)
    report = tmp_path / "report.jsonl"
    outcome = CliRunner().invoke(main, ["run", str(inbox), "-o", str(tmp_path / "out"), "--report",
                                        str(report), "--quiet", "--workers", "1", "--cards", "whole",
                                        "--text", "cards"],
                                 catch_exceptions=False)
    assert outcome.exit_code == 0, outcome.output
    record = json.loads(report.read_text().splitlines()[0])
    assert record["cards"] and {"quad", "kind", "score"} <= set(record["cards"][0])
    assert all({"box", "kind", "validated"} == set(t) for t in record["texts"])
    number = scene.cards[0].fields[0].text
    assert number not in report.read_text()


# ---------------------------------------------------------------- the shared specimens

SPECIMENS = [
    "spring-boot-starter-easy-ocr/example__src__test__resources__img__bank__1.jpg",
    "idcard-ocr/frontend__assets__idcard-test-back.png",
    "PassportEye/tests__data__passport-td3.jpg",
    "PassportEye/passporteye__mrz__testdata__100_id-si.jpg",
    "ultimateMRZ-SDK/assets__images__Czech_passport_2005_MRZ_orient6_1300x1002.jpg",
]


@pytest.mark.parametrize("name", SPECIMENS)
def test_shared_specimens_are_found_and_no_number_stays_readable(shared_data, tmp_path, name):
    src = shared_data / "idcard" / name
    dst = tmp_path / Path(name).name
    result = process_file(src, dst, config=DOCUMENTS, keep_pixels=True)
    assert result.cards, f"no document found in {name}"
    readable = [line.text for line in ocr.read_text(result.image)
                if any(m.kind in ("id", "card", "mrz", "phone") for m in find_numbers(line.text))]
    assert readable == [], f"{name}: still readable: {len(readable)} lines"


def test_lines_running_over_a_document_outline_are_the_spilling_ones():
    """A line cut by the outline spills; one wholly inside or wholly outside does not."""
    from faceguard.detect.cards import spilling_lines

    def box(x0, y0, x1, y1):
        return np.float32([[x0, y0], [x1, y0], [x1, y1], [x0, y1]])

    card = box(100, 100, 400, 290)
    lines = np.stack([box(120, 250, 380, 270),    # inside
                      box(300, 200, 480, 220),    # runs out on the right: 100 of 180 px inside
                      box(500, 120, 600, 140),    # outside
                      box(390, 150, 480, 170)])   # barely in: 10 of 90 px
    spill = spilling_lines(lines, card)
    assert len(spill) == 1 and np.array_equal(spill[0], lines[1])


def test_print_just_beyond_an_outline_cut_at_an_mrz_line_is_hidden_with_the_document():
    """An outline that stops between the two lines of an MRZ: the line left outside is the
    document's print (same size and direction as its lines, one line height away) and is
    hidden with it; a sign's big letters as close, or small print far away, are not."""
    from faceguard.detect.cards import spilling_lines

    def box(x0, y0, x1, y1):
        return np.float32([[x0, y0], [x1, y0], [x1, y1], [x0, y1]])

    card = box(100, 100, 400, 290)
    lines = np.stack([box(120, 150, 380, 166), box(120, 200, 380, 216),   # the card's print
                      box(120, 270, 380, 286),                            # MRZ line 1, inside
                      box(120, 300, 380, 316),                            # MRZ line 2, left out
                      box(110, 40, 390, 90),                              # a sign's letters above
                      box(120, 420, 380, 436)])                           # print far below
    spill = spilling_lines(lines, card)
    assert len(spill) == 1 and np.array_equal(spill[0], lines[3])


def test_whole_policy_hides_a_spilling_line_to_its_end():
    """The pipeline hides a document's spilling lines beyond its outline (--cards whole)."""
    import faceguard.pipeline as pipeline
    from faceguard.detect.cards import Document
    image = np.full((300, 500, 3), 200, np.uint8)
    image[205:215, 300:480] = 20  # dark print running out of the card on the right
    card = np.float32([[100, 100], [400, 100], [400, 290], [100, 290]])
    line = np.float32([[300, 200], [480, 200], [480, 220], [300, 220]])
    document = Document(quad=card, kind="id1", score=0.9, spilling=line[None])
    out = pipeline._hide_documents(image, [document], Config())
    assert (out[205:215, 420:480] > 100).all()  # the print outside the outline is gone


@settings(max_examples=30, deadline=None)
@given(angle=st.floats(-np.pi, np.pi), aspect=st.floats(1.3, 1.9), size=st.floats(180, 420),
       seed=st.integers(0, 2**32 - 1))
def test_an_outline_around_a_block_of_print_is_proposed(angle, aspect, size, seed):
    """An edge map holding a card outline (turned by ``angle``), its lines of print, and
    clutter outside it: one text-driven proposal lies on the outline (IoU >= 0.9)."""
    import cv2

    from faceguard.detect.cards import _line_groups, _text_quads
    rng = np.random.default_rng(seed)
    edges = np.zeros((900, 900), np.uint8)
    for _ in range(12):  # clutter: short strokes outside the card's region
        x, y, dx, dy = (int(v) for v in rng.integers([0, 0, -80, -80], [900, 900, 80, 80]))
        cv2.line(edges, (x, y), (x + dx, y + dy), 255, 3)
    w, h = size, size / aspect
    turn = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])

    def placed(points):
        return (np.float32(points) @ turn.T + 450).astype(np.float32)

    card = placed([[-w / 2, -h / 2], [w / 2, -h / 2], [w / 2, h / 2], [-w / 2, h / 2]])
    cv2.fillConvexPoly(edges, card.astype(np.int32), 0)
    cv2.polylines(edges, [card.astype(np.int32)], True, 255, 3)
    lines = np.stack([placed([[-0.4 * w, y], [0.3 * w, y], [0.3 * w, y + 0.08 * h], [-0.4 * w, y + 0.08 * h]])
                      for y in (-0.3 * h, -0.1 * h, 0.1 * h, 0.25 * h)])
    proposals = _text_quads(_line_groups(lines), edges)
    assert max((q.quad_iou(card, p) for p in proposals), default=0.0) >= 0.9


@settings(max_examples=20, deadline=None)
@given(angle=st.floats(-0.45, 0.45), cut=st.floats(0.1, 0.35), edge=st.sampled_from("lrtb"),
       passport=st.booleans())
def test_a_card_cut_off_by_the_image_edge_is_completed_at_its_aspect(angle, cut, edge, passport):
    """A card (turned by ``angle``) whose far side lies beyond the image edge ``edge``, a
    share ``cut`` of it outside: one text-driven proposal is the whole card, the part
    outside the image included."""
    import cv2

    from faceguard.detect.cards import _line_groups, _text_quads
    size, w = 800, 360.0
    h = w / (q.ID3_ASPECT if passport else q.ID1_ASPECT)
    turn = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    # towards the edge, in the card's own frame; the centre sits (0.5 - cut) of the card
    # inside the image, so ``cut`` of it lies beyond
    towards = np.float32({"l": (-1, 0), "r": (1, 0), "t": (0, -1), "b": (0, 1)}[edge])
    on_edge = np.float32({"l": (0, size / 2), "r": (size, size / 2), "t": (size / 2, 0),
                          "b": (size / 2, size)}[edge])
    centre = on_edge - towards * (0.5 - cut) * np.float32([w, h])

    def placed(points):
        return (np.float32(points) @ turn.T + centre).astype(np.float32)

    card = placed([[-w / 2, -h / 2], [w / 2, -h / 2], [w / 2, h / 2], [-w / 2, h / 2]])
    edges = np.zeros((size, size), np.uint8)
    cv2.polylines(edges, [np.round(card).astype(np.int32)], True, 255, 3)
    # three lines of print on the part inside the image
    shift = -towards * 0.5 * cut * np.float32([w, h])
    lines = np.stack([placed(np.float32([[-0.2 * w, y], [0.1 * w, y], [0.1 * w, y + 0.07 * h],
                                          [-0.2 * w, y + 0.07 * h]]) + shift)
                      for y in (-0.2 * h, -0.05 * h, 0.1 * h)])
    proposals = _text_quads(_line_groups(lines), edges)
    assert max((q.quad_iou(card, p) for p in proposals), default=0.0) >= 0.9


def test_print_of_one_size_and_direction_is_one_group():
    from faceguard.detect.cards import _line_groups

    def line(x, y, length, height):
        return np.float32([[x, y], [x + length, y], [x + length, y + height], [x, y + height]])

    card_print = [line(100, 100 + 30 * k, 200, 14) for k in range(3)]
    sign_letters = [line(100, 10, 300, 60)]          # a sign's big letters right above
    far_print = [line(700, 700, 150, 14), line(700, 730, 150, 14)]
    groups = _line_groups(np.stack(card_print + sign_letters + far_print))
    assert sorted(len(g) for g in groups) == [2, 3]


def test_print_cut_off_by_a_card_laid_over_it_does_not_count_against_the_card():
    """A line 15% inside the outline (a sign's words running under the card) is neither
    the card's print nor print crossing its outline; a line half inside is crossing."""
    from faceguard.detect.cards import _line_evidence

    def box(x0, y0, x1, y1):
        return np.float32([[x0, y0], [x1, y0], [x1, y1], [x0, y1]])

    card = box(100, 100, 400, 290)
    lines = np.stack([box(120, 150, 380, 170), box(15, 200, 115, 220), box(300, 250, 500, 270)])
    assert _line_evidence(card, lines) == (1, 1)


def test_cards_in_busy_photos_are_found(shared_data):
    """The first 16 generated scenes (seed 0) on photos from ../shared/data: crowds, signs,
    buildings around the card. 10 of them were found before the text-driven outlines."""
    found = 0
    for _path, scene in scenes.scenes(shared_data, 16, seed=0):
        result = anonymize(scene.image, config=Config(cards="whole", text="cards", preset="fast"))
        truth = scene.cards[0].quad
        found += max((q.quad_iou(truth, np.float32(c.quad)) for c in result.cards), default=0.0) >= 0.7
    assert found >= 14


# Scenes (seed 0) whose passport's number and MRZ a cheaper search does not read: its print
# is too small, and only a look at the outline enlarged finds it. A first look at 640 px
# lost 11 and 40; reading only outlines with digits among the lines the whole-image search
# read lost 73 and 138.
SMALL_PRINT_SCENES = (11, 40, 73, 138)


def test_a_passport_whose_print_is_too_small_for_the_whole_image_search_is_found(shared_data):
    for index in SMALL_PRINT_SCENES:
        scene = _seed0_scenes(shared_data)[index]
        result = anonymize(scene.image, config=DOCUMENTS)
        best = max((q.quad_iou(scene.cards[0].quad, np.float32(c.quad)) for c in result.cards), default=0.0)
        assert best >= 0.7, (index, best)


# Scenes (seed 0) whose document's outline was found short of its MRZ: a TD1 card outlined
# off to one side (the ends of its three lines, check digits among them, showed beyond the
# outline: 0 of 3 fields hidden) and a passport taken for an ID-1 card (its second MRZ line,
# never read, 87% hidden).
CUT_MRZ_SCENES = (71, 188)
# Scenes (seed 0) whose card lies on something with an outline of its own, much larger (an
# old photo's border, a poster's, a page's), that the card's number made a document too:
# 90-100% of the image was pixelated, and in 107 and 141 the card itself was not found.
# In 246 the card's outline cut its last MRZ line in two (46% inside), which then counted as
# print of the photo's own and kept the photo's outline.
LAID_ON_SCENES = (31, 33, 107, 141, 246)
# Scenes (seed 0) where an outline across the card found (part of it inside, the number
# among that part) was read after it and became a second document: 83-89% of the image.
ACROSS_SCENES = (92, 145)


@functools.lru_cache(maxsize=1)
def _seed0_scenes(shared_data: Path) -> dict[int, scenes.Scene]:
    """The scenes of SMALL_PRINT_SCENES, CUT_MRZ_SCENES, LAID_ON_SCENES and ACROSS_SCENES
    (generated once: a scene's index is its place in the sequence from seed 0)."""
    wanted = set(SMALL_PRINT_SCENES + CUT_MRZ_SCENES + LAID_ON_SCENES + ACROSS_SCENES)
    return {index: scene for index, (_path, scene)
            in enumerate(scenes.scenes(shared_data, max(wanted) + 1, seed=0)) if index in wanted}


def test_an_mrz_that_an_outline_cuts_short_is_hidden_whole(shared_data):
    for index in CUT_MRZ_SCENES:
        scene = _seed0_scenes(shared_data)[index]
        for cards in ("whole", "fields"):
            result = anonymize(scene.image, config=Config(cards=cards, text="cards"))
            changed = scenes.changed_pixels(scene.image, result.image)
            shares = [scenes.hidden_share(f.quad, changed) for f in scene.cards[0].fields]
            assert min(shares) >= 0.98, (index, cards, shares)


@pytest.mark.parametrize("indices", [LAID_ON_SCENES, ACROSS_SCENES], ids=["laid-on", "across"])
def test_a_card_on_a_photo_or_poster_with_a_border_is_hidden_not_the_whole_photo(shared_data, indices):
    """The card is found, its numbers hidden, and most of the photo around it is left: an
    outline around the card gives way to it, and one across it is no document of its own
    (its number is the card's); the faces in the photo are blurred still."""
    for index in indices:
        scene = _seed0_scenes(shared_data)[index]
        card = scene.cards[0]
        result = anonymize(scene.image, config=DOCUMENTS)
        best = max((q.quad_iou(card.quad, np.float32(c.quad)) for c in result.cards), default=0.0)
        assert best >= 0.7, (index, best)
        changed = scenes.changed_pixels(scene.image, result.image)
        assert min(scenes.hidden_share(f.quad, changed) for f in card.fields) >= 0.98
        height, width = changed.shape
        around = q.pad_quad(card.quad, 0.1 * q.short_side(card.quad))
        outside = q.quad_mask(around, (0, 0, width, height)) == 0
        assert changed[outside].mean() < 0.5, (index, changed[outside].mean())


def test_print_hidden_with_a_document_is_not_print_beside_it():
    """A line an outline cuts in two is the document's (hidden to its end with it), and so
    is the same line read joined; print elsewhere, or a line that runs on well past the
    spilling one, is beside it."""
    from faceguard.detect.cards import Document, _beside, spilling_lines

    card = q.box_quad((100, 100, 400, 290))
    cut = q.box_quad((120, 283, 380, 299))          # the card's last line, 44% inside its outline
    elsewhere = q.box_quad((600, 100, 900, 116))    # a sign's line
    running_on = q.box_quad((120, 283, 700, 299))   # a line that goes on far past the card
    lines = np.stack([q.box_quad((120, 150, 380, 166)), q.box_quad((120, 200, 380, 216)), cut, elsewhere])
    document = Document(quad=card, kind="id1", score=1.0, spilling=spilling_lines(lines, card))
    assert len(document.spilling) == 1
    assert not _beside(cut, [document])
    assert not _beside(q.box_quad((120.5, 283.5, 379.5, 298.5)), [document])  # the same line, read
    assert _beside(elsewhere, [document])
    assert _beside(running_on, [document])
    assert _beside(cut, [])


def test_a_number_an_outline_across_a_card_reads_again_is_the_cards(monkeypatch):
    """An outline across a card found, whose only number is the card's own (inside the
    card), is no document; the line it read becomes the card's, so --cards fields hides it
    even where the card's own reading missed it."""
    from faceguard.detect import cards
    from faceguard.detect.fields import sensitive_lines

    card, across = q.box_quad((100, 100, 400, 290)), q.box_quad((60, 200, 700, 560))
    misread = ocr.TextLine(q.box_quad((120, 250, 380, 266)), "4539 I488 O343 6467", 0.6)
    identity = ocr.TextLine(q.box_quad((120, 150, 380, 166)), "110101199003074578", 0.9)
    number = ocr.TextLine(q.box_quad((121, 250, 379, 266)), "4539 1488 0343 6467", 0.9)
    readings = {card.tobytes(): [identity, misread], across.tobytes(): [number]}
    monkeypatch.setattr(cards, "_may_hold_number_inside", lambda quad, readings, full: True)
    monkeypatch.setattr(cards, "_read_inside", lambda image, quad: readings[quad.tobytes()])
    ranked = [cards._Scored(card, 1.0, 4), cards._Scored(across, 0.9, 4)]
    found = cards._documents_among(ranked, [[], []], np.zeros((0, 4, 2), np.float32),
                                   lambda: [], lambda: np.zeros((600, 800, 3), np.uint8))
    assert [d.quad.tolist() for d in found] == [card.tolist()]
    assert {line.kind for line in sensitive_lines(found[0].lines)} == {"id", "card"}


def _card_on_sign(portrait: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """A light card laid on a dark sign held in a grey crowd (Lab image, 400x400), with the
    card's outline, the sign's outline around it and a box printed on the card."""
    import cv2

    rng = np.random.default_rng(23)
    image = rng.normal(120, 30, (400, 400, 3)).clip(0, 255).astype(np.uint8)
    cv2.rectangle(image, (40, 60), (360, 330), (30, 50, 140), -1)           # the sign
    cv2.rectangle(image, (100, 120), (300, 246), (235, 225, 190), -1)       # the card
    if portrait:
        cv2.ellipse(image, (130, 183), (18, 28), 0, 0, 360, (90, 60, 50), -1)
    image = cv2.GaussianBlur(image, (3, 3), 0)

    def box(x0, y0, x1, y1):
        return np.float32([[x0, y0], [x1, y0], [x1, y1], [x0, y1]])

    return cv2.cvtColor(image, cv2.COLOR_RGB2LAB), box(100, 120, 300, 246), box(40, 60, 360, 330), \
        box(160, 140, 290, 230)


@pytest.mark.parametrize("portrait", [False, True])
def test_an_outline_grown_from_a_card_onto_the_sign_it_lies_on_is_told_apart(portrait):
    """The sign's edges support a larger outline around the same print; the ring between it
    and the card looks like the sign, not like the card, so the larger one is dropped. A
    box printed on the card (a photo frame, a text block) does not replace the card: the
    ring between them is the card's own paper, portrait or not."""
    from faceguard.detect.cards import _outgrows_card
    lab, card, sign, printed_box = _card_on_sign(portrait)
    assert _outgrows_card(lab, card, sign)
    assert not _outgrows_card(lab, printed_box, card)


def test_pieces_of_one_printed_line_are_joined_and_the_next_line_is_not():
    """The detector splits "6227 0020 0751 0134" at its gaps; the pieces are read as one
    line, in reading order, while the line below (same size, same direction) stays apart."""
    def piece(x, y, text, angle=0.2):
        turn = np.array([[np.cos(angle), np.sin(angle)], [-np.sin(angle), np.cos(angle)]])
        corners = np.float32([[x, y], [x + 60, y], [x + 60, y + 16], [x, y + 16]]) @ turn
        return ocr.TextLine(quad=corners.astype(np.float32), text=text, confidence=0.9)

    pieces = [piece(180, 100, "0751"), piece(20, 100, "6227"), piece(100, 100, "0020"),
              piece(260, 100, "0134"), piece(20, 140, "VALID"), piece(100, 140, "THRU")]
    joined = ocr.join_lines(pieces)
    assert sorted(line.text for line in joined) == ["6227 0020 0751 0134", "VALID THRU"]


def test_components_of_a_graph_are_labelled_by_their_first_member():
    from faceguard.core.graph import components
    linked = np.zeros((6, 6), bool)
    for i, j in [(4, 1), (1, 3), (2, 5)]:   # one direction only: taken as undirected
        linked[i, j] = True
    assert components(linked).tolist() == [0, 1, 2, 1, 1, 2]


@pytest.mark.parametrize("turn", [1, 3])
def test_a_document_photographed_sideways_keeps_no_readable_mrz(shared_data, turn):
    """A document page turned a quarter turn was found only in part (its print ran up the
    image, and the outline search reads print that runs across): an MRZ line with the
    holder's name stayed readable. Now the search turns the image when most print runs
    sideways."""
    src = shared_data / "idcard" / "PassportEye" / "passporteye__mrz__testdata__100_visa-usa.jpg"
    image = np.ascontiguousarray(np.rot90(np.asarray(Image.open(src).convert("RGB")), turn))
    result = anonymize(image, config=DOCUMENTS)
    for back in (0, 1, 3):  # as stored and turned a quarter turn each way, as text_leaks reads
        shown = np.ascontiguousarray(np.rot90(result.image, back))
        readable = [line.text for line in ocr.read_text(shown)
                    if any(m.kind == "mrz" for m in find_numbers(line.text))]
        assert readable == [], readable


def test_documents_are_looked_for_on_a_reduced_view_and_read_at_full_size():
    """The line search and the outlines work on a reduced copy (a JPEG decoded at 1/2
    scale); the full image is asked for only to read inside an outline, and the card is
    found where the search on the full image finds it."""
    import cv2

    from faceguard.detect import cards
    rng = np.random.default_rng(7)
    scene = scenes.make_scene(rng, _plain_background(rng), kind="cn_id", occlude=0.0)
    view = cv2.resize(scene.image, (1440, 1080), interpolation=cv2.INTER_CUBIC)  # > LINES_SIDE
    big = cv2.resize(scene.image, (2880, 2160), interpolation=cv2.INTER_CUBIC)
    asked = []

    def full():
        asked.append(1)
        return big
    size = (big.shape[1], big.shape[0])
    found = cards.find_documents(full, view=view, view_scale=0.5, size=size)
    assert asked, "a card is read at full size"
    assert max(q.quad_iou(scene.cards[0].quad * 2.4, d.quad) for d in found) >= 0.7
    # a view with no print in it: the full image is never decoded
    asked.clear()
    assert cards.find_documents(full, view=np.full_like(view, 128), view_scale=0.5, size=size) == []
    assert not asked
