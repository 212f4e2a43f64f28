#!/usr/bin/env bash
# Developer check (not run by CI, which cannot reach CTP): apply a CTP
# anonymizer script with CTP's own engine and with ours to the pydicom
# corpus, and print every element where the two outputs differ.
#
#   CTP_LIBS=/path/to/CTP/libraries tests/reference/ctp_differential.sh SCRIPT [NAME=VALUE]...
#
# NAME=VALUE pairs are the script's command-line parameters (CTP's
# DicomAnonymizerTool `-pNAME VALUE`, our `--param NAME=VALUE`). Exit 0
# when the outputs agree, 1 when they differ. Needs a JDK.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
: "${CTP_LIBS:?set CTP_LIBS to the libraries folder of a CTP checkout}"
script=$(realpath "$1"); shift
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
java --add-exports java.base/com.sun.crypto.provider=ALL-UNNAMED -cp "$work/classes:$cp" CtpRun \
  "$script" "$input" "$work/ctp" - "$@" > "$work/ctp.tsv" 2>/dev/null
params=()
for p in "$@"; do params+=(--param "$p"); done
cargo build --release --quiet --manifest-path "$root/Cargo.toml"
"$root/target/release/dicom-anonymizer" anonymize --dialect ctp --jobs 1 --site-id 1 \
  --script "$script" "${params[@]}" --input "$input" --output "$work/ours" > "$work/ours.log" 2>&1 || true
"$python" - "$work/ours/.anonymizer/store.sqlite" > "$work/ours.tsv" <<'PY'
import sqlite3, sys
for source, status, reason in sqlite3.connect(sys.argv[1]).execute(
        "SELECT source, status, reason FROM files ORDER BY source"):
    s = "OK" if status == "done" else ("SKIP" if reason == "skipped by the script" else "QUARANTINE")
    print(f"{source}\t{s}\t")
PY
"$python" "$root/tests/reference/ctp_dump.py" "$work/ctp" "$work/ctp.tsv" > "$work/ctp.json"
"$python" "$root/tests/reference/ctp_dump.py" "$work/ours" "$work/ours.tsv" > "$work/ours.json"
"$python" - "$work/ctp.json" "$work/ours.json" "$work/ctp.tsv" <<'PY'
import json, sys
ctp, ours = (json.load(open(p)) for p in sys.argv[1:3])
messages = dict(l.rstrip("\n").split("\t")[0::2] for l in open(sys.argv[3]) if l.strip())
diffs, compared = 0, 0
for f in sorted(set(ctp) | set(ours)):
    a, b = ctp.get(f, {}), ours.get(f, {})
    if a.get("status") != b.get("status"):
        print(f"{f}: CTP {a.get('status')} ({messages.get(f, '')}) / ours {b.get('status')}")
        diffs += 1
        continue
    ea, eb = a.get("elements", {}), b.get("elements", {})
    for k in sorted(set(ea) | set(eb)):
        compared += 1
        if ea.get(k) != eb.get(k):
            print(f"{f}: {k}: CTP {ea.get(k, 'absent')} / ours {eb.get(k, 'absent')}")
            diffs += 1
from collections import Counter
def tally(d):
    return ", ".join(f"{n} {s}" for s, n in sorted(Counter(v.get("status") for v in d.values()).items()))
print(f"{len(ctp)} files (CTP: {tally(ctp)}; ours: {tally(ours)}), {compared} elements compared, {diffs} differences", file=sys.stderr)
sys.exit(1 if diffs else 0)
PY
