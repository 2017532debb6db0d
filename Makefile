# faceguard: the two set-up commands are `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
SHARED ?= ../shared

.PHONY: demo test bench bench-cluster bench-watch compare-metadata eval eval-faces eval-privacy lint tools clean

# rapidocr-onnxruntime goes in with --no-deps: its wheel declares opencv-python (the GUI
# build, needing libGL), while faceguard's opencv-python-headless provides the same cv2.
OCR_WHEEL := rapidocr-onnxruntime==1.4.4
# mediapipe (Face Mesh, for --mode synthetic) likewise: it asks for opencv-contrib-python,
# jax and sounddevice; pyproject.toml lists what it really imports.
MESH_WHEEL := mediapipe==0.10.14
# dlib's face recognizer judges re-identification in `make eval-privacy` only.
PRIVACY_JUDGE := dlib-bin==20.0.1.post1 face-recognition-models==0.3.0

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[test,cluster]'
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps '$(OCR_WHEEL)' '$(MESH_WHEEL)'
	touch $(STAMP)

# exiftool cross-checks metadata in the tests and in `make eval`; the card scene generator
# draws with DejaVu and WenQuanYi Zen Hei (Chinese) fonts (Debian packages); the review
# page is tested in Debian's headless Chromium.
tools:
	@{ command -v exiftool >/dev/null 2>&1 && [ -f /usr/share/fonts/truetype/wqy/wqy-zenhei.ttc ] \
	   && [ -f /usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf ]; } || { \
	  if [ "$$(id -u)" = 0 ]; then \
	    (apt-get update -qq || true) && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	      libimage-exiftool-perl fonts-wqy-zenhei fonts-dejavu-core >/dev/null; \
	  else echo "missing: sudo apt-get install libimage-exiftool-perl fonts-wqy-zenhei fonts-dejavu-core" >&2; exit 1; fi; }
	@# headless Chromium for the review page's browser test (skipped where it is missing)
	@{ command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1; } || { \
	  if [ "$$(id -u)" = 0 ]; then \
	    { (apt-get update -qq || true) && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	      chromium chromium-driver >/dev/null; } \
	      || echo "note: chromium not installed; the browser test will be skipped" >&2; \
	  else echo "note: sudo apt-get install chromium chromium-driver runs the browser test" >&2; fi; }

demo: $(STAMP)
	rm -rf out/demo
	-$(BIN)/faceguard run samples -o out/demo --report out/demo/report.jsonl --quiet
	$(BIN)/faceguard review out/demo --report out/demo/report.jsonl -o out/demo/review.html
	@echo "--- report (one line per file): out/demo/report.jsonl ---"
	@cat out/demo/report.jsonl
	@echo "--- clean copies in out/demo; what was hidden, and the near misses: ---"
	@echo "    open out/demo/review.html in a browser (no network needed)"

test: $(STAMP) tools
	$(BIN)/python -m pytest -q

# deface 1.5, the tool faceguard is measured against, in a venv of its own
DEFACE := .venv-deface/bin/deface
$(DEFACE):
	$(PYTHON) -m venv .venv-deface
	.venv-deface/bin/python -m pip install --quiet --disable-pip-version-check deface==1.5.0 onnxruntime==1.32.0

bench: $(STAMP) $(DEFACE)
	$(BIN)/python benchmarks/bench.py --shared $(SHARED) --deface $(DEFACE)
	$(BIN)/python benchmarks/bench_video.py --shared $(SHARED) --deface $(DEFACE)

# the Ray engine against the local engine on 200 photos in a local SeaweedFS (S3)
bench-cluster: $(STAMP)
	$(BIN)/python benchmarks/bench_cluster.py --shared $(SHARED) --photos 200

# 2,000 uploads dropped at once into `faceguard watch`: files/s and peak memory.
bench-watch: $(STAMP)
	$(BIN)/python benchmarks/burst.py --files 2000

# faceguard against mat2 and `exiftool -all=` on ../shared/data/metadata (installs mat2).
compare-metadata: $(STAMP) tools
	@command -v mat2 >/dev/null 2>&1 || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq mat2 >/dev/null
	$(BIN)/python benchmarks/compare_metadata.py --shared $(SHARED)

eval: $(STAMP) tools
	rm -rf out/eval
	-$(BIN)/faceguard run $(SHARED)/data -o out/eval --report out/eval/report.jsonl --quiet
	$(BIN)/python $(SHARED)/eval/face_recall.py --gt $(SHARED)/data/faces_annotations.json \
	  --input $(SHARED)/data --output out/eval --report out/eval/report.jsonl
	$(BIN)/python $(SHARED)/eval/metadata_leaks.py out/eval
	$(BIN)/python $(SHARED)/eval/video_faces.py --gt $(SHARED)/data/video_clips/clips.json \
	  --input $(SHARED)/data/video_clips --output out/eval/video_clips
	$(BIN)/faceguard run $(SHARED)/data/idcard -o out/eval-cards --cards whole --text cards --quiet
	$(BIN)/python $(SHARED)/eval/text_leaks.py out/eval-cards
	$(BIN)/python benchmarks/eval_cards.py --shared $(SHARED) --scenes 300

# faces only, by fixed half: faces/wider_full, the thumbnails and close-ups cut from wider_full
eval-faces: $(STAMP)
	$(BIN)/python benchmarks/eval_faces.py --shared $(SHARED)

# re-identification (dlib) and detectability of every mode on faces of 64 px and more
eval-privacy: $(STAMP)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check $(PRIVACY_JUDGE)
	$(BIN)/python benchmarks/eval_privacy.py --shared $(SHARED)

lint: $(STAMP)
	$(BIN)/ruff check faceguard tests benchmarks samples tools

clean:
	rm -rf $(VENV) .venv-deface out .pytest_cache .hypothesis
