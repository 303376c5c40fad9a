using Distributed.Grains.Abstractions.Sweeps;
using Distributed.Grains.Abstractions.Training;
using Distributed.Sweeps;

namespace Distributed.Sweeps.Tests;

public class ConfirmationTests
{
    static SweepSpec Spec(string extra = "")
    {
        var (spec, errors) = SweepSpecReader.Read(
            "search: { space: { layers: [1, 2, 3] } }\nrepeats: 2\nobjective: { metric: exactMatch }\nconfirm: { top: 2, seeds: 3 }\n" + extra, "s.yaml");
        Assert.Empty(errors);
        return spec!;
    }

    static SweepTrial Trial(int number, int configuration, int repeat, double? best, bool confirmation = false, double? test = null) => new()
    {
        Number = number, TrialId = $"s/{number}", Configuration = configuration, Factors = [new("model.layers", $"{configuration}")],
        Repeat = repeat, Seed = 1 + (ulong)repeat, State = TrialState.Completed, Step = 100, Steps = 100, Best = best, Test = test,
        Confirmation = confirmation,
    };

    // The search: layers 1 -> 0.50 and 0.52, layers 2 -> 0.70 and 0.72, layers 3 -> 0.60 and 0.90 (means 0.51, 0.71, 0.75).
    static List<SweepTrial> Search() =>
        [Trial(1, 1, 0, 0.50), Trial(2, 1, 1, 0.52), Trial(3, 2, 0, 0.70), Trial(4, 2, 1, 0.72), Trial(5, 3, 0, 0.60), Trial(6, 3, 1, 0.90)];

    static List<SweepTrial> WithConfirmation(params SweepTrial[] confirming) =>
        Search().Concat(confirming.Select(t => t with { Confirmation = true })).ToList();

    [Fact]
    public void The_top_configurations_go_again_with_seeds_the_search_never_used()
    {
        var planned = Confirmation.Plan(Spec(), "s", Search());
        // Configurations by their mean over seeds: 3 (0.75) and 2 (0.71), three fresh seeds each, numbered after the search.
        Assert.Equal([3, 3, 3, 2, 2, 2], planned.Select(t => t.Configuration));
        Assert.Equal([7, 8, 9, 10, 11, 12], planned.Select(t => t.Number));
        Assert.Equal([2, 3, 4, 2, 3, 4], planned.Select(t => t.Repeat));
        Assert.Equal([3UL, 4UL, 5UL, 3UL, 4UL, 5UL], planned.Select(t => t.Seed));
        Assert.All(planned, t => Assert.True(t.Confirmation && t.State == TrialState.Queued));
        Assert.Equal(["3"], planned.Where(t => t.Configuration == 3).Select(t => t.Factors[0].Value).Distinct());
    }

    [Fact]
    public void A_winner_is_declared_only_when_its_lead_over_the_runner_up_excludes_zero()
    {
        // Configuration 2 beats 3 on every fresh seed by 0.05-0.07: the paired interval is clear of zero.
        var trials = WithConfirmation(
            Trial(7, 3, 2, 0.70), Trial(8, 3, 3, 0.72), Trial(9, 3, 4, 0.71),
            Trial(10, 2, 2, 0.76, test: 0.75), Trial(11, 2, 3, 0.79, test: 0.77), Trial(12, 2, 4, 0.77, test: 0.76)
        );
        var result = Confirmation.Of(new SweepStatus { SweepId = "s", Spec = Spec(), Trials = trials })!;
        Assert.True(result.Finished);
        Assert.Equal(2, result.Winner);
        Assert.Equal([2, 3], result.Ranked.Select(c => c.Configuration));
        // Differences 0.06, 0.07, 0.06: mean 0.0633, t(2) interval 0.0633 ± 4.303 × 0.00577/√3 = [0.0490, 0.0777].
        Assert.Equal(3, result.Lead!.Pairs);
        Assert.Equal(0.19 / 3, result.Lead.Mean, 9);
        Assert.Equal(0.19 / 3 - 4.303 * Math.Sqrt(1.0 / 3 / 10000) / Math.Sqrt(3), result.Lead.Low, 6);
        Assert.Equal(0.71, result.Ranked[0].Search, 9);
        Assert.Equal(0.76, result.Ranked[0].Test!.Mean, 9);
        Assert.StartsWith("winner: configuration 2 (model.layers=2); configuration 2 (model.layers=2) better than configuration 3 (model.layers=3) by 0.063", result.Verdict);
    }

    [Fact]
    public void Two_configurations_that_give_the_same_results_have_no_winner()
    {
        var same = WithConfirmation(
            Trial(7, 3, 2, 0.70), Trial(8, 3, 3, 0.95), Trial(9, 3, 4, 0.40),
            Trial(10, 2, 2, 0.70), Trial(11, 2, 3, 0.95), Trial(12, 2, 4, 0.40)
        );
        var result = Confirmation.Of(new SweepStatus { SweepId = "s", Spec = Spec(), Trials = same })!;
        Assert.Null(result.Winner);
        Assert.StartsWith("no winner: the top configurations are indistinguishable over 3 seeds", result.Verdict);

        // Noisy seeds with a small lead: the interval covers zero, so still no winner, and every interval stays in [0, 1].
        var noisy = WithConfirmation(
            Trial(7, 3, 2, 0.10), Trial(8, 3, 3, 0.99), Trial(9, 3, 4, 0.50),
            Trial(10, 2, 2, 0.30), Trial(11, 2, 3, 0.95), Trial(12, 2, 4, 0.40)
        );
        var unclear = Confirmation.Of(new SweepStatus { SweepId = "s", Spec = Spec(), Trials = noisy })!;
        Assert.Null(unclear.Winner);
        Assert.All(unclear.Ranked, c => Assert.InRange(c.Validation!.Low, 0, 1));
        Assert.All(unclear.Ranked, c => Assert.InRange(c.Validation!.High, 0, 1));
        Assert.InRange(unclear.Lead!.Low, -1, 1);
    }

    [Fact]
    public void While_confirmation_trials_run_there_is_no_winner_yet()
    {
        var trials = WithConfirmation(
            Trial(7, 3, 2, 0.70), Trial(8, 3, 3, 0.72), Trial(9, 3, 4, 0.71) with { State = TrialState.Running },
            Trial(10, 2, 2, 0.90), Trial(11, 2, 3, 0.91), Trial(12, 2, 4, null) with { State = TrialState.Queued }
        );
        var result = Confirmation.Of(new SweepStatus { SweepId = "s", Spec = Spec(), Trials = trials })!;
        Assert.False(result.Finished);
        Assert.Null(result.Winner);
        Assert.StartsWith("confirmation running (4/6 trials)", result.Verdict);
        Assert.Null(Confirmation.Of(new SweepStatus { SweepId = "s", Spec = Spec(), Trials = Search() }));
    }

    [Theory]
    [InlineData("top: 1, seeds: 3", "confirm.top: must be 2..10")]
    [InlineData("top: 2, seeds: 1", "confirm.seeds: must be 2..100")]
    [InlineData("top: 2, seedz: 3", "confirm.seedz")]
    public void A_bad_confirm_stage_is_refused_naming_the_field(string confirm, string expected)
    {
        var (spec, errors) = SweepSpecReader.Read($"search: {{ space: {{ layers: [1, 2] }} }}\nconfirm: {{ {confirm} }}", "s.yaml");
        Assert.Null(spec);
        Assert.Contains(errors, e => e.StartsWith(expected));
    }
}
