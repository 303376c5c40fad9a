using Distributed.Grains.Abstractions.Sweeps;
using System.Globalization;
using System.Text.Json.Nodes;
using Distributed.Grains.Abstractions.Storage;
using Distributed.Grains.Abstractions.Training;
using Distributed.Options;

namespace Distributed.Sweeps;


/// <summary>One trial of a sweep: its number, its configuration, which repeat (seed) it is, and its full spec.</summary>
/// <remarks><see cref="Values"/>: each swept option's value as JSON, in the order of the space.</remarks>
public sealed record PlannedTrial(int Number, int Configuration, IReadOnlyList<FactorValue> Factors, int Repeat, TrialSpec Spec)
{
    public IReadOnlyList<string> Values { get; init; } = [];
}

/// <summary>Expands a sweep into its trials: the grid or the seeded random draws, times the repeats.</summary>
public static class SweepPlan
{
    /// <summary>
    /// Trials the spec plans, worked out without expanding anything (grid: the product of each option's number of
    /// values; random: samples × repeats), with a problem naming the field when it is over <see cref="SweepLimits.MaxTrials"/>.
    /// Expects a spec whose own fields passed <see cref="SweepSpec.Validate"/>.
    /// </summary>
    public static (long Trials, string? Problem) Count(SweepSpec sweep)
    {
        const long over = long.MaxValue;
        if (sweep.Search.Method == SearchMethod.Pbt) return (sweep.Search.Population, null);
        if (sweep.Search.Method != SearchMethod.Grid)
        {
            long drawn = (long)sweep.Search.Samples * sweep.Repeats;
            return drawn <= SweepLimits.MaxTrials ? (drawn, null)
                : (drawn, $"search.samples: {sweep.Search.Samples} samples x {sweep.Repeats} repeats = {drawn} trials; at most {SweepLimits.MaxTrials}");
        }
        long configurations = 1;
        try
        {
            foreach (var d in sweep.Search.Space) configurations = checked(configurations * Size(d));
            long trials = checked(configurations * sweep.Repeats);
            if (trials <= SweepLimits.MaxTrials) return (trials, null);
            var field = configurations <= SweepLimits.MaxTrials ? "repeats" : "search.space";
            return (trials, $"{field}: the grid has {configurations} configurations x {sweep.Repeats} repeats = {trials} trials; at most {SweepLimits.MaxTrials}");
        }
        catch (OverflowException)
        {
            return (over, $"search.space: the grid has more than {over} trials; at most {SweepLimits.MaxTrials}");
        }
    }

    /// <summary>Values a grid takes of one option; an intRange's size computed in doubles, so [0, 2^53] cannot wrap.</summary>
    static long Size(SearchDimension d)
    {
        if (d.Kind == DimensionKind.Values) return d.Values.Count;
        double size = Math.Floor(d.Max) - Math.Ceiling(d.Min) + 1;
        return size >= long.MaxValue ? throw new OverflowException() : Math.Max(1, (long)size);
    }

