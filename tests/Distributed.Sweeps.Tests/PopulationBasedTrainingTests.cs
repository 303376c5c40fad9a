using System.Text.Json.Nodes;
using Distributed.Grains.Abstractions.Sweeps;
using Distributed.Sweeps;

namespace Distributed.Sweeps.Tests;

// PBT's rules as plain code: what it refuses, where it pauses, who copies whom, and how values are explored.
public class PopulationBasedTrainingTests
{
    static (SweepSpec? Spec, IReadOnlyList<string> Errors) Read(string search, string extra = "maxConcurrent: 8") => SweepSpecReader.Read($$"""
        data: { task: reverse, examples: 200 }
        schedule: { steps: 1000, evaluateEvery: 100 }
        search: { method: pbt, {{search}} }
        {{extra}}
        """, "pbt.yaml");

    static SweepSpec Spec(string search = "space: { learningRate: { logUniform: [0.0001, 0.01] }, dropout: [0.0, 0.1, 0.2, 0.3] }", double resample = 0.25) =>
        Read($"resampleProbability: {resample}, " + search).Spec ?? throw new InvalidOperationException(string.Join("\n", Read(search).Errors));

    [Theory]
    [InlineData("space: { learningRate: [0.001] }", "maxConcurrent: 4", "maxConcurrent: 4 is below search.population (8): PBT trains the whole population at once")]
    [InlineData("space: { layers: [1, 2] }", "maxConcurrent: 8", "search.space.layers: model.layers cannot change mid-run; PBT explores only training.learningRate, model.dropout, model.recurrentDropout, training.teacherForcing.initial, training.clipThreshold, training.labelSmoothing")]
    [InlineData("perturbationInterval: 150, space: { learningRate: [0.001] }", "maxConcurrent: 8", "search.perturbationInterval: 150 must be a multiple of schedule.evaluateEvery (100): members are ranked on an evaluation at each perturbation")]
    [InlineData("perturbationInterval: 1000, space: { learningRate: [0.001] }", "maxConcurrent: 8", "search.perturbationInterval: 1000 must be below schedule.steps (1000): the first perturbation comes before the end")]
    [InlineData("space: { learningRate: [0.001] }", "maxConcurrent: 8\nearlyStopping: { rule: asha }", "earlyStopping.rule: must be none with search.method pbt: the population replaces its weak members itself")]
    [InlineData("space: { learningRate: [0.001] }", "maxConcurrent: 8\nrepeats: 2", "repeats: must be 1 with search.method pbt: each member is its own seed")]
    [InlineData("quantileFraction: 0.6, space: { learningRate: [0.001] }", "maxConcurrent: 8", "search.quantileFraction: must be above 0 and at most 0.5 (the bottom and top shares do not overlap)")]
    [InlineData("population: 1, space: { learningRate: [0.001] }", "maxConcurrent: 8", "search.population: must be 2..256")]
    public void A_bad_pbt_setting_is_named(string search, string extra, string message)
    {
        var (spec, errors) = Read(search, extra);
        Assert.Null(spec);
        Assert.Contains(message, errors);
    }

    [Fact]
    public void The_population_is_drawn_at_random_each_member_with_its_own_seed_and_pauses_every_interval()
    {
        var spec = Spec("perturbationInterval: 300, space: { learningRate: { logUniform: [0.0001, 0.01] } }");
        var (trials, errors) = SweepPlan.Expand(spec);
        Assert.Empty(errors);
        Assert.Equal(8, trials.Count);
        Assert.Equal(Enumerable.Range(0, 8).Select(i => spec.Schedule.Seed + (ulong)i), trials.Select(t => t.Spec.Schedule.Seed));
        Assert.Equal(8, trials.Select(t => t.Values.Single()).Distinct().Count());
        Assert.Equal([300L, 600L, 900L], PopulationBasedTraining.Boundaries(spec));
        Assert.Equal(300L, PopulationBasedTraining.PauseAfter(spec, 0));
        Assert.Equal(900L, PopulationBasedTraining.PauseAfter(spec, 600));
        Assert.Null(PopulationBasedTraining.PauseAfter(spec, 900));
        Assert.Equal(2, PopulationBasedTraining.GenerationAt(spec, 600));
        Assert.Equal(0, PopulationBasedTraining.GenerationAt(spec, 1000));
    }

