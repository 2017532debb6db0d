"""Document detection on generated scenes, and false cards on photos without any.

    python benchmarks/eval_cards.py --shared ../shared --scenes 300 [--cards whole|fields]

For each generated scene (tests/scenes.py: a card warped into a real photo), the image is
anonymized with faceguard's pipeline and scored against the ground truth:
  card recall    a true card is found when a reported card quad has IoU >= 0.7 with it
  field recall   a number field (ID number, card number, MRZ line) is hidden when at least
                 98% of its quad lies inside the pixels the pipeline replaced
Then every photo in ../shared/data/faces, large and metadata (which hold no document) is
processed, and the share with at least one reported card is the false-card rate.
Prints one summary line per measure; --misses lists the scenes that failed.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from faceguard import io  # noqa: E402
from faceguard.config import Config  # noqa: E402
from faceguard.core import quads as q  # noqa: E402
from faceguard.errors import FaceguardError  # noqa: E402
from faceguard.pipeline import anonymize  # noqa: E402
from tests.scenes import background_paths, changed_pixels, hidden_share, scenes  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shared", type=Path, default=ROOT.parent / "shared")
    ap.add_argument("--scenes", type=int, default=300)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--cards", default="whole")
    ap.add_argument("--text", default="cards")
    ap.add_argument("--no-photos", action="store_true", help="skip the false-card measure")
    ap.add_argument("--misses", action="store_true")
    args = ap.parse_args()
    data = args.shared / "data"
    config = Config(cards=args.cards, text=args.text)

    found_cards = total_cards = hidden_fields = total_fields = 0
    started = time.perf_counter()
    for index, (path, scene) in enumerate(scenes(data, args.scenes, seed=args.seed)):
        result = anonymize(scene.image, config=config)
        changed = changed_pixels(scene.image, result.image)
        quads = [np.float32(c.quad) for c in result.cards]
        for card in scene.cards:
            total_cards += 1
            best = max((q.quad_iou(card.quad, other) for other in quads), default=0.0)
            found_cards += best >= 0.7
            hidden = [hidden_share(f.quad, changed) >= 0.98 for f in card.fields]
            hidden_fields += sum(hidden)
            total_fields += len(hidden)
            if args.misses and (best < 0.7 or not all(hidden)):
                print(f"scene {index} ({card.kind} on {path.name}): best IoU {best:.2f}, "
                      f"fields hidden {sum(hidden)}/{len(hidden)}")
    scene_time = time.perf_counter() - started
    print(f"cards: recall {found_cards / total_cards:.3f} ({found_cards}/{total_cards}), "
          f"number fields hidden {hidden_fields / total_fields:.3f} ({hidden_fields}/{total_fields}), "
          f"{scene_time / args.scenes:.2f} s/scene (--cards {args.cards} --text {args.text})")
    if args.no_photos:
        return 0
    false = checked = 0
    for path in background_paths(data):
        try:
            image = io.read_image(path, max_pixels=config.max_pixels).image
        except FaceguardError:  # the deliberately broken file
            continue
        result = anonymize(image, config=config)
        checked += 1
        if result.cards:
            false += 1
            if args.misses:
                print(f"false card in {path.relative_to(data)}: "
                      f"{[c.to_json()['score'] for c in result.cards]}")
    print(f"photos without cards: {false}/{checked} with a false card ({false / max(checked, 1):.1%})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
