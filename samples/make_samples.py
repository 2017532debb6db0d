"""Generate the demo images in samples/: synthetic scenes that carry camera metadata.

Each file holds what a phone photo leaks (GPS position, camera make/model/serial, dates,
software, comments), so `make demo` shows it removed. The pixels are generated here, so the
files may be shipped freely. Run: python samples/make_samples.py samples
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from PIL import Image, PngImagePlugin


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


def main(folder: str) -> None:
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    scene(640, 480, 1).save(out / "phone_photo_gps.jpg", quality=90, exif=camera_exif(),
                            comment=b"shot at home")
    scene(480, 640, 2).save(out / "rotated_orientation6.jpg", quality=90, exif=camera_exif(6))
    text = PngImagePlugin.PngInfo()
    text.add_text("Author", "Jane Doe")
    text.add_text("Comment", "family picnic, 12 Rue de Rivoli")
    scene(400, 300, 3).save(out / "screenshot_with_text.png", pnginfo=text)
    scene(400, 300, 4).save(out / "shared_photo.webp", quality=85, exif=camera_exif())
    scene(320, 240, 5).save(out / "scan.tif", exif=camera_exif())
    print(f"wrote 5 sample images to {out}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "samples")
