using Distributed.Grains.Abstractions.Sweeps;
using Distributed.Sweeps;

namespace Distributed.Sweeps.Tests;

public class TreeParzenEstimatorTests
{
    static readonly SearchDimension Rate = new() { Path = "training.learningRate", Key = "rate", Kind = DimensionKind.Uniform, Min = 0, Max = 1 };
    static readonly SearchDimension Attention = new() { Path = "model.attention", Key = "attention", Kind = DimensionKind.Values, Values = ["\"none\"", "\"dot\"", "\"additive\""] };
    static readonly SearchDimension Layers = new() { Path = "model.layers", Key = "layers", Kind = DimensionKind.IntRange, Min = 1, Max = 2 };

    [Fact]
    public void The_good_group_is_the_gamma_of_n_lowest_losses_with_running_trials_counted_worst()
    {
        Assert.Equal([1, 1, 2, 3, 25, 25], new[] { 1, 10, 11, 30, 250, 1000 }.Select(TreeParzenEstimator.Gamma));
        double[] losses = [5, 3, 9, 1, 7, 2, 8, 6, 4, 10, 11, 12];
        var observations = losses.Select(l => new TpeObservation([l], l)).Append(new TpeObservation([-1], null)).ToList();
        // 13 trials: γ = ⌈1.3⌉ = 2, the losses 1 and 2; the running one is in the bad group.
        var (good, bad) = TreeParzenEstimator.Split(observations);
        Assert.Equal([1.0, 2.0], good.Select(p => p[0]));
        Assert.Equal(11, bad.Count);
        Assert.Contains(bad, p => p[0] == -1);
    }

    [Fact]
    public void Densities_match_values_worked_out_by_hand()
    {
        // One good point 0.2 on [0, 1]: Scott's 0.2 is clipped up to 1 / min(100, 2) = 0.5; the prior is N(0.5, 1); weights 1/2.
        // l(0.3) = 0.5 TN(0.3; 0.2, 0.5, [0, 1]) + 0.5 TN(0.3; 0.5, 1, [0, 1]), log = 0.149852 (worked out with erf).
        var numeric = new TreeParzenEstimator.ParzenEstimator([Rate], [[0.2]], new TpeSettings());
        Assert.Equal(0.149852, numeric.LogDensity([0.3]), 5);
        // Two good trials chose "dot": each kernel is (1/3 + [dot]) / 2 = [1/6, 2/3, 1/6], the prior 1/3 each, weights 1/3:
        // P(dot) = 2/3 x 2/3 + 1/3 x 1/3 = 5/9, P(none) = 2/3 x 1/6 + 1/9 = 2/9.
        var choice = new TreeParzenEstimator.ParzenEstimator([Attention], [[1], [1]], new TpeSettings());
        Assert.Equal(Math.Log(5.0 / 9), choice.LogDensity([1]), 10);
        Assert.Equal(Math.Log(2.0 / 9), choice.LogDensity([0]), 10);
        // A density over the whole space sums to 1 over the choices.
        Assert.Equal(1.0, Enumerable.Range(0, 3).Sum(k => Math.Exp(choice.LogDensity([k]))), 10);
        // Whole numbers carry their unit interval's mass: over 1..2 they sum to 1.
        var whole = new TreeParzenEstimator.ParzenEstimator([Layers], [[2]], new TpeSettings());
        Assert.Equal(1.0, Math.Exp(whole.LogDensity([1])) + Math.Exp(whole.LogDensity([2])), 6);
    }

    [Fact]
    public void Proposals_follow_the_good_trials_and_repeat_for_the_same_seed()
    {
        // Loss is |rate - 0.8|: after 20 random trials, proposals should cluster near 0.8.
        List<double> Run(int seed)
        {
            var random = new Random(seed);
            var observations = new List<TpeObservation>();
            var proposed = new List<double>();
            for (int i = 0; i < 40; i++)
            {
                var point = TreeParzenEstimator.Propose([Rate], observations, new TpeSettings(StartupTrials: 20), random);
                observations.Add(new TpeObservation(point, Math.Abs(point[0] - 0.8)));
                proposed.Add(point[0]);
            }
            return proposed;
        }
        var first = Run(3);
        Assert.Equal(first, Run(3));
        Assert.NotEqual(first, Run(4));
        double randomError = first.Take(20).Average(x => Math.Abs(x - 0.8)), tpeError = first.Skip(20).Average(x => Math.Abs(x - 0.8));
        Assert.True(tpeError < randomError / 2, $"TPE's proposals are {tpeError:F3} from the optimum on average, random ones {randomError:F3}");
    }

    [Fact]
    public void The_constant_liar_never_proposes_a_point_twice_while_trials_run()
    {
        // 3 x 2 = 6 configurations; two finished, then four proposed while every earlier one still runs.
        var random = new Random(11);
        var observations = new List<TpeObservation>();
        for (int i = 0; i < 6; i++)
        {
            var point = TreeParzenEstimator.Propose([Attention, Layers], observations, new TpeSettings(StartupTrials: 2), random);
            observations.Add(new TpeObservation(point, i < 2 ? point[0] : null));
        }
        Assert.Equal(6, observations.Select(o => $"{o.Point[0]}/{o.Point[1]}").Distinct().Count());
        Assert.All(observations, o => Assert.InRange(o.Point[1], 1, 2));
    }
}