    [Fact]
    public void The_bottom_quarter_copies_members_of_the_top_quarter_and_the_middle_goes_on()
    {
        var spec = Spec(resample: 0);
        // Loss is minimised: members 3 and 6 are the best two, 1 and 8 the worst two (NaN ranks last).
        double[] scores = [9, 5, 1, 4, 3, 2, 6, double.NaN];
        var members = scores.Select((s, i) => new PbtMember(i + 1, s, [$"{0.001 * (i + 1)}", "0.1"])).ToList();
        var exploits = PopulationBasedTraining.Perturb(spec, 1, 300, members);
        Assert.Equal([1, 8], exploits.Select(e => e.Trial));
        Assert.All(exploits, e => Assert.Contains(e.From, new[] { 3, 6 }));
        Assert.Equal([9.0, double.NaN], exploits.Select(e => e.Score));
        foreach (var e in exploits)
        {
            double from = 0.001 * e.From, rate = double.Parse(e.Values[0], System.Globalization.CultureInfo.InvariantCulture);
            Assert.Contains(rate, new[] { from * 0.8, from * 1.2 }.Select(r => Math.Round(r, 12)), new RoundedComparer());
            // A choice moves to a neighbour of the source's (0.1 is second of four).
            Assert.True(Text(e.Values[1]) is "0.0" or "0.2", e.Values[1]);
        }
        // The same generation decides the same; another generation decides afresh from its own seed.
        Assert.Equal(exploits, PopulationBasedTraining.Perturb(spec, 1, 300, members), new ExploitComparer());
    }

    [Fact]
    public void Explored_values_stay_in_their_range_and_resampling_draws_from_the_space()
    {
        var spec = Spec(resample: 1);
        var random = new Random(3);
        for (int i = 0; i < 200; i++)
        {
            var values = PopulationBasedTraining.Explore(spec, ["0.01", "0.3"], random);
            Assert.InRange(JsonNode.Parse(values[0])!.GetValue<double>(), 0.0001, 0.01);
            Assert.True(Text(values[1]) is "0.0" or "0.1" or "0.2" or "0.3", values[1]);
        }
        var scaled = Spec(resample: 0);
        for (int i = 0; i < 50; i++)
            Assert.InRange(JsonNode.Parse(PopulationBasedTraining.Explore(scaled, ["0.01", "0.3"], random)[0])!.GetValue<double>(), 0.008 - 1e-12, 0.01);
    }

    [Fact]
    public void A_members_schedule_follows_its_line_back_through_the_members_it_copied()
    {
        var initial = new Dictionary<int, IReadOnlyList<string>> { [1] = ["0.001"], [2] = ["0.002"], [3] = ["0.003"] };
        PbtExploit[] exploits =
        [
            new(1, 100, Trial: 1, From: 2, 0, 0, ["0.0024"]),
            new(2, 200, Trial: 3, From: 1, 0, 0, ["0.00192"]),
        ];
        var schedule = PopulationBasedTraining.Schedule(3, initial, exploits);
        // Member 3 took member 1's state at 200, which had taken member 2's at 100: 2's values, then 1's, then its own.
        Assert.Equal([0L, 100L, 200L], schedule.Select(s => s.From));
        Assert.Equal(["0.002", "0.0024", "0.00192"], schedule.Select(s => s.Values.Single()));
        Assert.Equal(["0.002"], PopulationBasedTraining.Schedule(2, initial, exploits).Select(s => s.Values.Single()));
    }

    static string Text(string json) => OptionBinder.Text(JsonNode.Parse(json)!);

    sealed class RoundedComparer : IEqualityComparer<double>
    {
        public bool Equals(double a, double b) => Math.Abs(a - b) < 1e-12;
        public int GetHashCode(double value) => 0;
    }

    sealed class ExploitComparer : IEqualityComparer<PbtExploit>
    {
        public bool Equals(PbtExploit? a, PbtExploit? b) =>
            a!.Trial == b!.Trial && a.From == b.From && a.Values.SequenceEqual(b.Values) && a.Step == b.Step;
        public int GetHashCode(PbtExploit e) => e.Trial;
    }
}
