using Distributed.Grains.Abstractions.Training;
using Distributed.Options;

namespace Distributed.Grains.Abstractions.Sweeps;

[GenerateSerializer, Alias("SearchMethod")]
public enum SearchMethod
{
    /// <summary>Every combination of the listed values.</summary>
    Grid,
    /// <summary>`samples` seeded draws from the space.</summary>
    Random,
    /// <summary>`samples` configurations proposed one by one by the tree-structured Parzen estimator, learning from the trials so far.</summary>
    Tpe,
    /// <summary>
    /// Population-based training (Jaderberg et al. 2017): `population` trials train at once; every
    /// `perturbationInterval` steps the bottom quantile copies a top member's weights and optimizer state and
    /// perturbs its mutable options, so the population discovers a schedule.
    /// </summary>
    Pbt,
}

[GenerateSerializer, Alias("DimensionKind")]
public enum DimensionKind
{
    /// <summary>One of the listed values (grid: each of them).</summary>
    Values,
    /// <summary>Uniform in [min, max].</summary>
    Uniform,
    /// <summary>log-uniform in [min, max] (min &gt; 0).</summary>
    LogUniform,
    /// <summary>A whole number in [min, max] (grid: each of them).</summary>
    IntRange,
}

/// <summary>One swept option: its path in the trial spec ("model.layers") and the values it takes.</summary>
[GenerateSerializer, Immutable, Alias("SearchDimension")]
public sealed record SearchDimension
{
    /// <summary>Full path in the trial spec, e.g. "model.layers" or "training.teacherForcing".</summary>
    [Id(0)] public required string Path { get; init; }
    /// <summary>The key as written in the spec, for messages and tables.</summary>
    [Id(1)] public required string Key { get; init; }
    [Id(2)] public DimensionKind Kind { get; init; }
    /// <summary>For <see cref="DimensionKind.Values"/>: each value as JSON (a number, a string, or an object for a nested option).</summary>
    [Id(3)] public IReadOnlyList<string> Values { get; init; } = [];
    [Id(4)] public double Min { get; init; }
    [Id(5)] public double Max { get; init; }
}

[GenerateSerializer, Immutable, Alias("SearchOptions")]
public sealed record SearchOptions
{
    [Id(0)] public SearchMethod Method { get; init; } = SearchMethod.Grid;
    /// <summary>Random search: configurations drawn.</summary>
    [Id(1)] public int Samples { get; init; } = 8;
    /// <summary>Random search: the seed of the draws.</summary>
    [Id(2)] public ulong Seed { get; init; } = 1;
    [Id(3)] public IReadOnlyList<SearchDimension> Space { get; init; } = [];
    /// <summary>TPE: configurations drawn at random before it proposes from the densities.</summary>
    [Id(4)] public int StartupTrials { get; init; } = 10;
    /// <summary>TPE: points drawn from the good trials' density per proposal; the best by l(x)/g(x) is proposed.</summary>
    [Id(5)] public int Candidates { get; init; } = 24;
    /// <summary>TPE: one joint density over every option (true), or one per option.</summary>
    [Id(6)] public bool Multivariate { get; init; } = true;
    /// <summary>PBT: members training at once (the trials of the sweep).</summary>
    [Id(7)] public int Population { get; init; } = 8;
    /// <summary>PBT: steps between two perturbations; a multiple of schedule.evaluateEvery, so members are ranked on an evaluation there.</summary>
    [Id(8)] public int PerturbationInterval { get; init; } = 200;
    /// <summary>PBT: the share of the population at the bottom that copies a member of the same share at the top.</summary>
    [Id(9)] public double QuantileFraction { get; init; } = 0.25;
    /// <summary>PBT: the chance an explored option is drawn afresh from its space instead of scaled by 0.8 or 1.2 (or moved to a neighbouring choice).</summary>
    [Id(10)] public double ResampleProbability { get; init; } = 0.25;

