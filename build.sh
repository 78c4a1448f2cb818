#!/usr/bin/env bash
# build.sh — the one entry point of Interpretability.
#
#   ./build.sh setup              check (and on Debian 12 as root, install) the prerequisites
#   ./build.sh build [--cuda]     build the solution (Release); --cuda references TorchSharp's CUDA natives
#   ./build.sh test               run the whole test suite (ends with the runner's summary)
#   ./build.sh report [args]      run `interp report --out out/report` and print the path of index.html
#   ./build.sh bench [filter]     run the BenchmarkDotNet suite and regenerate benchmarks/RESULTS.md
#   ./build.sh pack               write the Interpretability and Interpretability.Cuda .nupkg files to out/packages
#   ./build.sh publish-gpu        self-contained linux-x64 archive of the CUDA tests and benchmarks
#   ./build.sh interp ARGS...     run the CLI with any arguments
#
# Every command runs `setup` first; setup is idempotent and takes seconds once done.
set -euo pipefail
cd "$(dirname "$0")"
ROOT=$(pwd)
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1
# A gen-0 budget of 64 MiB for every .NET process this script starts (tests, report, CLI, benchmarks). TorchSharp 0.107
# turns a C# number given to a tensor operation into a temporary Scalar and keeps no reference to it during the native
# call, so a garbage collection on another thread can free the value under the operation (seen as "Expected false to be
# true ... Scalar.h" aborting a report run, and as one failed report section in five clean-clone test runs). The runtime
# sizes gen 0 from the CPU cache: about 2 MiB on the AMD EPYC development host, about 100 MiB on an Intel Xeon host, so
# collections (and the race) are fifty times more frequent here. The library avoids temporaries where code runs
# thousands of times; TorchSharp's own code (its optimisers, for one) still makes them. Set DOTNET_GCgen0size yourself
# to override.
export DOTNET_GCgen0size=${DOTNET_GCgen0size:-0x4000000}

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
die() { printf 'ERROR: %s\n' "$*" >&2; exit 1; }

# ---------------------------------------------------------------------------------------------
# setup: .NET SDK >= 10, GLIBCXX_3.4.32 for TorchSharp 0.107's natives, a font for text in PNGs.
# ---------------------------------------------------------------------------------------------
find_libstdcxx() {
  local p
  for p in /usr/lib/x86_64-linux-gnu/libstdc++.so.6 /usr/lib64/libstdc++.so.6 /usr/lib/libstdc++.so.6; do
    [ -e "$p" ] && { echo "$p"; return 0; }
  done
  ldconfig -p 2>/dev/null | awk '/libstdc\+\+\.so\.6 .*x86-64/ {print $NF; exit}'
}

has_glibcxx() { local lib; lib=$(find_libstdcxx); [ -n "$lib" ] && grep -q GLIBCXX_3.4.32 "$lib" 2>/dev/null; }

