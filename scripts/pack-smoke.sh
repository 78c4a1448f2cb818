#!/usr/bin/env bash
# Proves the packed library works for a consumer: a fresh console project (outside this repository, no central package
# management) references the Interpretability package from a local folder source, plus the CPU natives, and runs a
# forward pass with a hook (ActivationRecorder) and saves a PNG. Also checks the version: both .nupkg file names carry
# the commit height (0.2.0-alpha.<N>, N = git rev-list --count HEAD; 0 without git), Interpretability.Cuda depends on
# that same Interpretability version, and the consumer restores and loads exactly that version from a private
# global-packages folder (so a package cached by an earlier pack cannot stand in for this one).
#   scripts/pack-smoke.sh [packages-folder]     (default: out/packages, as written by ./build.sh pack)
set -euo pipefail
cd "$(dirname "$0")/.."
fail() { echo "ERROR: $*" >&2; exit 1; }
feed=$(cd "${1:-out/packages}" && pwd)

# 1. The version in the file names is the commit height of this checkout.
height=0
if [ -e .git ] && command -v git >/dev/null 2>&1 && h=$(git rev-list --count HEAD 2>/dev/null); then height=$h; fi
shopt -s nullglob
pkgs=("$feed"/Interpretability.[0-9]*.nupkg)
cuda_pkgs=("$feed"/Interpretability.Cuda.[0-9]*.nupkg)
shopt -u nullglob
[ ${#pkgs[@]} -eq 1 ] || fail "expected one Interpretability .nupkg in $feed, found ${#pkgs[@]}: ${pkgs[*]:-none} (run ./build.sh pack)"
[ ${#cuda_pkgs[@]} -eq 1 ] || fail "expected one Interpretability.Cuda .nupkg in $feed, found ${#cuda_pkgs[@]}: ${cuda_pkgs[*]:-none}"
pkg=${pkgs[0]}
version=$(basename "$pkg" .nupkg); version=${version#Interpretability.}
[[ "$version" =~ ^[0-9]+\.[0-9]+\.[0-9]+-[a-z]+\.${height}$ ]] \
  || fail "package version '$version' does not end in the commit height .$height (file $(basename "$pkg"))"
[ "$(basename "${cuda_pkgs[0]}")" = "Interpretability.Cuda.$version.nupkg" ] \
  || fail "Interpretability.Cuda has another version than Interpretability $version: $(basename "${cuda_pkgs[0]}")"
nuspec_of() {  # the .nuspec inside a .nupkg (a zip), on stdout
  if command -v unzip >/dev/null 2>&1; then unzip -p "$1" "$2"
  elif command -v python3 >/dev/null 2>&1; then python3 -c 'import sys, zipfile; sys.stdout.write(zipfile.ZipFile(sys.argv[1]).read(sys.argv[2]).decode())' "$1" "$2"
  else fail "reading a .nupkg needs unzip or python3 (apt-get install unzip)"; fi
}
dep=$(nuspec_of "${cuda_pkgs[0]}" Interpretability.Cuda.nuspec | grep -o '<dependency id="Interpretability" version="[^"]*"' || true)
[ "$dep" = "<dependency id=\"Interpretability\" version=\"$version\"" ] \
  || fail "Interpretability.Cuda's nuspec should depend on Interpretability $version; found: ${dep:-no dependency}"
echo "pack-smoke: version $version (commit height $height) in both package names; Interpretability.Cuda depends on Interpretability $version"

work=$(mktemp -d /tmp/interp-consumer.XXXX)
trap 'rm -rf "$work"' EXIT
# A private global-packages folder, so a previously cached package of the same version is never used.
export NUGET_PACKAGES="$work/packages"
mkdir -p "$NUGET_PACKAGES"
# Reuse the big natives already downloaded (libtorch is ~600 MB) by linking them in; everything else restores normally.
for p in libtorch-cpu-linux-x64 torchsharp; do
  [ -d "$HOME/.nuget/packages/$p" ] && ln -s "$HOME/.nuget/packages/$p" "$NUGET_PACKAGES/$p"
done
cd "$work"
cat > nuget.config <<XML
<configuration>
  <packageSources>
    <clear />
    <add key="local" value="$feed" />
    <add key="nuget.org" value="https://api.nuget.org/v3/index.json" protocolVersion="3" />
  </packageSources>
</configuration>
XML
cat > Consumer.csproj <<XML
<Project Sdk="Microsoft.NET.Sdk">
  <PropertyGroup>
    <OutputType>Exe</OutputType>
    <TargetFramework>net10.0</TargetFramework>
    <Nullable>enable</Nullable>
    <ImplicitUsings>enable</ImplicitUsings>
    <TreatWarningsAsErrors>true</TreatWarningsAsErrors>
  </PropertyGroup>
  <ItemGroup>
    <PackageReference Include="Interpretability" Version="[$version]" />
    <PackageReference Include="libtorch-cpu-linux-x64" Version="[2.10.0,2.11)" />
  </ItemGroup>
</Project>
XML
cat > Program.cs <<'CS'
using System.Reflection;
using Interpretability;
using Interpretability.Imaging;
using Interpretability.Models;
using Interpretability.Probing;
using static TorchSharp.torch;

using var session = TorchSession.Start();
using var model = ReferenceModels.SmallCnn(inChannels: 3, classes: 4, width: 4, seed: 1);
var x = rand(new long[] { 2, 3, 32, 32 });
using var capture = ActivationRecorder.Capture(model, x, new[] { "conv1", "relu2" });
var conv1 = capture["conv1"];
if (!conv1.shape.SequenceEqual(new long[] { 2, 4, 32, 32 })) throw new Exception("unexpected conv1 shape " + string.Join(",", conv1.shape));
Png.Save(conv1[0, 0], "conv1.png", new PngOptions(Normalization.MinMax, Colormap.Viridis));
var loaded = typeof(TorchSession).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()!.InformationalVersion;
Console.WriteLine($"consumer loaded Interpretability {loaded}");
Console.WriteLine($"consumer OK: conv1 {string.Join("x", conv1.shape)}, logits {string.Join("x", capture.ModelOutput!.shape)}, png {new FileInfo("conv1.png").Length} bytes");
CS
# 2. The consumer restores exactly this version, into its private global-packages folder, and runs.
dotnet restore -nologo >restore.log 2>&1 || { cat restore.log >&2; fail "the consumer's restore failed"; }
restored=$(grep -o '"Interpretability/[^"]*"' obj/project.assets.json | head -1 | tr -d '"'); restored=${restored#Interpretability/}
[ "$restored" = "$version" ] || fail "the consumer restored Interpretability '${restored:-nothing}', expected $version"
[ -f "$NUGET_PACKAGES/interpretability/$version/interpretability.$version.nupkg" ] \
  || fail "Interpretability $version is not in the consumer's private package folder $NUGET_PACKAGES"
cmp -s "$NUGET_PACKAGES/interpretability/$version/interpretability.$version.nupkg" "$pkg" \
  || fail "the restored Interpretability $version differs from $pkg"
echo "pack-smoke: the consumer restored Interpretability $version (byte-identical to the packed file)"
dotnet run -c Release --no-restore 2>&1 | tee run.log | tail -5
grep -q "^consumer loaded Interpretability $version+" run.log || grep -q "^consumer loaded Interpretability $version\$" run.log \
  || fail "the consumer did not load Interpretability $version (see the lines above)"
grep -q '^consumer OK' run.log || fail "the consumer did not finish"
