#!/usr/bin/env bash
# Make the burned-in text detector's models (src/pixel/text) from public
# inputs, reproducibly, with nothing but PyPI:
#
#   - PaddleOCR's PP-OCRv4 text detection and recognition models
#     (Apache-2.0, by PaddlePaddle), as ONNX graphs shipped in PyPI's
#     rapidocr-onnxruntime 1.4.4 wheel (models/ch_PP-OCRv4_det_infer.onnx,
#     models/ch_PP-OCRv4_rec_infer.onnx);
#   - their input shapes fixed with onnxsim (det 1x3x480x640, rec
#     1x3x48x160: short lines, which are all a whitelist keeps): as
#     shipped, their dynamic shapes do not load in tract, the pure-Rust
#     ONNX backend this tool runs models with;
#   - the recogniser's alphabet, which the graph keeps in its metadata
#     ("character"), written to keys.txt.
#
#   scripts/make_text_models.sh [DIR]   # default: .cache/text-models
#
# Prints DIR. Run once; `anonymize` finds the models there (or at
# --text-models DIR, or $DICOM_ANONYMIZER_TEXT_MODELS). Nothing is
# downloaded at run time.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cache=${DICOM_ANON_CACHE:-$root/.cache}
out=${1:-$cache/text-models}
python=${PYTHON:-python3}

RAPIDOCR_VERSION=1.4.4
ONNX_VERSION=1.17.0
ONNXSIM_VERSION=0.4.36
ONNXRUNTIME_VERSION=1.32.0

# The shapes are part of the output: models made at other shapes are made
# again.
SHAPES="det 1x3x480x640, rec 1x3x48x160"
if [ -s "$out/det.onnx" ] && [ -s "$out/rec.onnx" ] && [ -s "$out/keys.txt" ] &&
  grep -qF "$SHAPES" "$out/SOURCE.txt" 2>/dev/null; then
  echo "$out"
  exit 0
fi
mkdir -p "$cache"
exec 8>"$cache/.text-models.lock"
flock 8
if [ -s "$out/det.onnx" ] && [ -s "$out/rec.onnx" ] && [ -s "$out/keys.txt" ] &&
  grep -qF "$SHAPES" "$out/SOURCE.txt" 2>/dev/null; then
  echo "$out"
  exit 0
fi

venv=$cache/text-models-venv
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c 'import onnx, onnxsim' 2>/dev/null; then
  rm -rf "$venv"
  "$python" -m venv "$venv" >&2
  # onnxsim checks its result with onnxruntime (and would install it itself).
  "$venv/bin/pip" install --quiet --disable-pip-version-check --only-binary=:all: \
    "onnxsim==$ONNXSIM_VERSION" "onnx==$ONNX_VERSION" "onnxruntime==$ONNXRUNTIME_VERSION" >&2
fi
mkdir -p "$cache/wheels"
"$venv/bin/pip" download --quiet --disable-pip-version-check --no-deps --only-binary=:all: \
  -d "$cache/wheels" "rapidocr-onnxruntime==$RAPIDOCR_VERSION" >&2

tmp=$out.tmp
rm -rf "$tmp"
mkdir -p "$tmp"
"$venv/bin/python" - "$cache/wheels" "$RAPIDOCR_VERSION" "$tmp" "$SHAPES" <<'PY' >&2
import glob, os, sys, zipfile
import onnx
from onnxsim import simplify

wheels, version, out, shapes = sys.argv[1:]
wheel = sorted(glob.glob(os.path.join(wheels, f"rapidocr_onnxruntime-{version}-*.whl")))[-1]
models = {
    "det": ("rapidocr_onnxruntime/models/ch_PP-OCRv4_det_infer.onnx", [1, 3, 480, 640]),
    "rec": ("rapidocr_onnxruntime/models/ch_PP-OCRv4_rec_infer.onnx", [1, 3, 48, 160]),
}
with zipfile.ZipFile(wheel) as z:
    for name, (member, shape) in models.items():
        model = onnx.load_from_string(z.read(member))
        if name == "rec":
            meta = {p.key: p.value for p in model.metadata_props}
            keys = meta["character"].splitlines()
            with open(os.path.join(out, "keys.txt"), "w", encoding="utf-8") as f:
                f.write("\n".join(keys) + "\n")
        fixed, ok = simplify(model, overwrite_input_shapes={"x": shape})
        if not ok:
            sys.exit(f"onnxsim could not check the simplified {name} model")
        onnx.save(fixed, os.path.join(out, f"{name}.onnx"))
        print(f"{name}: {member} at {shape}")
with open(os.path.join(out, "SOURCE.txt"), "w") as f:
    f.write(
        "PaddleOCR PP-OCRv4 text detection (det.onnx) and recognition (rec.onnx)\n"
        "models, Apache License 2.0, (c) PaddlePaddle Authors, as ONNX graphs\n"
        f"from PyPI's rapidocr-onnxruntime {version} wheel ({os.path.basename(wheel)}),\n"
        f"input shapes fixed with onnxsim by scripts/make_text_models.sh ({shapes});\n"
        "keys.txt is the recogniser's alphabet from rec's metadata.\n"
    )
PY
rm -rf "$out"
mv "$tmp" "$out"
echo "$out"
