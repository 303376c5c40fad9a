using Distributed.Grains.Abstractions.Training;
using Distributed.Grains.Training;
using Distributed.Grains.Storage;

namespace Distributed.Grains.Tests;

// A damaged checkpoint is never loaded: the run falls back to the one before it, and the record stays whole.
[Trait("Category", "Integration")]
public class CheckpointFallbackTests
{
    [Fact]
    public async Task A_truncated_newest_checkpoint_makes_the_trial_resume_from_the_previous_one_recording_every_step_once()
    {
        await using var cluster = await TrainingCluster.StartAsync(1);
        var trial = cluster.Trial("damaged/1");
        await trial.StartInSweepAsync(Specs.Tiny(steps: 40), null!, pauseAt: 30);
        var paused = await cluster.WaitAsync("damaged/1", s => s.State == TrialState.Paused || s.IsFinished, TimeSpan.FromSeconds(60));
        Assert.Equal((TrialState.Paused, 30L), (paused.State, paused.CheckpointStep!.Value));

        // Retention kept steps 20 and 30; the newest loses its second half, as a disk filling up mid-write would leave it.
        var newest = paused.CheckpointPath!;
        Assert.Equal([ArtifactPaths.Checkpoint("damaged/1", 20), newest], await cluster.Store.ListAsync(ArtifactPaths.Checkpoints("damaged/1")));
        var bytes = (await cluster.Store.ReadAsync(newest))!;
        await cluster.Store.WriteAsync(newest, bytes[..(bytes.Length / 2)]);

        await trial.ResumeAsync(null);
        var done = await cluster.WaitFinishedAsync("damaged/1");
        Assert.Equal(TrialState.Completed, done.State);
        Assert.Contains($"resumed from step 20: checkpoint {newest} truncated or padded", done.Reason);

        var metrics = await trial.GetMetricsAsync(-1);
        Assert.Equal(Enumerable.Range(1, 40).Select(s => (long)s), metrics.Steps.Select(s => s.Step));
        Assert.Equal([10L, 20, 30, 40], metrics.Evaluations.Select(e => e.Step));
        // The record names a checkpoint that exists and checks out.
        var final = await cluster.Store.ReadAsync(done.CheckpointPath!);
        Assert.Null(Distributed.Models.Training.Checkpoint.Problem(final));
    }

    [Fact]
    public async Task The_checkpoint_a_trial_names_is_never_removed_by_retention()
    {
        await using var cluster = await TrainingCluster.StartAsync(1);
        var spec = Specs.Tiny(steps: 120) with { Schedule = Specs.Tiny().Schedule with { Steps = 120, CheckpointEvery = 5, EvaluateEvery = 60 } };
        await cluster.Trial("retained/1").StartAsync(spec);
        var seen = 0;
        while (true)
        {
            var status = await cluster.Trial("retained/1").GetStatusAsync();
            if (status.CheckpointPath is { } path)
            {
                Assert.NotNull(await cluster.Store.ReadAsync(path));
                seen++;
            }
            if (status.IsFinished) break;
            await Task.Delay(20);
        }
        Assert.True(seen > 3, $"only {seen} polls saw a checkpoint");
        var kept = await cluster.Store.ListAsync(ArtifactPaths.Checkpoints("retained/1"));
        Assert.Equal(2, kept.Count);
    }
}
