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

    private static readonly Lazy<SKTypeface> sans = new(() => SKTypeface.FromFamilyName(Family) ?? SKTypeface.Default);

    /// <summary>The sans-serif typeface (DejaVu Sans where installed).</summary>
    public static SKTypeface Sans => sans.Value;

    /// <summary>True when the DejaVu Sans family was found, i.e. text in pictures will be visible.</summary>
    public static bool Available => Sans.FamilyName == Family;

    /// <summary>
    /// Gives every text of a chart (title, axes, ticks, legend, colour bar) this family, just before it is rendered, so
    /// that elements added after the plot was created are covered too; ScottPlot's process-wide default stays untouched.
    /// </summary>
    internal static void Apply(ScottPlot.Plot plot)
    {
        plot.Font.Set(Family);
        // The styler leaves panels alone, and a colour bar's label would keep ScottPlot's default (DejaVu Serif here).
        foreach (var panel in plot.Axes.GetPanels())
            if (panel is ScottPlot.Panels.ColorBar bar) (bar.LabelStyle.FontName, bar.LabelStyle.Bold) = (Family, false);
    }
}
