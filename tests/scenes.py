"""Synthetic scenes with exact ground truth: identity cards pasted into real photos.

A card is rendered flat (random names, valid or invalid numbers, Debian fonts), then warped
with a random rotation and perspective, lit unevenly, blurred, partly covered by a thumb,
and composited into a photo from ../shared/data; the scene is JPEG-compressed once.

Ground truth per card: its quad and the quads of its number fields (ID number, card
number, MRZ lines), all (4, 2) float32 in scene pixels, clockwise from the card's top-left.
Images are (H, W, 3) uint8 RGB. Everything is drawn from one ``np.random.Generator``.

Used by tests/test_cards.py and benchmarks/eval_cards.py (``make eval``).
"""
from __future__ import annotations

import io
import string
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont, ImageOps

from faceguard.core import quads as q
from faceguard.detect.numbers import mrz_check_digit

FONT_DIRS = [Path("/usr/share/fonts/truetype/wqy"), Path("/usr/share/fonts/truetype/dejavu")]
CJK_FONT = "wqy-zenhei.ttc"
SANS_FONT = "DejaVuSans.ttf"
BOLD_FONT = "DejaVuSans-Bold.ttf"
MONO_FONT = "DejaVuSansMono.ttf"
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰涛明超秀霞平刚桂英华"
ADDRESS = "北京市朝阳区建国路上海市浦东新区世纪大道广州市天河区体育西路号室"
LATIN_NAMES = ["ANNA", "MARIA", "JOHN", "LI", "WEI", "SOFIA", "LUCAS", "EMMA", "NOAH", "ELENA"]
LATIN_SURNAMES = ["SMITH", "MUELLER", "ERIKSSON", "ZHANG", "GARCIA", "ROSSI", "NOVAK", "WANG"]


def font_path(name: str) -> Path:
    for folder in FONT_DIRS:
        if (folder / name).exists():
            return folder / name
    raise FileNotFoundError(f"font {name} missing: apt-get install fonts-wqy-zenhei fonts-dejavu-core")


def fonts_available() -> bool:
    try:
        for name in (CJK_FONT, SANS_FONT, BOLD_FONT, MONO_FONT):
            font_path(name)
    except FileNotFoundError:
        return False
    return True


