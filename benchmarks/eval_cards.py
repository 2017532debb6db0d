"""Document detection on generated scenes, and false cards on photos without any.

    python benchmarks/eval_cards.py --shared ../shared --scenes 300 [--cards whole|fields] [--workers N]

For each generated scene (tests/scenes.py: a card warped into a real photo), the image is
anonymized with faceguard's pipeline and scored against the ground truth:
  card recall    a true card is found when a reported card quad has IoU >= 0.7 with it
  field recall   a number field (ID number, card number, MRZ line) is hidden when at least
                 98% of its quad lies inside the pixels the pipeline replaced
Then every photo in ../shared/data/faces, large and metadata (which hold no document) is
processed, and the share with at least one reported card is the false-card rate.
Prints one summary line per measure; --misses lists the scenes that failed. Scenes and
photos are judged in --workers processes (one per core by default, each running its models
on one thread); results come back in scene order, so the output reads as one process's.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
import warnings
from multiprocessing import get_context
from multiprocessing.pool import Pool
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from faceguard import io, models  # noqa: E402
from faceguard.config import Config  # noqa: E402
from faceguard.core import quads as q  # noqa: E402
from faceguard.errors import FaceguardError  # noqa: E402
from faceguard.pipeline import anonymize  # noqa: E402
from tests.scenes import Scene, background_paths, changed_pixels, hidden_share, scenes  # noqa: E402

_config: Config | None = None  # set in each worker by _start_worker


def _start_worker(config: Config, workers: int) -> None:
    """In each worker: the config to run, one thread per model when several workers share
    the cores, and PIL's warnings about damaged EXIF blocks kept quiet (as in `run`)."""
    global _config
    _config = config
    warnings.filterwarnings("ignore", category=UserWarning, module=r"PIL\.")
    if workers > 1:
        models.limit_threads(1)


def judge_scene(made: tuple[Path, Scene]) -> tuple[Path, list[tuple[str, float, list[bool]]]]:
    """A scene (with its background's path, as ``scenes`` yields it): the path, and for
    each card its kind, the best IoU of a reported card quad with it, and whether each of
    its number fields was hidden."""
    path, scene = made
    result = anonymize(scene.image, config=_config)
    changed = changed_pixels(scene.image, result.image)
    quads = [np.float32(c.quad) for c in result.cards]
    return path, [(card.kind, max((q.quad_iou(card.quad, other) for other in quads), default=0.0),
                   [hidden_share(f.quad, changed) >= 0.98 for f in card.fields]) for card in scene.cards]


def false_cards(path: Path) -> list[float] | None:
    """The scores of the cards reported on a photo without any; None when it does not decode
    (the deliberately broken file)."""
    try:
        image = io.read_image(path, max_pixels=_config.max_pixels).image
    except FaceguardError:
        return None
    return [c.to_json()["score"] for c in anonymize(image, config=_config).cards]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shared", type=Path, default=ROOT.parent / "shared")
    ap.add_argument("--scenes", type=int, default=300)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--cards", default="whole")
    ap.add_argument("--text", default="cards")
    ap.add_argument("--no-photos", action="store_true", help="skip the false-card measure")
    ap.add_argument("--misses", action="store_true")
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    args = ap.parse_args()
    data = args.shared / "data"
    config = Config(cards=args.cards, text=args.text)
    with get_context("spawn").Pool(args.workers, initializer=_start_worker,
                                   initargs=(config, args.workers)) as pool:
        judge_scenes(pool, data, args)
        if not args.no_photos:
            judge_photos(pool, data, args)
    return 0


def judge_scenes(pool: Pool, data: Path, args: argparse.Namespace) -> None:
    found_cards = total_cards = hidden_fields = total_fields = 0
    started = time.perf_counter()
    for index, (path, cards) in enumerate(pool.imap(judge_scene, scenes(data, args.scenes, seed=args.seed))):
        for kind, best, hidden in cards:
            total_cards += 1
            found_cards += best >= 0.7
            hidden_fields += sum(hidden)
            total_fields += len(hidden)
            if args.misses and (best < 0.7 or not all(hidden)):
                print(f"scene {index} ({kind} on {path.name}): best IoU {best:.2f}, "
                      f"fields hidden {sum(hidden)}/{len(hidden)}")
    scene_time = time.perf_counter() - started
    print(f"cards: recall {found_cards / total_cards:.3f} ({found_cards}/{total_cards}), "
          f"number fields hidden {hidden_fields / total_fields:.3f} ({hidden_fields}/{total_fields}), "
          f"{scene_time / args.scenes:.2f} s/scene with {args.workers} workers "
          f"(--cards {args.cards} --text {args.text})")


def judge_photos(pool: Pool, data: Path, args: argparse.Namespace) -> None:
    false = checked = 0
    paths = background_paths(data)
    for path, scores in zip(paths, pool.imap(false_cards, paths)):
        if scores is None:
            continue
        checked += 1
        if scores:
            false += 1
            if args.misses:
                print(f"false card in {path.relative_to(data)}: {scores}")
    print(f"photos without cards: {false}/{checked} with a false card ({false / max(checked, 1):.1%})")


if __name__ == "__main__":
    sys.exit(main())
