#!/usr/bin/env bash
# The test command (README, `.ci/run`): install the real DICOM peers the
# network tests talk to when they are missing (Debian's dcmtk: storescu,
# echoscu, storescp), then run every test. Extra arguments go to
# `cargo test`.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
missing=()
for tool in storescu echoscu storescp; do
  command -v "$tool" >/dev/null || missing+=("$tool")
done
if ((${#missing[@]})); then
  echo "tests/run.sh: installing dcmtk (missing: ${missing[*]})" >&2
  sudo=()
  if [[ $(id -u) -ne 0 ]]; then sudo=(sudo); fi
  export DEBIAN_FRONTEND=noninteractive
  "${sudo[@]}" apt-get install -y --no-install-recommends dcmtk >/dev/null ||
    { "${sudo[@]}" apt-get update >/dev/null && "${sudo[@]}" apt-get install -y --no-install-recommends dcmtk >/dev/null; }
fi
exec cargo test "$@"
