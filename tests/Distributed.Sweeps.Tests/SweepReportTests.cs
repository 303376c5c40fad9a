using Distributed.Grains.Abstractions.Sweeps;
using Distributed.Grains.Abstractions.Training;
using Distributed.Sweeps;

namespace Distributed.Sweeps.Tests;

public class SweepReportTests
{
    static SweepStatus Sweep()
    {
        var (spec, errors) = SweepSpecReader.Read("search: { space: { layers: [1, 2], bidirectional: [false, true] } }\nrepeats: 2\nobjective: { metric: exactMatch }", "s.yaml");
        Assert.Empty(errors);
        var plan = SweepPlan.Expand(spec!).Trials;
        // Exact match by (layers, bidirectional, repeat): bidirectional adds 0.2, the second layer 0.05.
        double Score(PlannedTrial p) => 0.5 + (p.Spec.Model.Bidirectional ? 0.2 : 0) + (p.Spec.Model.Layers == 2 ? 0.05 : 0) + (p.Repeat == 0 ? 0.01 : -0.01);
        var trials = plan.Select(p => new SweepTrial
        {
            Number = p.Number, TrialId = $"s/{p.Number}", Configuration = p.Configuration, Factors = p.Factors, Repeat = p.Repeat,
            Seed = p.Spec.Schedule.Seed, State = p.Number == 8 ? TrialState.Diverged : TrialState.Completed, Step = 100, Steps = 100,
            Best = p.Number == 8 ? null : Score(p), Final = Score(p),
        }).ToList();
        return new SweepStatus { SweepId = "s", Spec = spec!, Trials = trials, State = SweepState.Completed };
    }

    [Fact]
    public void The_leaderboard_ranks_by_the_objective_and_leaves_out_trials_without_one()
    {
        var board = SweepReport.Leaderboard(Sweep(), top: 3);
        // Trial 7 (2 layers, bidirectional, first seed) 0.76; then 3 and 4 (1 layer, bidirectional) 0.71 and 0.69.
        Assert.Equal([7, 3, 4], board.Select(t => t.Number));
        Assert.DoesNotContain(SweepReport.Leaderboard(Sweep()), t => t.Number == 8);
    }

    [Fact]
    public void Each_factor_gets_its_mean_and_interval_over_the_trials_that_had_it()
    {
        var comparison = SweepReport.Compare(Sweep(), null)!;
        var bidirectional = comparison.Factors.Single(e => e.Factor == "bidirectional");
        var off = bidirectional.Marginal.Single(l => l.Value == "false");
        var on = bidirectional.Marginal.Single(l => l.Value == "true");
        // Off: 0.51, 0.49, 0.56, 0.54 -> mean 0.525. On: 0.71, 0.69, 0.76 (trial 8 diverged) -> mean 0.72.
        Assert.Equal(4, off.Trials);
        Assert.Equal(0.525, off.Objective.Mean, 10);
        Assert.Equal(3, on.Trials);
        Assert.Equal(0.72, on.Objective.Mean, 10);
        // s = sqrt((.015² + .035² + .035² + .015²) / 3) = 0.031091; half-width t(3) = 3.182 x s / 2 = 0.049466.
        Assert.Equal(0.049466, off.Objective.HalfWidth, 5);
        Assert.Null(SweepReport.Compare(Sweep(), "dropout"));
        Assert.Single(SweepReport.Compare(Sweep(), "layers")!.Factors);
        // layers,bidirectional: layers' paired effects at each value of bidirectional.
        Assert.Equal(["bidirectional=false", "bidirectional=true"], SweepReport.Compare(Sweep(), "layers,bidirectional")!.Factors.Select(f => f.Within!).Order());
    }

    [Fact]
    public void Csv_has_a_row_per_trial_with_its_factors_and_quotes_what_needs_it()
    {
        var sweep = Sweep();
        sweep = sweep with { Trials = sweep.Trials.Select(t => t.Number == 8 ? t with { Reason = "loss is NaN, at step 3" } : t.Number == 1 ? t with { Test = 0.5 } : t).ToList() };
        var lines = SweepReport.Csv(sweep).TrimEnd().Split('\n').Select(l => l.TrimEnd('\r')).ToList();
        Assert.Equal(9, lines.Count);
        Assert.Equal("trial,trial_id,configuration,repeat,seed,layers,bidirectional,state,step,steps,best_exactMatch,final_exactMatch,test_exactMatch,last_loss,wall_seconds,checkpoint,reason", lines[0]);
        Assert.StartsWith("1,s/1,1,0,1,1,false,completed,100,100,0.51,0.51,0.5,", lines[1]);
        Assert.EndsWith("\"loss is NaN, at step 3\"", lines[8]);
        Assert.Contains("\"comparison\"", SweepReport.ToJson(sweep));
        Assert.Contains("\"verdicts\"", SweepReport.ToJson(sweep));
        Assert.Contains("\"testComparison\"", SweepReport.ToJson(sweep));
    }
}
