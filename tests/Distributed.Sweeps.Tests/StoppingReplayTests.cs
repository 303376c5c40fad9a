using Distributed.Grains.Abstractions.Sweeps;
using Distributed.Grains.Abstractions.Training;
using Distributed.Sweeps;

namespace Distributed.Sweeps.Tests;

public class StoppingReplayTests
{
    // Three full-length trials of 40 steps, evaluated every 10, one at a time; the objective is loss (lower is better).
    static readonly double[][] Losses = [[1.0, 0.8, 0.6, 0.5], [0.9, 0.7, 0.5, 0.4], [2.0, 1.9, 1.8, 1.7]];

    static (SweepStatus, Dictionary<int, IReadOnlyList<EvaluationMetrics>>) Recorded()
    {
        var (spec, errors) = SweepSpecReader.Read(
            "schedule: { steps: 40, evaluateEvery: 10 }\nsearch: { space: { learningRate: [0.001, 0.002, 0.003] } }\nmaxConcurrent: 1", "s.yaml");
        Assert.Empty(errors);
        var trials = Enumerable.Range(1, 3).Select(n => new SweepTrial
        {
            Number = n, TrialId = $"s/{n}", Configuration = n, Factors = [new("learningRate", $"0.00{n}")], State = TrialState.Completed,
            Step = 40, Steps = 40, Best = Losses[n - 1].Min(), Final = Losses[n - 1][^1], StartedAt = DateTimeOffset.UnixEpoch,
        }).ToList();
        var curves = trials.ToDictionary(t => t.Number, t => (IReadOnlyList<EvaluationMetrics>)Losses[t.Number - 1]
            .Select((loss, i) => new EvaluationMetrics(10 * (i + 1), loss, Math.Exp(loss), 0, 0, 0, 10)).ToList());
        return (new SweepStatus { SweepId = "s", Spec = spec!, State = SweepState.Completed, Trials = trials }, curves);
    }

    [Fact]
    public void The_median_rule_replayed_stops_the_trial_worse_than_the_others_median_at_its_first_judged_step()
    {
        var (sweep, curves) = Recorded();
        var result = StoppingReplay.Run(sweep, curves, new EarlyStopping { Rule = StoppingRule.Median, GracePeriod = 10, MinTrials = 2 });
        // Trial 1 and 2 run alone or against one other (fewer than minTrials); trial 3's 2.0 at step 10 is worse than
        // the median of 1.0 and 0.9: it stops there. 40 + 40 + 10 of 120 steps.
        Assert.Equal([(40L, TrialState.Completed), (40L, TrialState.Completed), (10L, TrialState.StoppedEarly)],
            result.Trials.Select(t => (t.ReplayedSteps, t.Replayed)));
        Assert.Equal(90, result.ReplayedSteps);
        Assert.Equal(120, result.FullSteps);
        Assert.Equal(0.25, result.Saved, 9);
        Assert.Equal(2, result.Winner);
        Assert.True(result.WinnerKept);
        Assert.Equal("the median rule (grace 10, min trials 2) would have run 90 of the 120 steps of every trial to the end (saving 25.0%); " +
                     "it would have kept the eventual winner, trial 2, to the end", result.Verdict);
    }

    [Fact]
    public void Asha_replayed_pauses_at_rungs_and_promotes_the_best_of_each()
    {
        var (sweep, curves) = Recorded();
        // Rungs at 10 and 20 with eta 2 (40 is the end). Shuffled start order; at rung 10 the first two arrivals give one
        // promotion, the best; the third arrival is judged against the first two.
        var result = StoppingReplay.Run(sweep, curves, new EarlyStopping { Rule = StoppingRule.Asha, GracePeriod = 10, ReductionFactor = 2 });
        var byTrial = result.Trials.ToDictionary(t => t.Number);
        Assert.Equal(TrialState.StoppedEarly, byTrial[3].Replayed);
        Assert.Equal(10, byTrial[3].ReplayedSteps);
        Assert.Equal(TrialState.Completed, byTrial[2].Replayed);
        Assert.Equal(40, byTrial[2].ReplayedSteps);
        Assert.True(result.WinnerKept);
        Assert.True(result.ReplayedSteps < 120);
    }
}
