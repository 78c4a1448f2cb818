using Interpretability.Studies;

namespace Interpretability.Studies;

/// <summary>The studies <c>interp report</c> runs, in order; each capability adds its study here.</summary>
public static class ReportStudies
{
    /// <summary>Every study of the report.</summary>
    /// <param name="quick">Quick mode (the studies read it from their context; kept for studies whose defaults differ).</param>
    public static IReadOnlyList<Study> All(bool quick) => new Study[]
    {
        new ModelsStudy(),
        new ProbingStudy(),
        new AttributionStudy(),
        new FeatureVisualizationStudy(),
        new NeuronStudiesStudy(),
        new EnsemblesStudy(),
        new DynamicsStudy(),
        new DevicesStudy(),
    };
}
