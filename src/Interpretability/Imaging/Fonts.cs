using SkiaSharp;

namespace Interpretability.Imaging;

/// <summary>
/// The typeface every picture uses. SkiaSharp's NoDependencies natives scan <c>/usr/share/fonts</c> and default to a serif
/// face; with no font installed, text silently vanishes — <c>./build.sh setup</c> installs DejaVu, and
/// <see cref="Available"/> lets a test prove text will render.
/// </summary>
public static class Fonts
{
    /// <summary>The family pictures ask for.</summary>
    public const string Family = "DejaVu Sans";

    private static readonly Lazy<SKTypeface> sans = new(() =>
    {
        ScottPlot.Fonts.Default = Family;
        return SKTypeface.FromFamilyName(Family) ?? SKTypeface.Default;
    });

    /// <summary>The sans-serif typeface (DejaVu Sans where installed).</summary>
    public static SKTypeface Sans => sans.Value;

    /// <summary>True when the DejaVu Sans family was found, i.e. text in pictures will be visible.</summary>
    public static bool Available => Sans.FamilyName == Family;

    /// <summary>Makes ScottPlot use the same family; called before any chart is drawn.</summary>
    internal static void EnsureChartFont() => _ = sans.Value;
}
