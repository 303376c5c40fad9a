using Distributed.Grains.Abstractions.Sweeps;
using Distributed.Grains.Abstractions.Training;
using Distributed.Sweeps;

namespace Distributed.Dashboard;

/// <summary>
/// One viewer's picture of one sweep: its status with each trial's learning curves, best-so-far, effects and
/// importance, and PBT's exploits. Curves are fetched incrementally (only the steps since the last look), and the
/// training loss is thinned to <see cref="MaxLossPoints"/> per trial, so a long sweep stays cheap to watch.
/// </summary>
public sealed class SweepFeed(IGrainFactory grains, string sweepId)
{
    public const int MaxLossPoints = 400;
    readonly Dictionary<int, Curve> curves = [];

    sealed class Curve
    {
        public long After = -1;
        public string? TrialId;
        public readonly List<double[]> Objective = [];
        public readonly List<double[]> Loss = [];
        public int Stride = 1;
        public bool Done;
    }

    /// <summary>The sweep now, or null when there is no such sweep.</summary>
    public async Task<SweepSnapshot?> NextAsync()
    {
        var status = await grains.GetGrain<ISweepGrain>(sweepId).GetStatusAsync();
        if (status is null) return null;
        foreach (var t in status.Trials.Where(t => t.StartedAt is not null)) await FollowAsync(status.Spec.Objective, t);
        return SweepSnapshot.Of(status, curves.ToDictionary(c => c.Key, c => new TrialCurves(c.Value.Objective.ToList(), c.Value.Loss.ToList())));
    }

    async Task FollowAsync(Objective objective, SweepTrial trial)
    {
        if (!curves.TryGetValue(trial.Number, out var curve) || curve.TrialId != trial.TrialId || trial.Step < curve.After)
            curves[trial.Number] = curve = new Curve { TrialId = trial.TrialId }; // a new trial, or one gone back to a checkpoint
        if (curve.Done) return;
        var metrics = await grains.GetGrain<ITrialGrain>(trial.TrialId).GetMetricsAsync(curve.After);
        foreach (var e in metrics.Evaluations.Where(e => e.Step > curve.After)) curve.Objective.Add([e.Step, objective.Of(e)]);
        foreach (var s in metrics.Steps.Where(s => s.Step > curve.After))
        {
            if (s.Step % curve.Stride != 0) continue;
            curve.Loss.Add([s.Step, s.Loss]);
            if (curve.Loss.Count <= MaxLossPoints) continue;
            // Twice as sparse: keep every other point, and take every other step from now on.
            curve.Stride *= 2;
            var kept = curve.Loss.Where(p => (long)p[0] % curve.Stride == 0).ToList();
            curve.Loss.Clear();
            curve.Loss.AddRange(kept);
        }
        curve.After = Math.Max(curve.After, Math.Max(metrics.Steps.LastOrDefault()?.Step ?? -1, metrics.Evaluations.LastOrDefault()?.Step ?? -1));
        curve.Done = trial.IsFinished;
    }
}
