#!/usr/bin/env bash
# Record what CTP itself does with the test pixel and filter scripts
# (tests/scripts/pixel/reference.{script,filter}) over the files listed in
# tests/reference/ctp_pixel_corpus.txt, into
# tests/reference/ctp_golden/pixel.json (committed: CI cannot run CTP,
# which is on no package registry).
#
#   CTP_LIBS=/path/to/CTP/libraries tests/reference/record_ctp_pixel_golden.sh
#
# CTP_LIBS is the `libraries/` folder of a checkout of johnperry/CTP. Needs
# a JDK. The top-level jars go first on the class path (the imageio folder
# holds another pixelmed_codec.jar).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
: "${CTP_LIBS:?set CTP_LIBS to the libraries folder of a CTP checkout}"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp=$( (ls "$CTP_LIBS"/*.jar; find "$CTP_LIBS" -mindepth 2 -name '*.jar') | tr '\n' ':')
javac -cp "$cp" -d "$work/classes" "$root/tests/reference/CtpPixelRun.java"
corpus=$("$root/tests/fetch_reference.sh" pydicom-corpus)
python=$("$root/tests/fetch_reference.sh" rsna-engine)
while read -r rel; do
  mkdir -p "$work/in/$(dirname "$rel")"
  cp "$corpus/$rel" "$work/in/$rel"
done < "$root/tests/reference/ctp_pixel_corpus.txt"
java -cp "$work/classes:$cp" CtpPixelRun "$root/tests/scripts/pixel/reference.script" \
  "$root/tests/scripts/pixel/reference.filter" "$work/in" "$work/out" > "$work/report.tsv" 2>/dev/null
"$python" "$root/tests/reference/ctp_pixel_dump.py" "$work/out" "$work/report.tsv" \
  > "$root/tests/reference/ctp_golden/pixel.json"
echo "recorded tests/reference/ctp_golden/pixel.json"