def _font(name: str, size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(str(font_path(name)), size)


@dataclass
class Field:
    kind: str          # "id", "card" or "mrz"
    text: str
    quad: np.ndarray   # (4, 2) float32


@dataclass
class Card:
    kind: str          # "cn_id", "bank", "passport", "td1"
    quad: np.ndarray
    fields: list[Field] = field(default_factory=list)


@dataclass
class Scene:
    image: np.ndarray
    cards: list[Card]


# ---------------------------------------------------------------- numbers

def resident_id(rng: np.random.Generator, valid: bool) -> str:
    area = rng.choice(["110105", "310101", "440106", "320102", "510104"])
    birth = f"{rng.integers(1950, 2005)}{rng.integers(1, 13):02d}{rng.integers(1, 29):02d}"
    body = f"{area}{birth}{rng.integers(0, 1000):03d}"
    weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    check = "10X98765432"[sum(int(d) * w for d, w in zip(body, weights)) % 11]
    if not valid:
        check = rng.choice([c for c in "0123456789X" if c != check])
    return body + check


def card_number(rng: np.random.Generator, valid: bool, length: int = 16) -> str:
    body = str(rng.choice(["4", "5", "62", "37"])) + "".join(str(d) for d in rng.integers(0, 10, 20))
    body = body[:length - 1]
    total = 0
    for i, ch in enumerate(reversed(body + "0")):
        d = int(ch)
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    check = (10 - total % 10) % 10
    if not valid:
        check = (check + int(rng.integers(1, 10))) % 10
    return body + str(check)


def _mrz_field(value: str, length: int) -> str:
    return (value + "<" * length)[:length]


def _mrz_dates(rng: np.random.Generator) -> tuple[str, str]:
    """(birth, expiry) as YYMMDD."""
    birth = f"{rng.integers(50, 99)}{rng.integers(1, 13):02d}{rng.integers(1, 29):02d}"
    expiry = f"{rng.integers(26, 35)}{rng.integers(1, 13):02d}{rng.integers(1, 29):02d}"
    return birth, expiry


def td3_lines(rng: np.random.Generator, valid: bool) -> list[str]:
    country = str(rng.choice(["UTO", "CHN", "DEU", "FRA", "CZE"]))
    surname, given = rng.choice(LATIN_SURNAMES), rng.choice(LATIN_NAMES)
    line1 = _mrz_field(f"P<{country}{surname}<<{given}", 44)
    number = "".join(rng.choice(list(string.ascii_uppercase + string.digits), 9))
    birth, expiry = _mrz_dates(rng)
    personal = _mrz_field("".join(rng.choice(list(string.digits), 8)), 14)
    parts = [number + mrz_check_digit(number), country, birth + mrz_check_digit(birth),
             str(rng.choice(["M", "F"])), expiry + mrz_check_digit(expiry),
             personal + mrz_check_digit(personal)]
    body = "".join(parts)
    composite = mrz_check_digit(body[0:10] + body[13:20] + body[21:43])
    line2 = body + composite
    if not valid:
        line2 = line2[:9] + str((int(line2[9]) + 1) % 10) + line2[10:]
    return [line1, line2]


def td1_lines(rng: np.random.Generator, valid: bool) -> list[str]:
    country = str(rng.choice(["UTO", "DEU", "SVN", "NLD"]))
    number = "".join(rng.choice(list(string.ascii_uppercase + string.digits), 9))
    line1 = _mrz_field(f"I<{country}{number}{mrz_check_digit(number)}", 30)
    birth, expiry = _mrz_dates(rng)
    line2 = _mrz_field(f"{birth}{mrz_check_digit(birth)}{rng.choice(['M', 'F'])}"
                       f"{expiry}{mrz_check_digit(expiry)}{country}", 29)
    line2 += mrz_check_digit(line2)
    if not valid:
        line2 = line2[:6] + str((int(line2[6]) + 1) % 10) + line2[7:]
    line3 = _mrz_field(f"{rng.choice(LATIN_SURNAMES)}<<{rng.choice(LATIN_NAMES)}", 30)
    return [line1, line2, line3]


# ---------------------------------------------------------------- flat cards

def _background(rng: np.random.Generator, width: int, height: int, dark: bool) -> Image.Image:
    """A card background: a two-colour gradient with guilloche-like wavy lines."""
    base = rng.uniform(20, 90, 3) if dark else rng.uniform(200, 250, 3)
    other = np.clip(base + rng.uniform(-40, 40, 3), 0, 255)
    t = np.linspace(0, 1, width)[None, :, None]
    tilt = np.linspace(0, 1, height)[:, None, None] * rng.uniform(-0.3, 0.3)
    pixels = base * (1 - t - tilt) + other * (t + tilt)
    ys = np.arange(height)[:, None]
    xs = np.arange(width)[None, :]
    waves = np.sin(xs / rng.uniform(15, 40) + np.sin(ys / rng.uniform(20, 60)) * 3) > 0.97
    pixels[waves] = pixels[waves] * 0.85 + 0.15 * rng.uniform(0, 255, 3)
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))


def _portrait(card: Image.Image, rng: np.random.Generator, box: tuple[int, int, int, int]):
    """A drawn head-and-shoulders silhouette (no real person), clipped to ``box``."""
    x0, y0, x1, y1 = box
    w, h = x1 - x0, y1 - y0
    photo = Image.new("RGB", (w, h), tuple(int(v) for v in rng.uniform(180, 235, 3)))
    draw = ImageDraw.Draw(photo)
    skin = tuple(int(v) for v in rng.uniform([150, 110, 90], [235, 195, 170]))
    draw.ellipse((w * 0.1, h * 0.72, w * 0.9, h * 1.4), fill=(60, 60, 80))
    draw.ellipse((w * 0.28, h * 0.15, w * 0.72, h * 0.72), fill=skin)
    card.paste(photo, (x0, y0))


