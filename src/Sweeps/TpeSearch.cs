using Distributed.Grains.Abstractions.Sweeps;
using System.Globalization;
using System.Text.Json.Nodes;
using Distributed.Grains.Abstractions.Training;

namespace Distributed.Sweeps;

/// <summary>
/// A TPE sweep's next configuration from what its trials did so far: each proposed configuration is a point whose
/// loss is the mean best objective of its finished trials (those stopped early count with what they reached, as in
/// BOHB; negated when higher is better); configurations still running count as the worst (the constant liar).
/// Proposal k draws from its own seeded generator, so the same spec proposes the same sequence when trials finish
/// in the same order, and a restarted sweep goes on from the proposals in its record.
/// </summary>
public static class TpeSearch
{
    public static IReadOnlyList<string> Propose(SweepSpec sweep, IReadOnlyList<IReadOnlyList<string>> proposals, IReadOnlyList<SweepTrial> trials, int attempt = 0)
    {
        var space = sweep.Search.Space;
        // Grouped once: a sweep of thousands of configurations must not scan every trial for each of them.
        var byConfiguration = trials.ToLookup(t => t.Configuration);
        var observations = proposals.Select((p, c) => new TpeObservation(Point(space, p), Loss(sweep, byConfiguration[c + 1].ToList()))).ToList();
        var random = new Random(unchecked((int)(sweep.Search.Seed * 0x9E3779B97F4A7C15UL >> 33) ^ (proposals.Count * 7919 + attempt * 104729)));
        return Values(space, TreeParzenEstimator.Propose(space, observations, new TpeSettings(sweep.Search.StartupTrials, sweep.Search.Candidates, sweep.Search.Multivariate), random));
    }

    static double? Loss(SweepSpec sweep, IReadOnlyList<SweepTrial> trials)
    {
        // Still running (or queued, or paused at a rung): the liar. Failed or diverged without a value: the worst too.
        if (trials.Count == 0 || trials.Any(t => !t.IsFinished)) return null;
        var finished = trials.Where(t => t.State is TrialState.Completed or TrialState.StoppedEarly && t.Best is not null).ToList();
        if (finished.Count == 0) return null;
        double mean = finished.Average(t => t.Best!.Value);
        return sweep.Objective.Direction == ObjectiveMode.Max ? -mean : mean;
    }

    /// <summary>A configuration's values (JSON, one per option) as the sampler's coordinates.</summary>
    public static double[] Point(IReadOnlyList<SearchDimension> space, IReadOnlyList<string> values) =>
        space.Select((d, i) => d.Kind switch
        {
            DimensionKind.Values => Math.Max(0, d.Values.ToList().IndexOf(values[i])),
            DimensionKind.LogUniform => Math.Log(Number(values[i])),
            _ => Number(values[i]),
        }).ToArray();

    /// <summary>The sampler's coordinates as values the spec takes: a listed value, a number, a whole number.</summary>
    public static IReadOnlyList<string> Values(IReadOnlyList<SearchDimension> space, double[] point) =>
        space.Select((d, i) => d.Kind switch
        {
            DimensionKind.Values => d.Values[(int)point[i]],
            DimensionKind.LogUniform => JsonValue.Create(Math.Exp(point[i])).ToJsonString(),
            DimensionKind.IntRange => JsonValue.Create((long)point[i]).ToJsonString(),
            _ => JsonValue.Create(point[i]).ToJsonString(),
        }).ToList();

    static double Number(string json) => double.Parse(OptionBinder.Text(JsonNode.Parse(json)!), NumberStyles.Float, CultureInfo.InvariantCulture);
}
