namespace Interpretability.Studies;

/// <summary>A published work a report section cites.</summary>
/// <param name="Key">Citation key (lower-case first author's family name and year, e.g. <c>sundararajan2017</c>).</param>
/// <param name="Authors">Authors in the paper's order, each as <c>"Family, Initials"</c> (e.g. <c>"Sundararajan, M."</c>).</param>
/// <param name="Year">Year of first publication (of the arXiv preprint where there is one).</param>
/// <param name="Title">Title of the work.</param>
/// <param name="Venue">Where it appeared (journal, proceedings, or "arXiv preprint").</param>
/// <param name="Identifier">How to find it: <c>arXiv:NNNN.NNNNN</c>, <c>doi:10.…</c>, or an <c>https://</c> address.</param>
public sealed record Reference(string Key, IReadOnlyList<string> Authors, int Year, string Title, string Venue, string Identifier)
{
    /// <summary>The work's address: <c>https://arxiv.org/abs/…</c>, <c>https://doi.org/…</c> or <see cref="Identifier"/> itself.</summary>
    public string Url =>
        Identifier.StartsWith("arXiv:", StringComparison.Ordinal) ? "https://arxiv.org/abs/" + Identifier["arXiv:".Length..]
        : Identifier.StartsWith("doi:", StringComparison.Ordinal) ? "https://doi.org/" + Identifier["doi:".Length..]
        : Identifier;

    /// <summary>Author-year label: "Saxe, McClelland &amp; Ganguli 2019" for up to three authors, "Selvaraju et al. 2017" beyond.</summary>
    public string ShortLabel
    {
        get
        {
            var families = Authors.Select(a => a.Split(',')[0].Trim()).ToList();
            var names = families.Count switch
            {
                1 => families[0],
                2 => $"{families[0]} & {families[1]}",
                3 => $"{families[0]}, {families[1]} & {families[2]}",
                _ => $"{families[0]} et al.",
            };
            return $"{names} {Year}";
        }
    }

    /// <summary>The full entry: authors, year, title, venue and identifier.</summary>
    public override string ToString() => $"{string.Join(", ", Authors)} ({Year}). {Title}. {Venue}. {Identifier}";
}