def _text(draw, xy, text, font, fill, fields=None, kind=None):
    draw.text(xy, text, font=font, fill=fill)
    if fields is not None:
        x0, y0, x1, y1 = draw.textbbox(xy, text, font=font)
        fields.append((kind, text, (x0, y0, x1, y1)))


def render_cn_id(rng: np.random.Generator) -> tuple[Image.Image, list]:
    width, height = 856, 540
    card = _background(rng, width, height, dark=False)
    draw = ImageDraw.Draw(card)
    label, value = _font(CJK_FONT, 26), _font(CJK_FONT, 32)
    ink = (40, 40, 50)
    name = rng.choice(list(SURNAMES)) + "".join(rng.choice(list(GIVEN), int(rng.integers(1, 3))))
    rows = [("姓名", name), ("性别", f"{rng.choice(['男', '女'])}   民族 汉"),
            ("出生", f"{rng.integers(1950, 2005)} 年 {rng.integers(1, 13)} 月 {rng.integers(1, 29)} 日"),
            ("住址", "".join(rng.choice(list(ADDRESS), 12)))]
    for i, (lab, val) in enumerate(rows):
        y = 50 + i * 80
        draw.text((50, y + 4), lab, font=label, fill=(90, 110, 150))
        draw.text((150, y), val, font=value, fill=ink)
    _portrait(card, rng, (600, 60, 800, 320))
    fields: list = []
    draw.text((50, 430), "公民身份号码", font=label, fill=(90, 110, 150))
    _text(draw, (250, 422), resident_id(rng, valid=rng.random() < 0.7), _font(BOLD_FONT, 36), ink,
          fields, "id")
    return card, fields


def render_bank(rng: np.random.Generator) -> tuple[Image.Image, list]:
    width, height = 856, 540
    card = _background(rng, width, height, dark=rng.random() < 0.6)
    draw = ImageDraw.Draw(card)
    light = np.asarray(card).mean() < 128
    ink = (235, 235, 235) if light else (30, 30, 40)
    draw.text((50, 40), str(rng.choice(["CHINA BANK", "UNION BANK", "Credit Card", "DEBIT"])),
              font=_font(BOLD_FONT, 44), fill=ink)
    draw.rounded_rectangle((70, 170, 190, 260), radius=14, fill=(212, 175, 80))
    length = int(rng.choice([16, 16, 19]))
    number = card_number(rng, valid=rng.random() < 0.7, length=length)
    grouped = " ".join(number[i:i + 4] for i in range(0, len(number), 4))
    fields: list = []
    size = 52 if length == 16 else 44
    _text(draw, (60, 300), grouped, _font(MONO_FONT, size), ink, fields, "card")
    draw.text((60, 400), f"VALID THRU {rng.integers(1, 13):02d}/{rng.integers(26, 35)}",
              font=_font(SANS_FONT, 26), fill=ink)
    draw.text((60, 450), f"{rng.choice(LATIN_NAMES)} {rng.choice(LATIN_SURNAMES)}",
              font=_font(SANS_FONT, 34), fill=ink)
    return card, fields


def _mrz_block(draw, rng, lines, x, y, size, fields):
    font = _font(MONO_FONT, size)
    for i, line in enumerate(lines):
        _text(draw, (x, y + i * int(size * 1.35)), line, font, (20, 20, 20), fields, "mrz")


def render_passport(rng: np.random.Generator) -> tuple[Image.Image, list]:
    width, height = 1250, 880
    card = _background(rng, width, height, dark=False)
    draw = ImageDraw.Draw(card)
    draw.text((60, 30), "PASSPORT  PASSEPORT", font=_font(BOLD_FONT, 40), fill=(60, 40, 90))
    _portrait(card, rng, (60, 120, 380, 540))
    label, value = _font(SANS_FONT, 22), _font(SANS_FONT, 32)
    surname, given = rng.choice(LATIN_SURNAMES), rng.choice(LATIN_NAMES)
    rows = [("Surname", surname), ("Given names", given), ("Nationality", "UTOPIAN"),
            ("Date of birth", f"{rng.integers(1, 29):02d} MAR {rng.integers(1950, 2005)}"),
            ("Date of expiry", f"{rng.integers(1, 29):02d} JUL {rng.integers(2026, 2035)}")]
    for i, (lab, val) in enumerate(rows):
        draw.text((430, 120 + i * 85), lab, font=label, fill=(100, 100, 120))
        draw.text((430, 146 + i * 85), val, font=value, fill=(20, 20, 30))
    fields: list = []
    _mrz_block(draw, rng, td3_lines(rng, valid=rng.random() < 0.7), 45, 700, 40, fields)
    return card, fields


