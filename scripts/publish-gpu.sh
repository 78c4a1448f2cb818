#!/usr/bin/env bash
# Makes a self-contained linux-x64 archive of the GPU checks and the benchmarks, for a GPU machine that may have no .NET
# at all: out/interp-gpu-linux-x64.tar.gz (+ run-gpu.sh inside). It carries no libtorch natives (TorchBackend=external),
# so the ILGPU kernels run with the NVIDIA driver alone; TorchSharp checks and benchmarks run too when INTERP_LIBTORCH_DIR
# points at a libtorch 2.10 lib folder on that machine (e.g. a CUDA libtorch zip, or site-packages/torch/lib of torch 2.10).
set -euo pipefail
cd "$(dirname "$0")/.."
stage=out/gpu/interp-gpu
rm -rf out/gpu && mkdir -p "$stage"
dotnet publish benchmarks/Interpretability.Benchmarks -c Release -r linux-x64 --self-contained true \
  -p:TorchBackend=external -p:PublishTrimmed=false -p:DebugType=none -o "$stage/bin" -nologo -clp:ErrorsOnly
# Natives the GPU machine does not need (other OSes' SkiaSharp/HarfBuzz copies are not in a linux-x64 publish already).
cat > "$stage/run-gpu.sh" <<'SH'
#!/usr/bin/env bash
# Runs the GPU checks and the GPU benchmarks; results go to ${1:-./gpu-results}.
#   INTERP_LIBTORCH_DIR=/path/to/libtorch/lib ./run-gpu.sh [results-dir] [benchmark-filter]
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=$(mkdir -p "${1:-gpu-results}" && cd "${1:-gpu-results}" && pwd)
filter=${2:-*Fused*}
nvidia-smi > "$out/nvidia-smi.txt" 2>&1 || echo "nvidia-smi not found" > "$out/nvidia-smi.txt"
"$here/bin/Interpretability.Benchmarks" --gpu-checks "$out" | tee "$out/gpu-checks.txt"
checks=${PIPESTATUS[0]}
export INTERP_RESULTS_DIR="$out/results"
(cd "$out" && "$here/bin/Interpretability.Benchmarks" --filter "$filter" --inProcess) 2>&1 | tee "$out/benchmarks.log"
echo "results in $out (gpu-checks.json, results/*.md, RESULTS.md, benchmarks.log); checks exit code $checks"
exit "$checks"
SH
chmod +x "$stage/run-gpu.sh"
tar -C out/gpu -czf out/interp-gpu-linux-x64.tar.gz interp-gpu
size=$(stat -c %s out/interp-gpu-linux-x64.tar.gz)
echo "out/interp-gpu-linux-x64.tar.gz: $((size / 1048576)) MiB"
[ "$size" -lt $((60 * 1048576)) ] || { echo "ERROR: the archive is over 60 MiB" >&2; exit 1; }
