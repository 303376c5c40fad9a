using Distributed.Grains.Abstractions.Sweeps;

namespace Distributed.Grains.Abstractions.Tests;

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
    public void Asha_keeps_the_first_at_a_rung_and_stops_those_below_the_top_third_of_the_earlier_ones()
    {
        Assert.False(EarlyStoppingRules.AshaStops(0.1, [], 3, Max));
        // Earlier values 0.2, 0.5, 0.8: the 66.7th percentile is 0.2 + (0.5-0.2)*... = 0.6 (rank 1.333 between 0.5 and 0.8).
        Assert.Equal(0.6, EarlyStoppingRules.Percentile([0.2, 0.5, 0.8], 100 * (1 - 1 / 3.0)), 10);
        Assert.True(EarlyStoppingRules.AshaStops(0.59, [0.2, 0.5, 0.8], 3, Max));
        Assert.False(EarlyStoppingRules.AshaStops(0.61, [0.2, 0.5, 0.8], 3, Max));
        // Minimising a loss: the cutoff is the 33.3rd percentile of the losses, 0.3 + (0.5-0.3)*0.667 = 0.4333.
        Assert.False(EarlyStoppingRules.AshaStops(0.43, [0.3, 0.5, 0.9], 3, Min));
        Assert.True(EarlyStoppingRules.AshaStops(0.44, [0.3, 0.5, 0.9], 3, Min));
        // η = 2 with one earlier value: the median is that value, so only a better (or equal) trial goes on.
        Assert.True(EarlyStoppingRules.AshaStops(0.4, [0.5], 2, Max));
        Assert.False(EarlyStoppingRules.AshaStops(0.5, [0.5], 2, Max));
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