    /// <summary>
    /// Every problem with the search's own fields, cheap whatever a caller sent: null lists, unknown paths, NaN or
    /// huge ranges, too many or too long values. How many trials it plans is the sweeps library's to count.
    /// </summary>
    public IReadOnlyList<string> Validate(string prefix)
    {
        var errors = new OptionErrors(prefix);
        errors.Check(Enum.IsDefined(Method), "method", "must be grid, random, tpe or pbt");
        errors.Check(Method is SearchMethod.Grid or SearchMethod.Pbt || Samples is >= 1 and <= SweepLimits.MaxTrials, "samples", $"must be 1..{SweepLimits.MaxTrials}");
        errors.Check(StartupTrials is >= 1 and <= SweepLimits.MaxTrials, "startupTrials", $"must be 1..{SweepLimits.MaxTrials}");
        errors.Check(Candidates is >= 1 and <= 1000, "candidates", "must be 1..1000");
        errors.Check(Population is >= 2 and <= 256, "population", "must be 2..256");
        errors.Check(PerturbationInterval is >= 1 and <= TrialSchedule.MaxSteps, "perturbationInterval", $"must be 1..{TrialSchedule.MaxSteps}");
        errors.Check(QuantileFraction is > 0 and <= 0.5, "quantileFraction", "must be above 0 and at most 0.5 (the bottom and top shares do not overlap)");
        errors.Check(ResampleProbability is >= 0 and <= 1, "resampleProbability", "must be 0..1");
        if (Space is null)
        {
            errors.Check(false, "space", "is required (it may be empty)");
            return errors.List;
        }
        if (Space.Count > SweepLimits.MaxDimensions)
        {
            errors.Check(false, "space", $"varies {Space.Count} options; at most {SweepLimits.MaxDimensions}");
            return errors.List;
        }
        for (int i = 0; i < Space.Count; i++)
        {
            var d = Space[i];
            var key = d?.Key is { Length: > 0 and <= 200 } k && !k.Any(char.IsControl) ? k : null;
            var at = key is null ? $"space[{i}]" : $"space.{key}";
            errors.Check(d is not null, at, "must not be empty");
            if (d is null) continue;
            errors.Check(key is not null, at, "key must be 1-200 characters without control characters");
            // Whether the path names an option of the trial spec is the sweeps library's check (SweepProblems).
            errors.Check(d.Path is not null && d.Path.Length <= 200, at, "path must be 1-200 characters");
            errors.Check(Enum.IsDefined(d.Kind), at, "kind must be values, uniform, logUniform or intRange");
            if (d.Kind == DimensionKind.Values)
            {
                if (d.Values is null || d.Values.Count is 0 or > SweepLimits.MaxValues)
                {
                    errors.Check(false, at, $"needs 1..{SweepLimits.MaxValues} values");
                    continue;
                }
                for (int v = 0; v < d.Values.Count; v++)
                    if (ValueProblem(d.Values[v]) is { } problem) errors.Check(false, $"{at}[{v}]", problem);
                continue;
            }
            bool finite = double.IsFinite(d.Min) && double.IsFinite(d.Max);
            errors.Check(finite, at, "min and max must be finite numbers");
            if (!finite) continue;
            errors.Check(d.Min <= d.Max, at, $"min {d.Min} is above max {d.Max}");
            errors.Check(d.Kind != DimensionKind.LogUniform || d.Min > 0, at, "logUniform min must be > 0");
            errors.Check(d.Kind != DimensionKind.IntRange || (d.Min == Math.Floor(d.Min) && d.Max == Math.Floor(d.Max) && Math.Abs(d.Min) <= MaxWhole && Math.Abs(d.Max) <= MaxWhole),
                at, $"intRange min and max must be whole numbers within ±{MaxWhole}");
        }
        return errors.List;
    }

    /// <summary>Whole numbers a double holds exactly: an intRange's bounds stay within them.</summary>
    public const double MaxWhole = 9_007_199_254_740_992;

