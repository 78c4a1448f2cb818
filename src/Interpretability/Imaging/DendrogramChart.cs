using ScottPlot;

namespace Interpretability.Imaging;

/// <summary>
/// Draws a dendrogram (a binary merge tree, leaves 0…P−1 and the k-th merge as node P + k) with leaf labels at the
/// bottom and merge height on the y axis — the picture of hierarchical clustering (e.g. RSA of a hidden layer).
/// </summary>
public static class DendrogramChart
{
    /// <summary>Renders the tree as PNG bytes.</summary>
    /// <param name="merges">The P − 1 merges, lowest first: (left node, right node, height).</param>
    /// <param name="leafLabels">P labels.</param>
    /// <param name="options">Title, y label and size.</param>
    /// <param name="leafColors">Optional colour per leaf (<c>#rrggbb</c>) for its label marker, e.g. the true category.</param>
    /// <param name="maxHeight">Fixed top of the y axis (so that trees at several times compare); null fits the tree.</param>
    public static byte[] Render(IReadOnlyList<(int Left, int Right, double Height)> merges, IReadOnlyList<string> leafLabels,
        ChartOptions? options = null, IReadOnlyList<string>? leafColors = null, double? maxHeight = null)
    {
        ArgumentNullException.ThrowIfNull(merges);
        ArgumentNullException.ThrowIfNull(leafLabels);
        int p = leafLabels.Count;
        if (p < 2) throw new ArgumentException("A dendrogram needs at least 2 leaves.", nameof(leafLabels));
        if (merges.Count != p - 1) throw new ArgumentException($"{p} leaves need {p - 1} merges; got {merges.Count}.", nameof(merges));
        if (leafColors is not null && leafColors.Count != p) throw new ArgumentException($"leafColors needs {p} entries.", nameof(leafColors));
        foreach (var m in merges)
            if (m.Left < 0 || m.Right < 0 || m.Left >= p + merges.Count || m.Right >= p + merges.Count || !double.IsFinite(m.Height))
                throw new ArgumentException($"Merge ({m.Left}, {m.Right}, {m.Height}) is not a valid node pair with a finite height.", nameof(merges));
        options ??= new ChartOptions();
        // Leaf order: depth-first from the root, so every cluster is contiguous.
        var order = new List<int>();
        void Walk(int node)
        {
            if (node < p) { order.Add(node); return; }
            var m = merges[node - p];
            Walk(m.Left);
            Walk(m.Right);
        }
        Walk(p + merges.Count - 1);
        if (order.Count != p || order.Distinct().Count() != p) throw new ArgumentException("The merges do not form one tree over all leaves.", nameof(merges));
        var x = new double[p + merges.Count];
        var y = new double[p + merges.Count];
        for (int i = 0; i < p; i++) x[order[i]] = i;
        var plot = new Plot();
        if (!string.IsNullOrEmpty(options.Title)) plot.Title(options.Title);
        plot.YLabel(string.IsNullOrEmpty(options.YLabel) ? "merge height" : options.YLabel);
        if (!string.IsNullOrEmpty(options.XLabel)) plot.XLabel(options.XLabel);
        var lineColor = ScottPlot.Color.FromHex("#333333");
        for (int k = 0; k < merges.Count; k++)
        {
            var (l, r, h) = merges[k];
            int node = p + k;
            x[node] = (x[l] + x[r]) / 2;
            y[node] = h;
            // ⊓ shape: up from each child to h, across between them.
            var line = plot.Add.Scatter(new[] { x[l], x[l], x[r], x[r] }, new[] { y[l], h, h, y[r] }, lineColor);
            line.MarkerSize = 0;
            line.LineWidth = 2;
        }
        if (leafColors is not null)
            for (int i = 0; i < p; i++)
            {
                var marker = plot.Add.Marker(x[i], 0, MarkerShape.FilledCircle, 10, ScottPlot.Color.FromHex(leafColors[i]));
                marker.LegendText = "";
            }
        plot.Axes.Bottom.SetTicks(Enumerable.Range(0, p).Select(i => (double)i).ToArray(), order.Select(i => leafLabels[i]).ToArray());
        if (leafLabels.Any(l => l.Length > 3))
        {
            plot.Axes.Bottom.TickLabelStyle.Rotation = -45;
            plot.Axes.Bottom.TickLabelStyle.Alignment = Alignment.MiddleRight;
            plot.Axes.Bottom.MinimumSize = 8 * leafLabels.Max(l => l.Length) + 20;
        }
        var top = maxHeight ?? Math.Max(1e-12, merges.Max(m => m.Height)) * 1.08;
        plot.Axes.SetLimits(-0.6, p - 0.4, 0, top);
        Fonts.Apply(plot);
        return plot.GetImageBytes(options.Width, options.Height, ImageFormat.Png);
    }
}
