"""Build models/face_mesh_template.npz: the triangle list and a frontal mean shape of the
MediaPipe face mesh, the canonical space in which faceguard's synthetic faces are drawn.

- triangles (852, 3) int32: read, in source order, from the FACEMESH_TESSELATION literal of
  mediapipe 0.10.14 (``face_mesh_connections.py``; each triangle is written as three edges,
  which Python's frozenset would scramble, so the source text is parsed instead).
  Fans close the eyes and the mouth, which the tessellation leaves open.
- contours: the ordered outlines of the face oval, eyes, brows, lips and irises, and the
  nose's points, from the same file.
- mean_shape (478, 2) float32: landmarks of near-frontal faces, aligned by a similarity
  transform (Procrustes) and averaged, then made left-right symmetric; no pixels are kept.
  The faces come from photos given on the command line (faceguard's own detector finds
  them); we use ../shared/data/faces/unannotated and ../shared/data/large, which are not
  used to score anything. Only landmark pairs that are each other's nearest mirror image
  are symmetrized.

Usage: python tools/build_face_mesh_template.py OUT.npz PHOTO_DIR...
"""
from __future__ import annotations

import ast
import sys
from pathlib import Path

import numpy as np

from faceguard import io
from faceguard.detect import landmarks as lm
from faceguard.detect.faces import detect_faces


def connection_lists() -> dict[str, list[tuple[int, int]]]:
    """Every FACEMESH_* literal of mediapipe's face_mesh_connections.py, edges in source order."""
    from mediapipe.python.solutions import face_mesh_connections as source
    tree = ast.parse(Path(source.__file__).read_text())
    lists = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Call) and node.value.args:
            arg = node.value.args[0]
            if isinstance(arg, (ast.List, ast.Set, ast.Tuple)):
                lists[node.targets[0].id] = [tuple(c.value for c in e.elts) for e in arg.elts]
    return lists


def triangles(edges: list[tuple[int, int]]) -> np.ndarray:
    tris = []
    for i in range(0, len(edges), 3):
        (a, b), (b2, c), (c2, a2) = edges[i:i + 3]
        assert (b, c, a) == (b2, c2, a2), "tessellation is not written as closed triangles"
        tris.append((a, b, c))
    return np.asarray(tris, np.int32)


LEFT_IRIS_CENTRE, RIGHT_IRIS_CENTRE = 473, 468


def fan(loop: np.ndarray, centre: int) -> np.ndarray:
    """Triangles from ``centre`` to each edge of the closed ``loop``."""
    return np.stack([np.full(len(loop), centre), loop, np.roll(loop, -1)], 1).astype(np.int32)


def ordered_loop(edges: list[tuple[int, int]]) -> np.ndarray:
    """The points of undirected ``edges`` in walking order: a closed loop, or one open chain
    (two chains that share their ends, as an eye's two lids, make one loop)."""
    neighbours: dict[int, list[int]] = {}
    for a, b in edges:
        neighbours.setdefault(a, []).append(b)
        neighbours.setdefault(b, []).append(a)
    ends = [p for p, n in neighbours.items() if len(n) == 1]
    start = ends[0] if ends else edges[0][0]
    order, point = [start], start
    while True:
        nxt = [p for p in neighbours[point] if p not in order]
        if not nxt:
            break
        point = nxt[0]
        order.append(point)
    return np.asarray(order, np.int32)


def procrustes(points: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """``points`` moved onto ``reference`` by the best similarity transform."""
    p, r = points - points.mean(0), reference - reference.mean(0)
    u, s, vt = np.linalg.svd(p.T @ r)
    rotation = u @ vt
    scale = s.sum() / (p ** 2).sum()
    return p @ rotation * scale + reference.mean(0)


def mirror_index(shape: np.ndarray) -> np.ndarray:
    """For each landmark, the index of its left-right mirror image (nearest after flipping)."""
    flipped = shape.copy()
    flipped[:, 0] = 2 * shape[:, 0].mean() - flipped[:, 0]
    distance = ((shape[:, None] - flipped[None]) ** 2).sum(-1)
    return distance.argmin(1)


def main(out: str, folders: list[str]) -> None:
    shapes = []
    for folder in folders:
        for path in sorted(Path(folder).rglob("*")):
            if path.suffix.lower() not in (".jpg", ".jpeg", ".png"):
                continue
            image = io.read_image(path, max_pixels=200_000_000).image
            boxes, _ = detect_faces(image, threshold=0.5)
            for box in boxes:
                if min(box[2] - box[0], box[3] - box[1]) < 64:
                    continue
                face = lm.find_landmarks(image, box)
                if face is None or abs(face.yaw) > 0.15:
                    continue
                shapes.append(face.points)
    print(f"{len(shapes)} near-frontal faces")
    shapes = np.asarray(shapes, np.float64)
    mean = shapes[0]
    for _ in range(5):
        mean = np.mean([procrustes(s, mean) for s in shapes], axis=0)
    mirror = mirror_index(mean)
    mutual = mirror[mirror] == np.arange(len(mirror))  # only pairs that choose each other
    mirror = np.where(mutual, mirror, np.arange(len(mirror)))
    centre = mean[:, 0].mean()
    flipped = mean[mirror].copy()
    flipped[:, 0] = 2 * centre - flipped[:, 0]
    mean = np.where(mutual[:, None], (mean + flipped) / 2, mean)
    mean -= mean.min(0)
    mean /= mean.max()
    lists = connection_lists()
    contours = {name.removeprefix("FACEMESH_").lower(): ordered_loop(lists[name])
                for name in ("FACEMESH_FACE_OVAL", "FACEMESH_LEFT_EYE", "FACEMESH_RIGHT_EYE",
                             "FACEMESH_LEFT_IRIS", "FACEMESH_RIGHT_IRIS")}
    for side in ("left", "right"):  # a brow is two chains, its upper and its lower edge
        brow = lists[f"FACEMESH_{side.upper()}_EYEBROW"]
        lower, upper = ordered_loop(brow[:4]), ordered_loop(brow[4:])
        contours[f"{side}_eyebrow"] = np.concatenate([lower, upper[::-1]])
    contours["nose"] = np.unique(np.asarray(lists["FACEMESH_NOSE"], np.int32))  # a point set
    lips = lists["FACEMESH_LIPS"]
    contours["lips_outer"] = ordered_loop(lips[:20])
    contours["lips_inner"] = ordered_loop(lips[20:])
    # the tessellation leaves the eyes and the mouth open: close them with fans (from each
    # iris centre, and from a mouth corner) so the whole face is replaced
    fans = [fan(contours["left_eye"], LEFT_IRIS_CENTRE), fan(contours["right_eye"], RIGHT_IRIS_CENTRE),
            fan(contours["lips_inner"][1:], contours["lips_inner"][0])]
    mesh = np.concatenate([triangles(lists["FACEMESH_TESSELATION"]), *fans])
    np.savez_compressed(out, triangles=mesh,
                        mean_shape=mean.astype(np.float32), mirror=mirror.astype(np.int32),
                        **{f"contour_{k}": v for k, v in contours.items()})


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2:])