def render_td1(rng: np.random.Generator) -> tuple[Image.Image, list]:
    width, height = 856, 540
    card = _background(rng, width, height, dark=False)
    draw = ImageDraw.Draw(card)
    draw.text((40, 25), "IDENTITY CARD", font=_font(BOLD_FONT, 34), fill=(40, 60, 90))
    _portrait(card, rng, (40, 90, 230, 320))
    draw.text((260, 100), f"{rng.choice(LATIN_SURNAMES)}", font=_font(SANS_FONT, 32), fill=(20, 20, 30))
    draw.text((260, 150), f"{rng.choice(LATIN_NAMES)}", font=_font(SANS_FONT, 32), fill=(20, 20, 30))
    fields: list = []
    _mrz_block(draw, rng, td1_lines(rng, valid=rng.random() < 0.7), 40, 355, 38, fields)
    return card, fields


RENDERERS = {"cn_id": render_cn_id, "bank": render_bank, "passport": render_passport, "td1": render_td1}


def _rounded_alpha(width: int, height: int) -> Image.Image:
    alpha = Image.new("L", (width, height), 0)
    ImageDraw.Draw(alpha).rounded_rectangle((0, 0, width - 1, height - 1), radius=int(0.04 * height),
                                            fill=255)
    return alpha


# ---------------------------------------------------------------- scenes

def load_background(path: Path, rng: np.random.Generator) -> np.ndarray:
    with Image.open(path) as im:
        im = ImageOps.exif_transpose(im).convert("RGB")
        side = int(rng.integers(900, 1600))
        im.thumbnail((side, side), Image.Resampling.LANCZOS)
        if max(im.size) < 900:  # small photos are enlarged to a plausible phone size
            factor = 900 / max(im.size)
            im = im.resize((round(im.width * factor), round(im.height * factor)), Image.Resampling.BICUBIC)
        return np.asarray(im)


