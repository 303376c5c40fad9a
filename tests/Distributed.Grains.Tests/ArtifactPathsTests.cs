using Distributed.Grains.Storage;

namespace Distributed.Grains.Tests;

public class ArtifactPathsTests
{
    [Fact]
    public void Every_stored_path_has_one_layout_and_its_inverses_read_it_back()
    {
        const string trial = "sweep-a/12";
        Assert.Equal("trials/sweep-a/12/checkpoints/0000000300.ckpt", ArtifactPaths.Checkpoint(trial, 300));
        Assert.Equal("trials/sweep-a/12/best/0000000250.ckpt", ArtifactPaths.BestCheckpoint(trial, 250));
        Assert.Equal("trials/sweep-a/12/metrics/steps-0000001001.json", ArtifactPaths.MetricSegment(trial, 1001));
        Assert.Equal("trials/sweep-a/12/result.json", ArtifactPaths.TrialResult(trial));
        Assert.Equal("sweeps/sweep-a/results.csv", ArtifactPaths.SweepCsv("sweep-a"));
        Assert.Equal("datasets/ab12/part-00012", ArtifactPaths.DatasetPart("ab12", 12));
        Assert.Equal("datasets/ab12/manifest.json", ArtifactPaths.DatasetManifest("ab12"));

        // Every path of a trial is under its folder, which delete and the orphan collector list.
        Assert.All(new[] { ArtifactPaths.Checkpoint(trial, 1), ArtifactPaths.BestCheckpoint(trial, 1), ArtifactPaths.MetricSegment(trial, 1), ArtifactPaths.TrialResult(trial) },
            p => Assert.StartsWith(ArtifactPaths.Trial(trial), p));
        Assert.Equal(300, ArtifactPaths.CheckpointStep(ArtifactPaths.Checkpoint(trial, 300)));
        Assert.Equal(250, ArtifactPaths.CheckpointStep(ArtifactPaths.BestCheckpoint(trial, 250)));
        Assert.Equal(0, ArtifactPaths.CheckpointStep(null));
        Assert.Equal(trial, ArtifactPaths.TrialOfMetricSegment(ArtifactPaths.MetricSegment(trial, 1)));
        Assert.Null(ArtifactPaths.TrialOfMetricSegment(ArtifactPaths.Checkpoint(trial, 1)));
        Assert.Null(ArtifactPaths.TrialOfMetricSegment("datasets/x/metrics/y"));
    }
}
