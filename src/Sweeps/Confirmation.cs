using Distributed.Grains.Abstractions.Sweeps;
using Distributed.Grains.Abstractions.Training;
using Distributed.Options;

namespace Distributed.Sweeps;

/// <summary>One configuration of the confirmation stage: its search objective and what its fresh seeds gave.</summary>
public sealed record ConfirmedConfiguration(
    int Configuration, IReadOnlyList<FactorValue> Factors, double Search, int Seeds, int Completed, MeanInterval? Validation, MeanInterval? Test)
{
    public string Label => $"configuration {Configuration}" + (Factors.Count == 0 ? "" : $" ({string.Join(", ", Factors.Select(f => $"{f.Factor}={f.Value}"))})");
}

/// <summary>
/// The confirmation stage's answer: the configurations ranked by their mean over the fresh seeds, the leader's lead
/// over the runner-up (paired by seed, with its 95% interval), and the winner only when that interval excludes 0.
/// </summary>
public sealed record ConfirmationResult(IReadOnlyList<ConfirmedConfiguration> Ranked, int? Winner, PairedEffect? Lead, bool Finished, string Verdict);

/// <summary>Chooses the configurations to confirm, plans their trials, and judges what they gave.</summary>
public static class Confirmation
{
    /// <summary>The search's best <paramref name="top"/> configurations by their mean best objective over their seeds, best first.</summary>
    public static IReadOnlyList<int> Choose(IReadOnlyList<SweepTrial> trials, Objective objective, int top)
    {
        var means = trials.Where(t => !t.Confirmation && t.Best is { } b && double.IsFinite(b) && t.State is TrialState.Completed or TrialState.StoppedEarly)
            .GroupBy(t => t.Configuration)
            .Select(g => (Configuration: g.Key, Mean: g.Average(t => t.Best!.Value)));
        var ranked = objective.Direction == ObjectiveMode.Max ? means.OrderByDescending(m => m.Mean) : means.OrderBy(m => m.Mean);
        return ranked.ThenBy(m => m.Configuration).Take(top).Select(m => m.Configuration).ToList();
    }

    /// <summary>
    /// The confirmation trials, numbered after the search's: for each chosen configuration, seeds schedule.seed +
    /// repeats + s (s below confirm.seeds), as repeat numbers repeats + s, so a seed is one repeat number sweep-wide.
    /// </summary>
    public static IReadOnlyList<SweepTrial> Plan(SweepSpec spec, string sweepId, IReadOnlyList<SweepTrial> trials)
    {
        var confirm = spec.Confirm ?? throw new ArgumentException("the sweep has no confirm stage");
        int number = trials.Count;
        var planned = new List<SweepTrial>();
        foreach (var configuration in Choose(trials, spec.Objective, confirm.Top))
        {
            var factors = trials.First(t => t.Configuration == configuration).Factors;
            for (int s = 0; s < confirm.Seeds; s++)
            {
                int repeat = spec.Repeats + s;
                planned.Add(new SweepTrial
                {
                    Number = ++number, TrialId = $"{sweepId}/{number}", Configuration = configuration, Factors = factors, Repeat = repeat,
                    Seed = spec.Schedule.Seed + (ulong)repeat, State = TrialState.Queued, Steps = spec.Schedule.Steps, Confirmation = true,
                });
            }
        }
        return planned;
    }

    /// <summary>What the confirmation trials say so far; null when the sweep has none (yet).</summary>
    public static ConfirmationResult? Of(SweepStatus sweep)
    {
        var confirming = sweep.Trials.Where(t => t.Confirmation).ToList();
        if (confirming.Count == 0) return null;
        var objective = sweep.Spec.Objective;
        var range = MetricRange.Of(objective.Metric);
        static bool Done(SweepTrial t) => t.State == TrialState.Completed && t.Best is { } b && double.IsFinite(b);
        var configurations = confirming.GroupBy(t => t.Configuration).Select(g =>
        {
            var done = g.Where(Done).ToList();
            var search = sweep.Trials.Where(t => !t.Confirmation && t.Configuration == g.Key && t.Best is not null).Select(t => t.Best!.Value).DefaultIfEmpty(double.NaN).Average();
            var tests = done.Where(t => t.Test is not null).Select(t => t.Test!.Value).ToList();
            return new ConfirmedConfiguration(g.Key, g.First().Factors, search, g.Count(), done.Count,
                done.Count == 0 ? null : MeanInterval.Of(done.Select(t => t.Best!.Value).ToList()).Within(range.Min, range.Max),
                tests.Count == 0 ? null : MeanInterval.Of(tests).Within(range.Min, range.Max));
        }).ToList();
        var ranked = (objective.Direction == ObjectiveMode.Max
            ? configurations.OrderByDescending(c => c.Validation?.Mean ?? double.NegativeInfinity)
            : configurations.OrderBy(c => c.Validation?.Mean ?? double.PositiveInfinity)).ThenBy(c => c.Configuration).ToList();
        bool finished = confirming.All(t => t.IsFinished);
        if (ranked.Count < 2)
            return new ConfirmationResult(ranked, null, null, finished, "one configuration confirmed: nothing to compare it with");

        // The leader minus the runner-up, seed by seed: each seed's data order and initial weights are shared by both.
        var (first, second) = (ranked[0], ranked[1]);
        var bySeed = confirming.Where(Done).GroupBy(t => t.Repeat)
            .Select(g => (Leader: g.FirstOrDefault(t => t.Configuration == first.Configuration), Runner: g.FirstOrDefault(t => t.Configuration == second.Configuration)))
            .Where(p => p.Leader is not null && p.Runner is not null)
            .Select(p => p.Leader!.Best!.Value - p.Runner!.Best!.Value).ToList();
        if (bySeed.Count == 0)
            return new ConfirmationResult(ranked, null, null, finished, finished ? "no seed finished for both leading configurations: no winner" : "confirmation running");
        var ci = MeanInterval.Of(bySeed).Within(-range.Span, range.Span);
        var lead = new PairedEffect("configuration", second.Label, first.Label, bySeed.Count, ci.Mean, ci.Low, ci.High);
        bool separated = bySeed.Count >= 2 && (ci.Low > 0 || ci.High < 0) && objective.Better(first.Validation!.Mean, second.Validation!.Mean);
        string verdict = !finished ? $"confirmation running ({confirming.Count(t => t.IsFinished)}/{confirming.Count} trials): so far {lead.Verdict(objective)}"
            : separated ? $"winner: {first.Label}; {lead.Verdict(objective)}"
            : $"no winner: the top configurations are indistinguishable over {bySeed.Count} seed{(bySeed.Count == 1 ? "" : "s")} ({lead.Verdict(objective)})";
        return new ConfirmationResult(ranked, finished && separated ? first.Configuration : null, lead, finished, verdict);
    }
}