    /// <summary>
    /// The trials: every grid configuration or random draw, times the repeats. TPE proposes its configurations while
    /// the sweep runs, so for it the trials are those of <paramref name="proposals"/> (each configuration's values as
    /// JSON, one per option), the ones decided so far.
    /// </summary>
    public static (IReadOnlyList<PlannedTrial> Trials, IReadOnlyList<string> Errors) Expand(SweepSpec sweep, IReadOnlyList<IReadOnlyList<string>>? proposals = null)
    {
        var errors = new List<string>();
        var dimensions = sweep.Search.Space;
        var configurations = new List<List<(SearchDimension Dimension, JsonNode? Value)>>();
        if (sweep.Search.Method == SearchMethod.Grid)
        {
            foreach (var d in dimensions.Where(d => d.Kind is DimensionKind.Uniform or DimensionKind.LogUniform))
                errors.Add($"search.space.{d.Key}: a {(d.Kind == DimensionKind.Uniform ? "uniform" : "logUniform")} range needs search.method: random");
            if (errors.Count > 0) return ([], errors);
        }
        // Counted before anything is built: a grid of four options with 100 values each would not fit in memory.
        if (Count(sweep).Problem is { } tooMany) return ([], [tooMany]);
        if (sweep.Search.Method == SearchMethod.Grid)
        {
            configurations.Add([]);
            foreach (var d in dimensions)
                configurations = configurations.SelectMany(c => GridValues(d).Select(v => c.Append((d, v)).ToList())).ToList();
        }
        else if (sweep.Search.Method == SearchMethod.Tpe)
        {
            foreach (var proposal in proposals ?? [])
                configurations.Add(dimensions.Select((d, i) => (d, JsonNode.Parse(proposal[i]))).ToList());
        }
        else
        {
            // PBT's first generation is a random draw of the population.
            int samples = sweep.Search.Method == SearchMethod.Pbt ? sweep.Search.Population : sweep.Search.Samples;
            for (int sample = 0; sample < samples; sample++)
            {
                // Each draw has its own generator, so adding samples never changes the earlier ones.
                var random = new Random(unchecked((int)(sweep.Search.Seed * 0x9E3779B97F4A7C15UL >> 33) ^ sample * 7919));
                configurations.Add(dimensions.Select(d => (d, Draw(d, random))).ToList());
            }
        }

        var trials = new List<PlannedTrial>();
        for (int c = 0; c < configurations.Count; c++)
        {
            var spec = sweep.BaseTrial;
            var local = new List<string>();
            foreach (var (dimension, value) in configurations[c]) spec = SpecPatch.Apply(spec, dimension.Path, value?.DeepClone(), $"search.space.{dimension.Key}", local);
            var factors = configurations[c].Select(p => new FactorValue(p.Dimension.Key, Display(p.Value))).ToList();
            local.AddRange(spec.Validate(""));
            if (local.Count > 0)
            {
                var described = string.Join(", ", factors.Select(f => $"{f.Factor}={f.Value}"));
                errors.AddRange(local.Select(e => $"search.space: configuration {c + 1} ({described}): {e}"));
                // A proposal keeps its place, so trial numbers stay those the sweep recorded; the sweep fails its trials.
                if (sweep.Search.Method != SearchMethod.Tpe) continue;
            }
            for (int r = 0; r < sweep.Repeats; r++)
                trials.Add(new PlannedTrial(trials.Count + 1, c + 1, factors, r,
                    // PBT's members are each their own seed; elsewhere a configuration's repeats are.
                    spec with { Schedule = spec.Schedule with { Seed = spec.Schedule.Seed + (ulong)(sweep.Search.Method == SearchMethod.Pbt ? c : r) } })
                {
                    Values = configurations[c].Select(p => p.Value?.ToJsonString() ?? "null").ToList(),
                });
        }
        return (trials, errors);
    }

    static IEnumerable<JsonNode?> GridValues(SearchDimension d) => d.Kind == DimensionKind.Values
        ? d.Values.Select(v => JsonNode.Parse(v))
        : LongRange((long)Math.Ceiling(d.Min), (long)Math.Floor(d.Max)).Select(i => (JsonNode?)JsonValue.Create(i));

    static IEnumerable<long> LongRange(long from, long to)
    {
        for (long i = from; i <= to; i++) yield return i;
    }

    /// <summary>One value of <paramref name="d"/> drawn at random from its space.</summary>
    public static JsonNode? Draw(SearchDimension d, Random random) => d.Kind switch
    {
        DimensionKind.Values => JsonNode.Parse(d.Values[random.Next(d.Values.Count)]),
        DimensionKind.Uniform => JsonValue.Create(d.Min + random.NextDouble() * (d.Max - d.Min)),
        DimensionKind.LogUniform => JsonValue.Create(Math.Exp(Math.Log(d.Min) + random.NextDouble() * (Math.Log(d.Max) - Math.Log(d.Min)))),
        // Ranges that fit an int draw as they always did, so a restarted sweep plans the same trials.
        _ when d.Max - d.Min < int.MaxValue && d.Min >= int.MinValue && d.Max <= int.MaxValue => JsonValue.Create((int)d.Min + random.Next((int)(d.Max - d.Min) + 1)),
        _ => JsonValue.Create((long)d.Min + random.NextInt64((long)(d.Max - d.Min) + 1)),
    };

    /// <summary>How a value reads in tables: scalars as written (numbers rounded, datasets by name), maps as "k=v k=v".</summary>
    public static string Display(JsonNode? value) => value switch
    {
        null => "null",
        _ when DatasetReference.IsReference(OptionBinder.Text(value)) => DatasetReference.Display(OptionBinder.Text(value)),
        JsonObject map => string.Join(" ", map.Select(p => $"{p.Key}={Display(p.Value)}")),
        JsonArray list => string.Join(",", list.Select(Display)),
        _ => double.TryParse(OptionBinder.Text(value), NumberStyles.Float, CultureInfo.InvariantCulture, out var number) && OptionBinder.Text(value).Contains('.')
            ? number.ToString("G4", CultureInfo.InvariantCulture)
            : OptionBinder.Text(value),
    };
}