install_trixie_libstdcxx() {
  # TorchSharp 0.107's libLibTorchSharp.so needs GLIBCXX_3.4.32 (GCC >= 13); Debian 12 ships GCC 12's.
  # Install libstdc++6 (and what it pulls: libc6 2.41, gcc-14 runtime libs) from Debian 13 with a
  # temporary apt configuration, leaving the machine's own sources and lists untouched.
  local X f b
  X=$(mktemp -d /tmp/interp-aptx.XXXX); chmod 755 "$X"; mkdir -p "$X/parts" "$X/lists/partial"
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.sources /etc/apt/sources.list.d/*.list; do
    [ -f "$f" ] || continue
    grep -qw bookworm "$f" || continue
    b=$(basename "$f"); cp "$f" "$X/parts/$b"
    sed -e 's/bookworm/trixie/g' "$f" > "$X/parts/trixie-$b"
  done
  ls "$X/parts" | grep -q trixie || { rm -rf "$X"; die "no Debian 12 (bookworm) apt source found to derive a Debian 13 source from; install libstdc++6 >= 13 by hand"; }
  local O=(-o Dir::Etc::SourceList=/dev/null -o Dir::Etc::SourceParts="$X/parts" -o Dir::State::Lists="$X/lists" -o APT::Default-Release=bookworm)
  DEBIAN_FRONTEND=noninteractive apt-get "${O[@]}" update -qq
  DEBIAN_FRONTEND=noninteractive apt-get "${O[@]}" install -y -qq -t trixie \
    -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold libstdc++6 >/dev/null
  rm -rf "$X"
}

setup() {
  # 1. .NET SDK 10 or newer.
  command -v dotnet >/dev/null 2>&1 || die ".NET SDK not found. Install the .NET 10 SDK (https://dotnet.microsoft.com/download) and put 'dotnet' on PATH."
  local sdk major
  sdk=$(dotnet --version 2>/dev/null || true)
  major=${sdk%%.*}
  [[ "$major" =~ ^[0-9]+$ ]] && [ "$major" -ge 10 ] || die ".NET SDK 10 or newer is required; 'dotnet --version' printed '${sdk:-nothing}'. Install the .NET 10 SDK."

  # 2. GLIBCXX_3.4.32 for TorchSharp's native library (checked by symbol, not by OS name).
  if ! has_glibcxx; then
    local lib; lib=$(find_libstdcxx)
    local os="unknown"; [ -r /etc/os-release ] && os=$(. /etc/os-release; echo "${ID:-?}-${VERSION_CODENAME:-?}")
    if [ "$os" = "debian-bookworm" ] && [ "$(id -u)" = 0 ]; then
      say "setup: ${lib:-libstdc++.so.6} lacks GLIBCXX_3.4.32 (TorchSharp 0.107 needs it); installing libstdc++6 from Debian 13 (about 30 s)"
      install_trixie_libstdcxx
      has_glibcxx || die "installing libstdc++6 from Debian 13 did not provide GLIBCXX_3.4.32 in $(find_libstdcxx)"
      say "setup: GLIBCXX_3.4.32 is now available"
    elif [ "$os" = "debian-bookworm" ]; then
      die "the C++ runtime ${lib:-libstdc++.so.6} lacks GLIBCXX_3.4.32, which TorchSharp 0.107's native library needs. Run './build.sh setup' as root once (it installs libstdc++6 from Debian 13), or install libstdc++6 from GCC 13 or newer yourself."
    else
      die "the C++ runtime ${lib:-libstdc++.so.6 (not found)} lacks GLIBCXX_3.4.32, which TorchSharp 0.107's native library needs (OS: $os). Install libstdc++ from GCC 13 or newer (e.g. Debian 13's or Ubuntu 24.04's libstdc++6) and run again."
    fi
  fi

  # 3. A font, or every text in a picture vanishes silently (SkiaSharp's NoDependencies natives scan /usr/share/fonts).
  if ! ls /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
      say "setup: installing fonts-dejavu-core (text in pictures needs it)"
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fonts-dejavu-core >/dev/null \
        || { DEBIAN_FRONTEND=noninteractive apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fonts-dejavu-core >/dev/null; }
    else
      die "the DejaVu fonts are missing (/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf); install them (Debian/Ubuntu: apt-get install fonts-dejavu-core) or text in pictures vanishes."
    fi
  fi
}

# ---------------------------------------------------------------------------------------------
CONFIG=${CONFIG:-Release}
CLI_DLL="src/Interpretability.Cli/bin/$CONFIG/net10.0/interp.dll"

build() {
  local extra=()
  for a in "$@"; do
    case "$a" in
      --cuda) extra+=(-p:TorchBackend=cuda) ;;
      *) extra+=("$a") ;;
    esac
  done
  say "build ($CONFIG)"
  dotnet build Interpretability.sln -c "$CONFIG" -nologo -clp:ErrorsOnly "${extra[@]}"
}

cmd=${1:-help}; shift || true
case "$cmd" in
  setup) setup; say "setup: prerequisites present (.NET $(dotnet --version), GLIBCXX_3.4.32, DejaVu fonts)" ;;
  build) setup; build "$@" ;;
  test)
    setup
    build
    say "test (the whole suite; CUDA tests report as skipped without a GPU)"
    dotnet test Interpretability.sln -c "$CONFIG" --no-build -nologo --logger "console;verbosity=normal" "$@"
    ;;
  report)
    setup
    build
    out=out/report
    say "report -> $out"
    dotnet "$CLI_DLL" report --out "$out" "$@"
    echo "$ROOT/$out/index.html"
    ;;
  interp)
    setup
    [ -f "$CLI_DLL" ] || build
    dotnet "$CLI_DLL" "$@"
    ;;
  bench)
    setup
    build
    exec bash benchmarks/run.sh "$@"
    ;;
  pack)
    setup
    say "pack -> out/packages"
    rm -rf out/packages
    dotnet pack src/Interpretability/Interpretability.csproj -c Release -o out/packages -nologo -clp:ErrorsOnly
    dotnet pack src/Interpretability.Cuda/Interpretability.Cuda.csproj -c Release -o out/packages -nologo -clp:ErrorsOnly
    ls -1 out/packages
    say "pack: a fresh console project consumes the package from out/packages"
    bash scripts/pack-smoke.sh out/packages
    ;;
  publish-gpu)
    setup
    exec bash scripts/publish-gpu.sh "$@"
    ;;
  help|-h|--help) sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//' ;;
  *) sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//' >&2; die "unknown command '$cmd'" ;;
esac
