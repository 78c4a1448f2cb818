#!/usr/bin/env bash
# Proves that the CLI can run on an existing libtorch installation loaded from a path (INTERP_LIBTORCH_DIR) instead of a
# NuGet natives package: builds interp with -p:TorchBackend=external (no natives referenced) into a temporary folder and
# runs `interp probing --quick` with INTERP_LIBTORCH_DIR pointing at a libtorch lib folder.
#   scripts/external-libtorch-smoke.sh [libtorch-lib-folder]
# Default folder: the CPU libtorch 2.10 from the NuGet cache (on a GPU machine, pass the lib/ folder of a libtorch 2.10
# CUDA build, then add --device cuda).
set -euo pipefail
cd "$(dirname "$0")/.."
lib=${1:-$HOME/.nuget/packages/libtorch-cpu-linux-x64/2.10.0/runtimes/linux-x64/native}
shift || true
out=$(mktemp -d /tmp/interp-external.XXXX)
trap 'rm -rf "$out"' EXIT
dotnet build src/Interpretability.Cli -c Release -p:TorchBackend=external -o "$out/bin" -nologo -clp:ErrorsOnly >/dev/null
if ls "$out/bin"/runtimes/linux-x64/native/libtorch_cpu.so >/dev/null 2>&1; then echo "ERROR: libtorch natives were copied; the external build must not reference them" >&2; exit 1; fi
# TorchSharp falls back to the NuGet cache when its by-name load fails; point NUGET_PACKAGES at an empty folder so only
# our path can succeed, and first show that without INTERP_LIBTORCH_DIR it does not.
mkdir -p "$out/empty"
if NUGET_PACKAGES="$out/empty" dotnet "$out/bin/interp.dll" probing --quick --quiet --out "$out/none" >/dev/null 2>&1; then
  echo "ERROR: interp ran without any libtorch; the check below would prove nothing" >&2; exit 1
fi
NUGET_PACKAGES="$out/empty" INTERP_LIBTORCH_DIR="$lib" dotnet "$out/bin/interp.dll" probing --quick --quiet --out "$out/run" "$@"
test -f "$out/run/metrics.json"
echo "external libtorch OK: interp ran on $lib"
