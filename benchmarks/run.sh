#!/usr/bin/env bash
# Runs the BenchmarkDotNet suite (Release build) and regenerates benchmarks/RESULTS.md.
#   benchmarks/run.sh [filter]      e.g. '*Jacobian*'; default: everything
set -euo pipefail
cd "$(dirname "$0")/.."
filter=${1:-*}
shift || true
dll=benchmarks/Interpretability.Benchmarks/bin/Release/net10.0/Interpretability.Benchmarks.dll
[ -f "$dll" ] || dotnet build benchmarks/Interpretability.Benchmarks -c Release -nologo -clp:ErrorsOnly
export INTERP_RESULTS_DIR="$PWD/benchmarks/results"
log=$(mktemp)
(cd benchmarks && dotnet "../$dll" --filter "$filter" "$@") 2>&1 | tee "$log"
# BenchmarkDotNet exits 0 even when it ran nothing (e.g. a Debug build): check what it says.
n=$(sed -n 's/^executed benchmarks: \([0-9]*\)$/\1/p' "$log" | tail -1)
rm -f "$log"
[ "${n:-0}" -gt 0 ] || { echo "ERROR: no benchmark was executed (filter '$filter')" >&2; exit 1; }
echo "benchmarks/RESULTS.md regenerated ($n benchmark cases)"
