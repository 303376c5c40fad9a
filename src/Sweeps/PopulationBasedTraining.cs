using System.Globalization;
using System.Text.Json.Nodes;
using Distributed.Grains.Abstractions.Sweeps;
using Distributed.Grains.Abstractions.Training;

namespace Distributed.Sweeps;

/// <summary>One member of a PBT population as a perturbation sees it: its number, its objective now, and its values.</summary>
public sealed record PbtMember(int Number, double Score, IReadOnlyList<string> Values);

/// <summary>
/// Population-based training's rules (Jaderberg et al. 2017, as Ray Tune's PopulationBasedTraining runs them, in
/// synchronous generations): which options may change mid-run, where members pause, and at each pause who copies
/// whom and which values it explores. Deterministic in the search seed and the generation, so a restarted sweep
/// decides the same.
/// </summary>
public static class PopulationBasedTraining
{
    /// <summary>Options a running member can change without changing its weights' shapes.</summary>
    public static readonly IReadOnlyList<string> MutablePaths =
    [
        "training.learningRate", "model.dropout", "model.recurrentDropout", "training.teacherForcing.initial",
        "training.clipThreshold", "training.labelSmoothing",
    ];

    /// <summary>What is wrong with a PBT sweep beyond its fields' own ranges: each problem names its field.</summary>
    public static IEnumerable<string> Problems(SweepSpec spec)
    {
        if (spec.Search?.Method != SearchMethod.Pbt || spec.Schedule is null) yield break;
        var search = spec.Search;
        if (spec.MaxConcurrent < search.Population)
            yield return $"maxConcurrent: {spec.MaxConcurrent} is below search.population ({search.Population}): PBT trains the whole population at once";
        if ((search.Space ?? []).Count == 0) yield return "search.space: PBT needs at least one mutable option to explore";
        foreach (var d in search.Space ?? [])
            if (d?.Path is { } path && !MutablePaths.Contains(path))
                yield return $"search.space.{d.Key}: {path} cannot change mid-run; PBT explores only {string.Join(", ", MutablePaths)}";
        if (spec.Schedule.EvaluateEvery > 0 && search.PerturbationInterval % spec.Schedule.EvaluateEvery != 0)
            yield return $"search.perturbationInterval: {search.PerturbationInterval} must be a multiple of schedule.evaluateEvery ({spec.Schedule.EvaluateEvery}): members are ranked on an evaluation at each perturbation";
        if (search.PerturbationInterval >= spec.Schedule.Steps)
            yield return $"search.perturbationInterval: {search.PerturbationInterval} must be below schedule.steps ({spec.Schedule.Steps}): the first perturbation comes before the end";
        if (spec.EarlyStopping is { Rule: not StoppingRule.None })
            yield return "earlyStopping.rule: must be none with search.method pbt: the population replaces its weak members itself";
        if (spec.Repeats != 1) yield return "repeats: must be 1 with search.method pbt: each member is its own seed";
        if (spec.Confirm is not null) yield return "confirm: not with search.method pbt: a member's configuration changes as it trains";
    }

    /// <summary>Steps at which the population pauses to be perturbed: every interval before the end.</summary>
    public static IReadOnlyList<long> Boundaries(SweepSpec spec)
    {
        var list = new List<long>();
        for (long at = spec.Search.PerturbationInterval; at < spec.Schedule.Steps; at += spec.Search.PerturbationInterval) list.Add(at);
        return list;
    }

    /// <summary>Where a member at <paramref name="step"/> pauses next; null runs it to the end.</summary>
    public static long? PauseAfter(SweepSpec spec, long step) => Boundaries(spec).Cast<long?>().FirstOrDefault(b => b > step);

    /// <summary>Generation number of a boundary step (1 for the first), or 0 when it is none.</summary>
    public static int GenerationAt(SweepSpec spec, long step) =>
        step > 0 && step % spec.Search.PerturbationInterval == 0 && step < spec.Schedule.Steps ? (int)(step / spec.Search.PerturbationInterval) : 0;

    /// <summary>
    /// The exploits of one perturbation: members ranked by the objective; each of the bottom quantile (the top
    /// quantile's size, ⌈n·fraction⌉ but at most half) copies a member drawn from the top quantile and explores its
    /// values. Members in between go on unchanged.
    /// </summary>
    public static IReadOnlyList<PbtExploit> Perturb(SweepSpec spec, int generation, long step, IReadOnlyList<PbtMember> members)
    {
        if (members.Count < 2) return [];
        var objective = spec.Objective;
        // Best first; a NaN score (a member with no evaluation) ranks last; ties by number so the order is total.
        var ranked = members.OrderBy(m => double.IsNaN(m.Score) ? 1 : 0)
            .ThenBy(m => objective.Direction == ObjectiveMode.Min ? m.Score : -m.Score).ThenBy(m => m.Number).ToList();
        int quantile = Math.Min(members.Count / 2, Math.Max(1, (int)Math.Ceiling(members.Count * spec.Search.QuantileFraction)));
        var top = ranked.Take(quantile).ToList();
        var random = new Random(unchecked((int)(spec.Search.Seed * 0x9E3779B97F4A7C15UL >> 35) ^ generation * 104729));
        var exploits = new List<PbtExploit>();
        foreach (var loser in ranked.Skip(ranked.Count - quantile).OrderBy(m => m.Number))
        {
            var winner = top[random.Next(top.Count)];
            var values = Explore(spec, winner.Values, random);
            exploits.Add(new PbtExploit(generation, step, loser.Number, winner.Number, loser.Score, winner.Score, values));
        }
        return exploits;
    }