    static string? ValueProblem(string? json)
    {
        if (json is null) return "must not be empty";
        if (json.Length > SweepLimits.MaxValueLength) return $"is {json.Length} characters of JSON; at most {SweepLimits.MaxValueLength}";
        try
        {
            System.Text.Json.Nodes.JsonNode.Parse(json, documentOptions: new System.Text.Json.JsonDocumentOptions { MaxDepth = SweepLimits.MaxDepth });
            return null;
        }
        catch (System.Text.Json.JsonException)
        {
            return "is not a JSON value";
        }
    }
}

[GenerateSerializer, Alias("ObjectiveMetric")]
public enum ObjectiveMetric
{
    Loss,
    Perplexity,
    TokenAccuracy,
    ExactMatch,
    Bleu,
}

[GenerateSerializer, Alias("ObjectiveMode")]
public enum ObjectiveMode
{
    Min,
    Max,
}

/// <summary>What "better" means: an evaluation metric on the validation split, minimised or maximised.</summary>
[GenerateSerializer, Immutable, Alias("Objective")]
public sealed record Objective
{
    [Id(0)] public ObjectiveMetric Metric { get; init; } = ObjectiveMetric.Loss;
    /// <summary>Unset: min for loss and perplexity, max for the others.</summary>
    [Id(1)] public ObjectiveMode? Mode { get; init; }

    public ObjectiveMode Direction => Mode ?? (Metric is ObjectiveMetric.Loss or ObjectiveMetric.Perplexity ? ObjectiveMode.Min : ObjectiveMode.Max);

    public double Of(EvaluationMetrics e) => Metric switch
    {
        ObjectiveMetric.Loss => e.Loss,
        ObjectiveMetric.Perplexity => e.Perplexity,
        ObjectiveMetric.TokenAccuracy => e.TokenAccuracy,
        ObjectiveMetric.ExactMatch => e.ExactMatch,
        _ => e.Bleu,
    };

    /// <summary>True when <paramref name="a"/> is strictly better than <paramref name="b"/>.</summary>
    public bool Better(double a, double b) => Direction == ObjectiveMode.Min ? a < b : a > b;

    public IReadOnlyList<string> Validate(string prefix)
    {
        var errors = new OptionErrors(prefix);
        errors.Check(Enum.IsDefined(Metric), "metric", "must be loss, perplexity, tokenAccuracy, exactMatch or bleu");
        errors.Check(Mode is null || Enum.IsDefined(Mode.Value), "mode", "must be min or max");
        return errors.List;
    }
}

[GenerateSerializer, Alias("StoppingRule")]
public enum StoppingRule
{
    None,
    /// <summary>Asynchronous successive halving (Li et al. 2020): trials pause at each rung; the top 1/reductionFactor are promoted.</summary>
    Asha,
    /// <summary>Stop a trial whose best so far is worse than the median of the others at the same step (Golovin et al. 2017).</summary>
    Median,
}

[GenerateSerializer, Immutable, Alias("EarlyStopping")]
public sealed record EarlyStopping
{
    [Id(0)] public StoppingRule Rule { get; init; } = StoppingRule.None;
    /// <summary>Steps every trial runs before it can be stopped (ASHA's first rung).</summary>
    [Id(1)] public int GracePeriod { get; init; } = 200;
    /// <summary>ASHA's η: rungs at grace × η^k steps; the top 1/η at a rung go on.</summary>
    [Id(2)] public int ReductionFactor { get; init; } = 3;
    /// <summary>Median rule: trials that must have reached a step before it judges anyone there.</summary>
    [Id(3)] public int MinTrials { get; init; } = 3;
}