/// <summary>
/// The works the report cites: each method's original paper and the theory behind the studies. A section cites them by
/// key with <see cref="ReportSection.Cite"/>; the report lists the cited ones, numbered, in its References section.
/// </summary>
public static class Bibliography
{
    private static readonly Reference[] Entries =
    {
        // ---- Gradient attribution --------------------------------------------------------------------------------
        new("simonyan2013", new[] { "Simonyan, K.", "Vedaldi, A.", "Zisserman, A." }, 2013,
            "Deep Inside Convolutional Networks: Visualising Image Classification Models and Saliency Maps", "ICLR 2014 workshop track", "arXiv:1312.6034"),
        new("shrikumar2016", new[] { "Shrikumar, A.", "Greenside, P.", "Shcherbina, A.", "Kundaje, A." }, 2016,
            "Not Just a Black Box: Learning Important Features Through Propagating Activation Differences", "arXiv preprint", "arXiv:1605.01713"),
        new("sundararajan2017", new[] { "Sundararajan, M.", "Taly, A.", "Yan, Q." }, 2017,
            "Axiomatic Attribution for Deep Networks", "ICML 2017", "arXiv:1703.01365"),
        new("smilkov2017", new[] { "Smilkov, D.", "Thorat, N.", "Kim, B.", "Viégas, F.", "Wattenberg, M." }, 2017,
            "SmoothGrad: removing noise by adding noise", "ICML 2017 Workshop on Visualization for Deep Learning", "arXiv:1706.03825"),
        new("shrikumar2017", new[] { "Shrikumar, A.", "Greenside, P.", "Kundaje, A." }, 2017,
            "Learning Important Features Through Propagating Activation Differences", "ICML 2017", "arXiv:1704.02685"),
        new("springenberg2014", new[] { "Springenberg, J. T.", "Dosovitskiy, A.", "Brox, T.", "Riedmiller, M." }, 2014,
            "Striving for Simplicity: The All Convolutional Net", "ICLR 2015 workshop track", "arXiv:1412.6806"),
        new("zeiler2014", new[] { "Zeiler, M. D.", "Fergus, R." }, 2014,
            "Visualizing and Understanding Convolutional Networks", "ECCV 2014", "arXiv:1311.2901"),
        new("selvaraju2017", new[] { "Selvaraju, R. R.", "Cogswell, M.", "Das, A.", "Vedantam, R.", "Parikh, D.", "Batra, D." }, 2017,
            "Grad-CAM: Visual Explanations from Deep Networks via Gradient-based Localization", "ICCV 2017", "arXiv:1610.02391"),
        new("bach2015", new[] { "Bach, S.", "Binder, A.", "Montavon, G.", "Klauschen, F.", "Müller, K.-R.", "Samek, W." }, 2015,
            "On Pixel-Wise Explanations for Non-Linear Classifier Decisions by Layer-Wise Relevance Propagation", "PLoS ONE 10(7): e0130140",
            "doi:10.1371/journal.pone.0130140"),
        new("lundberg2017", new[] { "Lundberg, S. M.", "Lee, S.-I." }, 2017,
            "A Unified Approach to Interpreting Model Predictions", "NeurIPS 2017", "arXiv:1705.07874"),

        // ---- Perturbation attribution ----------------------------------------------------------------------------
        new("castro2009", new[] { "Castro, J.", "Gómez, D.", "Tejada, J." }, 2009,
            "Polynomial calculation of the Shapley value based on sampling", "Computers & Operations Research 36(5): 1726–1730",
            "doi:10.1016/j.cor.2008.04.004"),
        new("strumbelj2010", new[] { "Štrumbelj, E.", "Kononenko, I." }, 2010,
            "An Efficient Explanation of Individual Classifications using Game Theory", "Journal of Machine Learning Research 11: 1–18",
            "https://jmlr.org/papers/v11/strumbelj10a.html"),
        new("ribeiro2016", new[] { "Ribeiro, M. T.", "Singh, S.", "Guestrin, C." }, 2016,
            "\"Why Should I Trust You?\": Explaining the Predictions of Any Classifier", "KDD 2016", "arXiv:1602.04938"),

        // ---- Evaluating attributions -----------------------------------------------------------------------------
        new("adebayo2018", new[] { "Adebayo, J.", "Gilmer, J.", "Muelly, M.", "Goodfellow, I.", "Hardt, M.", "Kim, B." }, 2018,
            "Sanity Checks for Saliency Maps", "NeurIPS 2018", "arXiv:1810.03292"),
        new("petsiuk2018", new[] { "Petsiuk, V.", "Das, A.", "Saenko, K." }, 2018,
            "RISE: Randomized Input Sampling for Explanation of Black-box Models", "BMVC 2018", "arXiv:1806.07421"),
        new("yeh2019", new[] { "Yeh, C.-K.", "Hsieh, C.-Y.", "Suggala, A. S.", "Inouye, D. I.", "Ravikumar, P." }, 2019,
            "On the (In)fidelity and Sensitivity of Explanations", "NeurIPS 2019", "arXiv:1901.09392"),

        // ---- Features, neurons and circuits ----------------------------------------------------------------------
        new("olah2017", new[] { "Olah, C.", "Mordvintsev, A.", "Schubert, L." }, 2017,
            "Feature Visualization", "Distill", "doi:10.23915/distill.00007"),
        new("olah2018", new[] { "Olah, C.", "Satyanarayan, A.", "Johnson, I.", "Carter, S.", "Schubert, L.", "Ye, K.", "Mordvintsev, A." }, 2018,
            "The Building Blocks of Interpretability", "Distill", "doi:10.23915/distill.00010"),
        new("cammarata2020", new[] { "Cammarata, N.", "Goh, G.", "Carter, S.", "Schubert, L.", "Petrov, M.", "Olah, C." }, 2020,
            "Curve Detectors", "Distill", "doi:10.23915/distill.00024.003"),
        new("voss2021", new[] { "Voss, C.", "Cammarata, N.", "Goh, G.", "Petrov, M.", "Schubert, L.", "Egan, B.", "Lim, S. K.", "Olah, C." }, 2021,
            "Visualizing Weights", "Distill", "doi:10.23915/distill.00024.007"),
        new("kingma2014", new[] { "Kingma, D. P.", "Ba, J." }, 2014,
            "Adam: A Method for Stochastic Optimization", "ICLR 2015", "arXiv:1412.6980"),

        // ---- Causal interventions on activations -----------------------------------------------------------------
        new("vig2020", new[] { "Vig, J.", "Gehrmann, S.", "Belinkov, Y.", "Qian, S.", "Nevo, D.", "Singer, Y.", "Shieber, S." }, 2020,
            "Investigating Gender Bias in Language Models Using Causal Mediation Analysis", "NeurIPS 2020", "arXiv:2004.12265"),
        new("meng2022", new[] { "Meng, K.", "Bau, D.", "Andonian, A.", "Belinkov, Y." }, 2022,
            "Locating and Editing Factual Associations in GPT", "NeurIPS 2022", "arXiv:2202.05262"),

        // ---- Learning dynamics -----------------------------------------------------------------------------------
        new("saxe2014", new[] { "Saxe, A. M.", "McClelland, J. L.", "Ganguli, S." }, 2014,
            "Exact solutions to the nonlinear dynamics of learning in deep linear neural networks", "ICLR 2014", "arXiv:1312.6120"),
        new("saxe2019", new[] { "Saxe, A. M.", "McClelland, J. L.", "Ganguli, S." }, 2019,
            "A mathematical theory of semantic development in deep neural networks", "PNAS 116(23): 11537–11546",
            "doi:10.1073/pnas.1820226116"),
        new("kriegeskorte2008", new[] { "Kriegeskorte, N.", "Mur, M.", "Bandettini, P." }, 2008,
            "Representational similarity analysis – connecting the branches of systems neuroscience", "Frontiers in Systems Neuroscience 2: 4",
            "doi:10.3389/neuro.06.004.2008"),
        new("benaychgeorges2012", new[] { "Benaych-Georges, F.", "Nadakuditi, R. R." }, 2012,
            "The singular values and vectors of low rank perturbations of large rectangular random matrices", "Journal of Multivariate Analysis 111: 120–135",
            "arXiv:1103.2221"),

        // ---- Networks and training -------------------------------------------------------------------------------
        new("rumelhart1986", new[] { "Rumelhart, D. E.", "Hinton, G. E.", "Williams, R. J." }, 1986,
            "Learning representations by back-propagating errors", "Nature 323: 533–536", "doi:10.1038/323533a0"),
    };

    private static readonly Dictionary<string, Reference> ByKey = Entries.ToDictionary(e => e.Key, StringComparer.Ordinal);

    /// <summary>Every entry, in the order above (by topic).</summary>
    public static IReadOnlyList<Reference> All => Entries;

    /// <summary>True when <paramref name="key"/> names an entry.</summary>
    public static bool Contains(string key) => key is not null && ByKey.ContainsKey(key);

    /// <summary>The entry of <paramref name="key"/>.</summary>
    /// <exception cref="ArgumentException">No entry has this key (the message lists the keys).</exception>
    public static Reference Get(string key)
    {
        ArgumentNullException.ThrowIfNull(key);
        return ByKey.TryGetValue(key, out var entry)
            ? entry
            : throw new ArgumentException($"No bibliography entry '{key}'; the keys are {string.Join(", ", ByKey.Keys)}.", nameof(key));
    }
}