    /// <summary>
    /// Each option of <paramref name="values"/> explored: drawn afresh with the resample probability, else a number
    /// scaled by 0.8 or 1.2 (within its range) or a choice moved to a neighbour. A result the trial spec refuses
    /// keeps the values it started from.
    /// </summary>
    public static IReadOnlyList<string> Explore(SweepSpec spec, IReadOnlyList<string> values, Random random)
    {
        var space = spec.Search.Space;
        var explored = new List<string>(values.Count);
        for (int i = 0; i < space.Count; i++)
        {
            var d = space[i];
            var current = JsonNode.Parse(values[i]);
            JsonNode? next;
            if (random.NextDouble() < spec.Search.ResampleProbability) next = SweepPlan.Draw(d, random);
            else if (d.Kind == DimensionKind.Values)
            {
                // By text: a YAML list holds "0.1" where a value explored before may hold 0.1.
                int at = Math.Max(0, d.Values.ToList().FindIndex(v => TextOf(JsonNode.Parse(v)) == TextOf(current)));
                int moved = Math.Clamp(at + (random.Next(2) == 0 ? -1 : 1), 0, d.Values.Count - 1);
                next = JsonNode.Parse(d.Values[moved]);
            }
            else
            {
                double number = double.TryParse(TextOf(current), NumberStyles.Float, CultureInfo.InvariantCulture, out var n) ? n : d.Min;
                double scaled = Math.Clamp(number * (random.Next(2) == 0 ? 0.8 : 1.2), d.Min, d.Max);
                next = d.Kind == DimensionKind.IntRange ? JsonValue.Create((long)Math.Round(scaled)) : JsonValue.Create(scaled);
            }
            explored.Add(next?.ToJsonString() ?? "null");
        }
        return Configure(spec, explored, 0).Problems.Count == 0 ? explored : values;
    }

    static string TextOf(JsonNode? node) => node is null ? "null" : OptionBinder.Text(node);

    /// <summary>The base trial with <paramref name="values"/> (JSON, one per option of the space) and the member's seed.</summary>
    public static (TrialSpec Spec, IReadOnlyList<string> Problems) Configure(SweepSpec spec, IReadOnlyList<string> values, ulong seed)
    {
        var trial = spec.BaseTrial;
        var problems = new List<string>();
        for (int i = 0; i < spec.Search.Space.Count; i++)
            trial = SpecPatch.Apply(trial, spec.Search.Space[i].Path, JsonNode.Parse(values[i]), $"search.space.{spec.Search.Space[i].Key}", problems);
        problems.AddRange(trial.Validate(""));
        return (trial with { Schedule = trial.Schedule with { Seed = seed } }, problems);
    }

    /// <summary>Values as they read in tables, one per option.</summary>
    public static IReadOnlyList<FactorValue> Factors(SweepSpec spec, IReadOnlyList<string> values) =>
        spec.Search.Space.Select((d, i) => new FactorValue(d.Key, SweepPlan.Display(JsonNode.Parse(values[i])))).ToList();

    /// <summary>
    /// The schedule a member followed: from step 0 its first values, then at each exploit of its own line the values
    /// it took. A member that copied another inherits that member's past too, so the line is followed back through
    /// the members it copied.
    /// </summary>
    public static IReadOnlyList<(long From, IReadOnlyList<string> Values, int Member)> Schedule(
        int member, IReadOnlyDictionary<int, IReadOnlyList<string>> initial, IReadOnlyList<PbtExploit> exploits)
    {
        var segments = new List<(long, IReadOnlyList<string>, int)>();
        long upTo = long.MaxValue;
        int current = member;
        while (true)
        {
            // The newest exploit of this line before the point we are tracing back from.
            var last = exploits.Where(e => e.Trial == current && e.Step < upTo).MaxBy(e => e.Step);
            if (last is null)
            {
                segments.Add((0, initial[current], current));
                break;
            }
            segments.Add((last.Step, last.Values, current));
            upTo = last.Step;
            current = last.From;
        }
        segments.Reverse();
        return segments;
    }

    /// <summary>
    /// The schedule member <paramref name="member"/> of a PBT sweep followed, as table values from each step on;
    /// null for other sweeps. Its first values are the seeded draw the sweep started from.
    /// </summary>
    public static IReadOnlyList<ScheduleStretch>? ScheduleOf(SweepStatus sweep, int member)
    {
        if (sweep.Spec.Search.Method != SearchMethod.Pbt) return null;
        var initial = SweepPlan.Expand(sweep.Spec).Trials.ToDictionary(t => t.Number, t => t.Values);
        if (!initial.ContainsKey(member)) return null;
        return Schedule(member, initial, sweep.Exploits)
            .Select(s => new ScheduleStretch(s.From, s.Member, Factors(sweep.Spec, s.Values), s.Values.Select(Number).ToList())).ToList();
    }

    /// <summary>"0: learningRate=0.001; 200: learningRate=0.0012", a schedule on one line.</summary>
    public static string Describe(IReadOnlyList<ScheduleStretch> schedule) =>
        string.Join("; ", schedule.Select(s => $"{s.From}: {string.Join(" ", s.Values.Select(v => $"{v.Factor}={v.Value}"))}"));

    /// <summary>A value as it reads in tables.</summary>
    public static string Display(string json) => SweepPlan.Display(JsonNode.Parse(json));

    static double? Number(string json) => double.TryParse(TextOf(JsonNode.Parse(json)), NumberStyles.Float, CultureInfo.InvariantCulture, out var v) ? v : null;
}

/// <summary>
/// A stretch of a PBT member's schedule: from which step on its line trained with which values (numbers, where they
/// are), and in which member's trial that stretch ran (a line crosses members where it copied).
/// </summary>
public sealed record ScheduleStretch(long From, int Member, IReadOnlyList<FactorValue> Values, IReadOnlyList<double?> Numbers);
