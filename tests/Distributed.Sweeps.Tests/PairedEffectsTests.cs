using Distributed.Grains.Abstractions.Sweeps;
using Distributed.Sweeps;

namespace Distributed.Sweeps.Tests;

public class PairedEffectsTests
{
    static readonly Objective ExactMatch = new() { Metric = ObjectiveMetric.ExactMatch };
    static readonly Objective Loss = new() { Metric = ObjectiveMetric.Loss };

    static Observation Trial(string attention, string layers, int repeat, double value) =>
        new([new("attention", attention), new("layers", layers)], repeat, value);

    [Fact]
    public void Paired_effects_use_only_trials_that_differ_in_the_factor_and_match_values_worked_out_by_hand()
    {
        // Differences additive - none within (layers, repeat): 0.1, 0.2, 0.3; the unpaired trial is left out.
        var trials = new[]
        {
            Trial("none", "1", 0, 0.5), Trial("additive", "1", 0, 0.6),
            Trial("none", "2", 0, 0.4), Trial("additive", "2", 0, 0.6),
            Trial("none", "1", 1, 0.3), Trial("additive", "1", 1, 0.6),
            Trial("none", "2", 1, 0.9),
        };
        var effect = Assert.Single(PairedEffects.Of(trials, "attention", MetricRange.Of(ObjectiveMetric.ExactMatch)));
        Assert.Equal(("none", "additive", 3), (effect.Baseline, effect.Other, effect.Pairs));
        // mean 0.2, s = 0.1, se = 0.057735, t(2) = 4.303 -> 0.2 ± 0.24843
        Assert.Equal(0.2, effect.Mean, 10);
        Assert.Equal(-0.04843, effect.Low, 4);
        Assert.Equal(0.44843, effect.High, 4);
        Assert.Equal("no clear difference between additive and none: 0.2 [-0.048, 0.448], 3 pairs", effect.Verdict(ExactMatch));
    }

    [Fact]
    public void The_verdict_names_the_better_value_by_the_objectives_direction()
    {
        var effect = new PairedEffect("attention", "none", "additive", 8, 0.23, 0.18, 0.29);
        Assert.Equal("additive better than none by 0.23 [0.18, 0.29], 8 pairs", effect.Verdict(ExactMatch));
        // For a loss, a higher value is worse: none is better by 0.23 [0.18, 0.29].
        Assert.Equal("none better than additive by 0.23 [0.18, 0.29], 8 pairs", effect.Verdict(Loss));
        var lower = new PairedEffect("layers", "1", "2", 5, -0.4, -0.5, -0.1);
        Assert.Equal("2 better than 1 by 0.4 [0.1, 0.5], 5 pairs", lower.Verdict(Loss));
        Assert.Equal("1 better than 2 by 0.4 [0.1, 0.5], 5 pairs", lower.Verdict(ExactMatch));
    }

    [Fact]
    public void Intervals_for_exact_match_stay_inside_its_range()
    {
        // Two trials of 0.9 and 1.0: t(1) = 12.706 gives 0.95 ± 0.635, whose top a proportion cannot reach.
        var marginal = MeanInterval.Of([0.9, 1.0]).Within(0, 1);
        Assert.Equal(0.3147, marginal.Low, 4);
        Assert.Equal(1.0, marginal.High);
        // The case: two trials far apart; the t interval ran from -2.1 to 3.7.
        var wide = MeanInterval.Of([0.526, 1.0]).Within(0, 1);
        Assert.Equal((0.0, 1.0), (wide.Low, wide.High));
        // One trial: no interval from the data, so the whole range.
        Assert.Equal((0.0, 1.0), (MeanInterval.Of([0.7]).Within(0, 1).Low, MeanInterval.Of([0.7]).Within(0, 1).High));
        var trials = new[] { Trial("none", "1", 0, 0.0), Trial("additive", "1", 0, 1.0), Trial("none", "2", 0, 0.5), Trial("additive", "2", 0, 0.6) };
        var effect = Assert.Single(PairedEffects.Of(trials, "attention", MetricRange.Of(ObjectiveMetric.ExactMatch)));
        Assert.InRange(effect.Low, -1, 1);
        Assert.InRange(effect.High, -1, 1);
        Assert.Equal(1, effect.High);
    }

    [Fact]
    public void A_factor_with_no_effect_gets_an_interval_covering_zero_in_at_least_90_of_100_repetitions()
    {
        int covered = 0;
        for (int repetition = 0; repetition < 100; repetition++)
        {
            var random = new Random(1000 + repetition);
            double Noise() => 0.05 * Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());
            // Layers moves the objective by 0.3; attention does nothing; 4 layer values x 2 seeds = 8 pairs.
            var trials = new List<Observation>();
            foreach (var layers in new[] { "1", "2", "3", "4" })
                for (int seed = 0; seed < 2; seed++)
                    foreach (var attention in new[] { "none", "additive" })
                        trials.Add(Trial(attention, layers, seed, 0.3 * int.Parse(layers) / 4 + Noise()));
            var effect = Assert.Single(PairedEffects.Of(trials, "attention", new MetricRange(double.NegativeInfinity, double.PositiveInfinity)));
            Assert.Equal(8, effect.Pairs);
            if (effect.Low <= 0 && effect.High >= 0) covered++;
        }
        Assert.InRange(covered, 90, 100);
    }

    [Fact]
    public void Importance_ranks_the_factor_that_alone_drives_the_objective_first()
    {
        var random = new Random(7);
        var trials = new List<Observation>();
        foreach (var attention in new[] { "none", "dot", "additive" })
            foreach (var layers in new[] { "1", "2" })
                foreach (var dropout in new[] { "0", "0.2" })
                    for (int seed = 0; seed < 2; seed++)
                        trials.Add(new([new("attention", attention), new("layers", layers), new("dropout", dropout)], seed,
                            (attention == "additive" ? 0.8 : attention == "dot" ? 0.5 : 0.2) + 0.01 * random.NextDouble()));
        var importance = FactorImportance.Of(trials, ["layers", "attention", "dropout"]);
        Assert.Equal("attention", importance[0].Factor);
        Assert.True(importance[0].Share > 0.99, $"attention explains {importance[0].Share:P1}");
        Assert.InRange(importance[0].Low, 0.98, 1.0);
        Assert.All(importance.Skip(1), i => Assert.True(i.Share < 0.01));
        // Numeric factors with many values are grouped into quartiles: a learning rate that drives the objective still ranks first.
        var drawn = Enumerable.Range(0, 40).Select(i => new Observation(
            [new("learningRate", (0.001 * (1 + i)).ToString(System.Globalization.CultureInfo.InvariantCulture)), new("layers", (i % 2 + 1).ToString())], 0, i / 40.0)).ToList();
        Assert.Equal("learningRate", FactorImportance.Of(drawn, ["layers", "learningRate"])[0].Factor);
    }
}
