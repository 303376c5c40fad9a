using Distributed.Grains.Abstractions.Training;
using Distributed.Grains.Abstractions.Sweeps;
using Distributed.Sweeps;

namespace Distributed.Sweeps.Tests;

public class StatisticsTests
{
    static readonly Objective Max = new() { Metric = ObjectiveMetric.ExactMatch };
    static readonly Objective Min = new() { Metric = ObjectiveMetric.Loss };

    [Fact]
    public void Confidence_intervals_match_values_worked_out_by_hand()
    {
        // 1..5: mean 3, s = 1.5811, se = 0.70711, t(4) = 2.776 -> 3 ± 1.9629.
        var ci = MeanInterval.Of([1, 2, 3, 4, 5]);
        Assert.Equal(3, ci.Mean, 10);
        Assert.Equal(1.9629, ci.HalfWidth, 3);
        // Two values 0.8 and 0.9: s = 0.070711, se = 0.05, t(1) = 12.706 -> 0.85 ± 0.6353.
        var pair = MeanInterval.Of([0.8, 0.9]);
        Assert.Equal(0.6353, pair.HalfWidth, 3);
        Assert.True(double.IsNaN(MeanInterval.Of([0.5]).HalfWidth));
        // Beyond the table the expansion stays close to the exact quantiles (t(40) = 2.0211, t(120) = 1.9799).
        Assert.Equal(2.0211, MeanInterval.StudentT95(40), 3);
        Assert.Equal(1.9799, MeanInterval.StudentT95(120), 3);
    }

    [Fact]
    public void Asha_rungs_grow_by_the_reduction_factor()
    {
        Assert.Equal([100L, 300, 900], EarlyStoppingRules.Rungs(new EarlyStopping { Rule = StoppingRule.Asha, GracePeriod = 100, ReductionFactor = 3 }, 1000));
    }

    [Fact]
    public void Asha_is_expected_to_run_every_trial_to_the_first_rung_and_a_third_as_many_to_each_next()
    {
        var asha = new EarlyStopping { Rule = StoppingRule.Asha, GracePeriod = 20, ReductionFactor = 3 };
        // Rungs 20, 60, 180 of 200: 27 trials to 20, 9 on to 60, 3 on to 180, the best to 200.
        Assert.Equal(27 * 20 + 9 * 40 + 3 * 120 + 1 * 20, EarlyStoppingRules.ExpectedSteps(asha, 27, 200));
        // Fewer trials than η: the best still goes on at every rung.
        Assert.Equal(2 * 20 + 1 * 180, EarlyStoppingRules.ExpectedSteps(asha, 2, 200));
        Assert.Equal(27 * 200, EarlyStoppingRules.ExpectedSteps(asha with { Rule = StoppingRule.Median }, 27, 200));
    }

    [Fact]
    public void The_steps_left_count_what_the_rule_is_expected_to_run()
    {
        static SweepTrial T(int n, TrialState state, long step) => new() { Number = n, TrialId = $"s/{n}", State = state, Step = step, Steps = 100 };
        var trials = new[] { T(1, TrialState.Completed, 100), T(2, TrialState.Running, 30), T(3, TrialState.Queued, 0) };
        // No rule: every unfinished trial to its end.
        Assert.Equal(70 + 100, EarlyStoppingRules.RemainingSteps(new EarlyStopping(), trials, 100));
        // ASHA, grace 10, eta 3 (rungs 10, 30, 90): 3 x 10 + 1 x 20 + 1 x 60 + 1 x 10 = 120 expected, 130 run so far;
        // the running trial still needs 60 steps to reach its next rung at 90.
        var asha = new EarlyStopping { Rule = StoppingRule.Asha, GracePeriod = 10, ReductionFactor = 3 };
        Assert.Equal(120, EarlyStoppingRules.ExpectedSteps(asha, 3, 100));
        Assert.Equal(60, EarlyStoppingRules.RemainingSteps(asha, trials, 100));
        Assert.Equal(120, EarlyStoppingRules.RemainingSteps(asha, trials.Select(t => t with { State = TrialState.Queued, Step = 0 }).ToList(), 100));
    }

    [Fact]
    public void Asha_promotes_the_best_floor_n_over_eta_at_a_rung()
    {
        KeyValuePair<int, double> P(int trial, double value) => new(trial, value);
        // Fewer than η at the rung: nobody goes on yet.
        Assert.Empty(EarlyStoppingRules.AshaTop([P(1, 0.9), P(2, 0.1)], 3, Max));
        // Three: the best one. Six: the best two.
        Assert.Equal([1], EarlyStoppingRules.AshaTop([P(1, 0.9), P(2, 0.1), P(3, 0.5)], 3, Max));
        Assert.Equal([4, 1], EarlyStoppingRules.AshaTop([P(1, 0.9), P(2, 0.1), P(3, 0.5), P(4, 0.95), P(5, 0.2), P(6, 0.3)], 3, Max));
        // Minimising a loss: the lowest.
        Assert.Equal([2], EarlyStoppingRules.AshaTop([P(1, 0.9), P(2, 0.1), P(3, 0.5)], 3, Min));
        // With nothing else left to run, the best one at a rung may always go on.
        Assert.Equal([1], EarlyStoppingRules.AshaTop([P(1, 0.9), P(2, 0.1)], 3, Max, atLeastOne: true));
        // A tie goes to the one recorded first.
        Assert.Equal([3], EarlyStoppingRules.AshaTop([P(3, 0.5), P(1, 0.5)], 2, Max));
    }

    [Fact]
    public void The_median_rule_compares_the_best_so_far_with_the_others_at_the_same_step()
    {
        var rule = new EarlyStopping { Rule = StoppingRule.Median, GracePeriod = 100, MinTrials = 3 };
        var history = new List<TrialPoint>
        {
            new(1, 100, 0.30), new(1, 200, 0.60),
            new(2, 100, 0.20), new(2, 200, 0.50),
            new(3, 100, 0.10), new(3, 200, 0.40),
            new(4, 100, 0.05), new(4, 200, 0.45),
        };
        // At step 200 the others' bests are 0.6, 0.5, 0.4: median 0.5. Trial 4's best is 0.45: stopped.
        Assert.True(EarlyStoppingRules.MedianStops(4, 200, history, rule, Max));
        // Trial 2's best 0.5 against the others' 0.6, 0.4, 0.45 (median 0.45): goes on.
        Assert.False(EarlyStoppingRules.MedianStops(2, 200, history, rule, Max));
        // Before the grace period nobody is stopped, nor with too few others at the step.
        Assert.False(EarlyStoppingRules.MedianStops(4, 50, history, rule, Max));
        Assert.False(EarlyStoppingRules.MedianStops(4, 200, history.Where(p => p.Trial is 1 or 4).ToList(), rule, Max));
    }
}
