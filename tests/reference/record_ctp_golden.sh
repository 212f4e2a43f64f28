#!/usr/bin/env bash
# Record what CTP itself writes for the test scripts of tests/ctp_reference_outputs.rs,
# into tests/reference/ctp_golden/<script>.json (committed: CI cannot run CTP,
# which is on no package registry).
#
#   CTP_LIBS=/path/to/CTP/libraries tests/reference/record_ctp_golden.sh
#
# CTP_LIBS is the `libraries/` folder of a checkout of johnperry/CTP (CTP.jar,
# dcm4che.jar, util.jar, jdbm.jar, log4j/*.jar). Needs a JDK.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
: "${CTP_LIBS:?set CTP_LIBS to the libraries folder of a CTP checkout}"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp=$(find "$CTP_LIBS" -maxdepth 2 -name '*.jar' | tr '\n' ':')
javac -cp "$cp" -d "$work/classes" "$root/tests/reference/CtpRun.java"
corpus=$("$root/tests/fetch_reference.sh" pydicom-corpus)
python=$("$root/tests/fetch_reference.sh" rsna-engine)
input="$work/input"
while read -r rel; do
  mkdir -p "$input/$(dirname "$rel")"
  cp "$corpus/$rel" "$input/$rel"
done < "$root/tests/reference/ctp_golden/corpus.txt"
for script in ctp_reference ctp_reference_strict ctp_params ctp_lenient; do
  out="$work/out-$script"
  # Command-line parameters (DicomAnonymizerTool's -pNAME VALUE), one
  # NAME=VALUE per line, where a script has them.
  params=()
  if [[ -f "$root/tests/reference/ctp_golden/$script.params" ]]; then
    mapfile -t params < "$root/tests/reference/ctp_golden/$script.params"
  fi
  java --add-exports java.base/com.sun.crypto.provider=ALL-UNNAMED -cp "$work/classes:$cp" CtpRun \
    "$root/tests/scripts/valid/$script.script" "$input" "$out" \
    "$root/tests/scripts/valid/ctp_reference.lookup.properties" "${params[@]}" > "$work/$script.tsv" 2>/dev/null
  "$python" "$root/tests/reference/ctp_dump.py" "$out" "$work/$script.tsv" \
    > "$root/tests/reference/ctp_golden/$script.json"
  echo "recorded tests/reference/ctp_golden/$script.json"
done
