"""Generate the demo images in samples/ (see samples/SOURCES.md for each file's source).

* Generated scenes that carry what a phone photo leaks (GPS position, camera make/model/
  serial, dates, software, comments), so `make demo` shows it removed.
* Photos of people in the public domain: NASA's portrait of astronaut Eileen Collins (as
  scikit-image 0.26.0 ships it, skimage/data/astronaut.png) and the US Navy's portrait of
  Grace Hopper (as matplotlib 3.11.2 ships it, mpl-data/sample_data/grace_hopper.jpg): one
  stored sideways (EXIF orientation 6) with GPS, and one on an identity card, made by the
  project's card renderer (tests/scenes.py) with made-up numbers, held in a hand.
* A phone-style video of the Collins portrait (tests/video_clips.py): 2 s panning across
  it, stored sideways with a display rotation (a phone held upright), with sound, a
  timecode track and made-up GPS, make, model, date and comment tags.

Run: python samples/make_samples.py samples ASTRONAUT.png GRACE_HOPPER.jpg
(the two files taken from those wheels: pip download --no-deps scikit-image==0.26.0
matplotlib==3.11.2, then unzip).
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from PIL import Image, ImageFilter, PngImagePlugin


def scene(width: int, height: int, seed: int) -> Image.Image:
    """A smooth gradient with a few coloured discs: deterministic, compressible, no faces."""
    rng = np.random.default_rng(seed)
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    image = np.stack([xs / width * 200 + 30, ys / height * 180 + 40,
                      np.full_like(xs, 120 + 60 * rng.random())], axis=2)
    for _ in range(6):
        cx, cy, r = rng.random() * width, rng.random() * height, 10 + rng.random() * height / 5
        inside = (xs - cx) ** 2 + (ys - cy) ** 2 < r * r
        image[inside] = rng.integers(0, 256, 3)
    return Image.fromarray(image.astype(np.uint8))


def camera_exif(orientation: int = 1) -> Image.Exif:
    exif = Image.Exif()
    exif[0x010F] = "DemoCam"            # Make
    exif[0x0110] = "DemoCam X1"         # Model
    exif[0x0131] = "DemoOS 1.0"         # Software
    exif[0x0132] = "2024:05:17 14:03:22"  # DateTime
    exif[0x0112] = orientation          # Orientation
    exif_ifd = exif.get_ifd(0x8769)
    exif_ifd[0xA431] = "SN-0012345678"  # BodySerialNumber
    exif_ifd[0x9003] = "2024:05:17 14:03:22"  # DateTimeOriginal
    gps = exif.get_ifd(0x8825)
    gps[1], gps[2] = "N", (48.0, 51.0, 29.9)  # GPSLatitude: Paris
    gps[3], gps[4] = "E", (2.0, 17.0, 40.2)
    return exif


def people(out: Path, astronaut: Path, hopper: Path) -> None:
    """The photos of people: the portraits as they are, one sideways with GPS, one on a card."""
    collins = Image.open(astronaut).convert("RGB")
    collins.save(out / "astronaut_collins.jpg", quality=90)
    grace = Image.open(hopper).convert("RGB")
    # stored turned a quarter turn, with the orientation tag that turns it upright again
    grace.transpose(Image.Transpose.ROTATE_90).save(out / "grace_hopper_sideways_gps.jpg", quality=90,
                                                   exif=camera_exif(orientation=6))
    card_in_hand(collins).save(out / "id_card_in_hand.jpg", quality=90, exif=camera_exif())
    phone_video(out / "phone_video_gps.mp4")


def phone_video(path: Path) -> None:
    """2 s of a phone video panning across the Collins portrait (samples/), stored sideways
    with a display rotation, with sound, a timecode track and made-up identifying tags."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from tests.video_clips import TAGS, pan_frames, write_clip

    frames, _boxes = pan_frames(count=50, size=(320, 240), step=2.0)
    write_clip(path, frames, rotation=-90, audio=True, timecode=True, tags=TAGS)


def card_in_hand(portrait: Image.Image) -> Image.Image:
    """An ID card (tests/scenes.py's TD1 renderer, made-up name and numbers) carrying the
    face of ``portrait``, photographed in perspective on a desk with a thumb over its edge."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from tests import scenes

    face = portrait.crop((140, 20, 350, 270))  # Collins's head and shoulders

    def real_portrait(card, _rng, box):
        x0, y0, x1, y1 = box
        card.paste(face.resize((x1 - x0, y1 - y0), Image.Resampling.LANCZOS), (x0, y0))
    scenes._portrait = real_portrait
    rng = np.random.default_rng(3)
    desk = np.asarray(scene(1280, 960, 7).filter(ImageFilter.GaussianBlur(6)))
    return Image.fromarray(scenes.make_scene(rng, desk, kind="td1", occlude=1.0).image)


def main(folder: str, astronaut: str | None = None, hopper: str | None = None) -> None:
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    if astronaut and hopper:
        people(out, Path(astronaut), Path(hopper))
    scene(640, 480, 1).save(out / "phone_photo_gps.jpg", quality=90, exif=camera_exif(),
                            comment=b"shot at home")
    scene(480, 640, 2).save(out / "rotated_orientation6.jpg", quality=90, exif=camera_exif(6))
    text = PngImagePlugin.PngInfo()
    text.add_text("Author", "Jane Doe")
    text.add_text("Comment", "family picnic, 12 Rue de Rivoli")
    scene(400, 300, 3).save(out / "screenshot_with_text.png", pnginfo=text)
    scene(400, 300, 4).save(out / "shared_photo.webp", quality=85, exif=camera_exif())
    scene(320, 240, 5).save(out / "scan.tif", exif=camera_exif())
    print(f"wrote the sample images to {out}")


if __name__ == "__main__":
    main(*(sys.argv[1:] or ["samples"]))
