#!/usr/bin/env bash
# Proves the packed library works for a consumer: a fresh console project (outside this repository, no central package
# management) references the Interpretability package from a local folder source, plus the CPU natives, and runs a
# forward pass with a hook (ActivationRecorder) and saves a PNG.
#   scripts/pack-smoke.sh [packages-folder]     (default: out/packages, as written by ./build.sh pack)
set -euo pipefail
cd "$(dirname "$0")/.."
feed=$(cd "${1:-out/packages}" && pwd)
pkg=$(ls "$feed"/Interpretability.[0-9]*.nupkg | grep -v snupkg | head -1)
[ -n "$pkg" ] || { echo "ERROR: no Interpretability .nupkg in $feed (run ./build.sh pack)" >&2; exit 1; }
version=$(basename "$pkg" .nupkg); version=${version#Interpretability.}
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
    <PackageReference Include="Interpretability" Version="$version" />
    <PackageReference Include="libtorch-cpu-linux-x64" Version="2.10.0" />
  </ItemGroup>
</Project>
XML
cat > Program.cs <<'CS'
using Interpretability;
using Interpretability.Imaging;
using Interpretability.Models;
using Interpretability.Probing;
using static TorchSharp.torch;

TorchRuntime.SilenceNativeWarnings();
using var model = ReferenceModels.SmallCnn(inChannels: 3, classes: 4, width: 4, seed: 1);
var x = rand(new long[] { 2, 3, 32, 32 });
using var capture = ActivationRecorder.Capture(model, x, new[] { "conv1", "relu2" });
var conv1 = capture["conv1"];
if (!conv1.shape.SequenceEqual(new long[] { 2, 4, 32, 32 })) throw new Exception("unexpected conv1 shape " + string.Join(",", conv1.shape));
Png.Save(conv1[0, 0], "conv1.png", new PngOptions(Normalization.MinMax, Colormap.Viridis));
Console.WriteLine($"consumer OK: conv1 {string.Join("x", conv1.shape)}, logits {string.Join("x", capture.ModelOutput!.shape)}, png {new FileInfo("conv1.png").Length} bytes");
CS
dotnet run -c Release 2>&1 | tail -5
