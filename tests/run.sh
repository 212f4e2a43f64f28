#!/usr/bin/env bash
# The test command (README, `.ci/run`): install the real DICOM peers the
# network tests talk to when they are missing (Debian's dcmtk: storescu,
# echoscu, storescp; Debian's orthanc, the PACS of the query/retrieve
# tests), the validator the policy tests run (Debian's dicom3tools:
# dciodvfy) and the database server of the shared-store tests (Debian's
# postgresql: each test makes and stops a cluster of its own) and the
# fonts the burned-in text tests render with (Debian's fonts-dejavu-core,
# fonts-liberation), make the text detector's models (the high level
# searches pixels for text; scripts/make_text_models.sh, from PyPI), then
# run every test. Extra arguments go to `cargo test`.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
packages=()
for tool in storescu echoscu storescp; do
  command -v "$tool" >/dev/null || { packages+=(dcmtk); break; }
done
command -v Orthanc >/dev/null || packages+=(orthanc)
command -v dciodvfy >/dev/null || packages+=(dicom3tools)
compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || packages+=(postgresql)
[[ -e /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ]] || packages+=(fonts-dejavu-core)
compgen -G '/usr/share/fonts/truetype/liberation*/LiberationSans-Regular.ttf' >/dev/null ||
  packages+=(fonts-liberation)
if ((${#packages[@]})); then
  echo "tests/run.sh: installing ${packages[*]}" >&2
  sudo=()
  if [[ $(id -u) -ne 0 ]]; then sudo=(sudo); fi
  export DEBIAN_FRONTEND=noninteractive
  "${sudo[@]}" apt-get install -y --no-install-recommends "${packages[@]}" >/dev/null ||
    { "${sudo[@]}" apt-get update >/dev/null &&
      "${sudo[@]}" apt-get install -y --no-install-recommends "${packages[@]}" >/dev/null; }
fi
scripts/make_text_models.sh >/dev/null
exec cargo test "$@"