def _warp_targets(rng: np.random.Generator, width: int, height: int, card_w: int, card_h: int):
    """Scene corners (4, 2) for the card: scaled, rotated, in perspective, inside the image."""
    for _ in range(100):
        long_side = rng.uniform(0.3, 0.75) * min(width, height) * (card_w / card_h)
        long_side = min(long_side, 0.85 * max(width, height))
        scale = long_side / card_w
        w, h = card_w * scale, card_h * scale
        corners = np.float32([[-w / 2, -h / 2], [w / 2, -h / 2], [w / 2, h / 2], [-w / 2, h / 2]])
        corners += rng.normal(0, 0.04 * h, corners.shape)
        angle = rng.uniform(0, 2 * np.pi) if rng.random() < 0.5 else rng.normal(0, 0.25)
        rot = np.float32([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
        corners = corners @ rot.T
        span = corners.max(axis=0) - corners.min(axis=0)
        if span[0] > 0.95 * width or span[1] > 0.95 * height:
            continue
        cx = rng.uniform(-corners[:, 0].min() + 5, width - corners[:, 0].max() - 5)
        cy = rng.uniform(-corners[:, 1].min() + 5, height - corners[:, 1].max() - 5)
        return (corners + (cx, cy)).astype(np.float32)
    raise RuntimeError("no placement found")


def _thumb(image: np.ndarray, rng: np.random.Generator, corners: np.ndarray) -> None:
    """Cover part of one card edge with a skin-coloured thumb, in place."""
    side = int(rng.integers(0, 4))
    a, b = corners[side], corners[(side + 1) % 4]
    t = rng.uniform(0.2, 0.8)
    centre = a * (1 - t) + b * t
    length = np.linalg.norm(b - a)
    axes = (int(length * 0.07), int(length * 0.12))
    angle = float(np.degrees(np.arctan2(*(b - a)[::-1]))) + 90
    skin = tuple(int(v) for v in rng.uniform([170, 120, 100], [240, 200, 175]))
    cv2.ellipse(image, (int(centre[0]), int(centre[1])), axes, angle, 0, 360, skin, -1, cv2.LINE_AA)


def make_scene(rng: np.random.Generator, background: np.ndarray, *, kind: str | None = None,
               occlude: float = 0.3) -> Scene:
    """One card of ``kind`` (random if None) composited into a copy of ``background``."""
    kind = kind or str(rng.choice(list(RENDERERS)))
    flat, fields = RENDERERS[kind](rng)
    card_w, card_h = flat.size
    image = background.copy().astype(np.float32)
    height, width = image.shape[:2]
    target = _warp_targets(rng, width, height, card_w, card_h)
    source = np.float32([[0, 0], [card_w, 0], [card_w, card_h], [0, card_h]])
    warp = cv2.getPerspectiveTransform(source, target)
    # uneven light over the card: a linear ramp of gains
    gain = np.linspace(rng.uniform(0.7, 1.0), rng.uniform(0.95, 1.15), card_w, dtype=np.float32)
    lit = np.clip(np.asarray(flat, np.float32) * gain[None, :, None], 0, 255)
    warped = cv2.warpPerspective(lit, warp, (width, height), flags=cv2.INTER_LINEAR)
    alpha = cv2.warpPerspective(np.asarray(_rounded_alpha(card_w, card_h), np.float32) / 255, warp,
                                (width, height), flags=cv2.INTER_LINEAR)[:, :, None]
    image = image * (1 - alpha) + warped * alpha
    image = np.clip(image + rng.normal(0, 2.5, image.shape), 0, 255).astype(np.uint8)
    if rng.random() < occlude:
        _thumb(image, rng, target)
    sigma = rng.uniform(0, 1.2)
    if sigma > 0.3:
        image = cv2.GaussianBlur(image, (0, 0), sigma)
    quality = int(rng.integers(70, 96))
    buf = io.BytesIO()
    Image.fromarray(image).save(buf, "JPEG", quality=quality)
    image = np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("RGB"))
    truth_fields = []
    for field_kind, text, (x0, y0, x1, y1) in fields:
        box = np.float32([[x0, y0], [x1, y0], [x1, y1], [x0, y1]])
        truth_fields.append(Field(field_kind, text, q.transform_points(box, warp)))
    card_quad = q.order_quad(target)
    return Scene(image=image, cards=[Card(kind=kind, quad=card_quad, fields=truth_fields)])


def changed_pixels(before: np.ndarray, after: np.ndarray) -> np.ndarray:
    """(H, W) bool: where any channel of ``after`` differs from ``before``."""
    return np.any(before != after, axis=2)


def hidden_share(quad: np.ndarray, changed: np.ndarray) -> float:
    """Share of the pixels under ``quad`` that were changed (1.0 for an empty quad)."""
    height, width = changed.shape
    x0, y0, x1, y1 = q.quad_bounds(quad, width, height)
    inside = q.quad_mask(quad, (x0, y0, x1, y1)) > 0
    if not inside.any():
        return 1.0
    return float(changed[y0:y1, x0:x1][inside].mean())


def background_paths(shared: Path) -> list[Path]:
    """Photos without documents: ../shared/data/faces, large and metadata (JPEG and PNG)."""
    paths = []
    for folder in ("faces", "large", "metadata"):
        paths += sorted(p for p in (shared / folder).rglob("*")
                        if p.suffix.lower() in (".jpg", ".jpeg", ".png"))
    return paths


def scenes(shared: Path, count: int, seed: int = 0):
    """``count`` scenes, reproducible from ``seed``; backgrounds that fail to decode are skipped."""
    rng = np.random.default_rng(seed)
    paths = background_paths(shared)
    made = 0
    while made < count:
        path = paths[int(rng.integers(0, len(paths)))]
        try:
            background = load_background(path, rng)
        except OSError:
            continue
        yield path, make_scene(rng, background)
        made += 1