/// <summary>A sweep: a base trial, the options it varies, how many seeds, how many at once, and what "best" means.</summary>
[GenerateSerializer, Immutable, Alias("SweepSpec")]
public sealed record SweepSpec
{
    [Id(0)] public string? Name { get; init; }
    [Id(1)] public DataOptions Data { get; init; } = new();
    [Id(2)] public ModelOptions Model { get; init; } = new();
    [Id(3)] public TrainingOptions Training { get; init; } = new();
    [Id(4)] public DataParallelOptions Parallel { get; init; } = new();
    [Id(5)] public TrialSchedule Schedule { get; init; } = new();
    [Id(6)] public SearchOptions Search { get; init; } = new();
    /// <summary>Seeds per configuration (schedule.seed, +1, ...).</summary>
    [Id(7)] public int Repeats { get; init; } = 1;
    /// <summary>Trials running at once.</summary>
    [Id(8)] public int MaxConcurrent { get; init; } = 2;
    [Id(9)] public Objective Objective { get; init; } = new();
    [Id(10)] public EarlyStopping EarlyStopping { get; init; } = new();
    /// <summary>Re-run the top configurations with fresh seeds after the search, and declare a winner only if it holds.</summary>
    [Id(11)] public ConfirmOptions? Confirm { get; init; }

    /// <summary>
    /// True when both specs ask for the same sweep. Record equality compares lists by reference, and a spec that
    /// crossed the wire has new lists, so this compares their JSON.
    /// </summary>
    public bool SameAs(SweepSpec other) =>
        System.Text.Json.JsonSerializer.Serialize(this) == System.Text.Json.JsonSerializer.Serialize(other);

    /// <summary>The trial every configuration starts from; its best checkpoint is chosen by the sweep's objective.</summary>
    public TrialSpec BaseTrial => new() { Data = Data, Model = Model, Training = Training, Parallel = Parallel, Schedule = Schedule is null || Objective is null ? Schedule! : Schedule with { SelectBy = Objective } };

    /// <summary>Every problem with the sweep's own fields (the trials' are checked when the spec is expanded).</summary>
    public IReadOnlyList<string> Validate()
    {
        var errors = new OptionErrors("sweep");
        errors.Check(Name is null || Name.Length <= SweepLimits.MaxNameLength, "name", $"must be at most {SweepLimits.MaxNameLength} characters");
        errors.Check(Name is null || !Name.Any(char.IsControl), "name", "must not contain control characters (escape codes, line breaks)");
        errors.Check(Repeats is >= 1 and <= 100, "repeats", "must be 1..100");
        errors.Check(MaxConcurrent is >= 1 and <= 256, "maxConcurrent", "must be 1..256");
        errors.Check(Search is not null, "search", "is required");
        errors.Check(Objective is not null, "objective", "is required");
        errors.Check(EarlyStopping is not null, "earlyStopping", "is required");
        if (Search is not null) errors.Add(Search.Validate("sweep.search"));
        if (Objective is not null) errors.Add(Objective.Validate("sweep.objective"));
        if (Confirm is not null) errors.Add(Confirm.Validate("sweep.confirm"));
        if (EarlyStopping is null || Schedule is null) return errors.List;
        errors.Check(Enum.IsDefined(EarlyStopping.Rule), "earlyStopping.rule", "must be none, asha or median");
        errors.Check(EarlyStopping.GracePeriod is >= 1 and <= TrialSchedule.MaxSteps, "earlyStopping.gracePeriod", $"must be 1..{TrialSchedule.MaxSteps}");
        errors.Check(EarlyStopping.ReductionFactor is >= 2 and <= 100, "earlyStopping.reductionFactor", "must be 2..100");
        errors.Check(EarlyStopping.MinTrials is >= 1 and <= SweepLimits.MaxTrials, "earlyStopping.minTrials", $"must be 1..{SweepLimits.MaxTrials}");
        errors.Check(EarlyStopping.Rule != StoppingRule.Median || EarlyStopping.GracePeriod >= Schedule.EvaluateEvery, "earlyStopping.gracePeriod",
            $"must be at least schedule.evaluateEvery ({Schedule.EvaluateEvery}): the median rule judges trials on their evaluations");
        errors.Check(EarlyStopping.Rule != StoppingRule.Asha || EarlyStopping.GracePeriod < Schedule.Steps, "earlyStopping.gracePeriod",
            $"must be below schedule.steps ({Schedule.Steps}): ASHA's first rung comes before the end");
        return errors.List;
    }
}
