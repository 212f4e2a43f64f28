#!/usr/bin/env bash
# The test command (README, `.ci/run`): install the real DICOM peers the
# network tests talk to when they are missing (Debian's dcmtk: storescu,
# echoscu, storescp; Debian's orthanc, the PACS of the query/retrieve
# tests), the validator the policy tests run (Debian's dicom3tools:
# dciodvfy) and the database server of the shared-store tests (Debian's
# postgresql: each test makes and stops a cluster of its own), then run
# every test. Extra arguments go to `cargo test`.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
packages=()
for tool in storescu echoscu storescp; do
  command -v "$tool" >/dev/null || { packages+=(dcmtk); break; }
done
command -v Orthanc >/dev/null || packages+=(orthanc)
command -v dciodvfy >/dev/null || packages+=(dicom3tools)
compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || packages+=(postgresql)
if ((${#packages[@]})); then
  echo "tests/run.sh: installing ${packages[*]}" >&2
  sudo=()
  if [[ $(id -u) -ne 0 ]]; then sudo=(sudo); fi
  export DEBIAN_FRONTEND=noninteractive
  "${sudo[@]}" apt-get install -y --no-install-recommends "${packages[@]}" >/dev/null ||
    { "${sudo[@]}" apt-get update >/dev/null &&
      "${sudo[@]}" apt-get install -y --no-install-recommends "${packages[@]}" >/dev/null; }
fi
exec cargo test "$@"
