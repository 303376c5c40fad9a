using Distributed.Models.Data;
using Distributed.Models.Training;
using Distributed.Options;

namespace Distributed.Models.Tests.Model;

// The arithmetic the coordinator grain relies on, checked on real replicas without Orleans in between.
public class DataParallelTests
{
    static readonly TrainingOptions Options = new()
    {
        BatchSize = 8, LearningRate = 3e-3, Clip = ClipMode.Norm, ClipThreshold = 1.0, LossNormalization = LossNormalization.Sequences,
    };

    [Theory]
    [InlineData(2)]
    [InlineData(4)]
    public void Workers_with_global_clipping_equal_one_worker_on_the_union_batch(int workers)
    {
        var data = TinyModels.Reverse(1000, 3, 8);
        var model = TinyModels.Options();
        using var single = new Trainer(model, Options, data.Vocabularies, 11);
        var replicas = Enumerable.Range(0, workers).Select(_ => new Trainer(model, Options, data.Vocabularies, 11)).ToList();
        var average = new float[single.Parameters.Count];
        try
        {
            for (int step = 0; step < 20; step++)
            {
                var union = data.Train.Skip(step * workers * 8).Take(workers * 8).ToList();
                using (var batch = TrainingBatch.From(union)) single.TrainStep(batch);

                var gradients = new List<ReadOnlyMemory<float>>();
                for (int w = 0; w < workers; w++)
                {
                    using var shard = TrainingBatch.From(union.Skip(w * 8).Take(8).ToList());
                    replicas[w].ComputeGradient(shard);
                    gradients.Add(replicas[w].Parameters.Gradients.ToArray());
                }
                GradientAverager.Average(gradients, average, ClipScope.Global, Options.Clip, Options.ClipThreshold);
                foreach (var replica in replicas)
                {
                    replica.SetGradient(average);
                    replica.OptimizerStep();
                }
            }
            TinyModels.AssertClose(single.Parameters.Values.ToArray(), replicas[0].Parameters.Values.ToArray(), 1e-5);
            var sum = GradientAverager.Checksum(replicas[0].Parameters.Values);
            Assert.All(replicas, r => Assert.Equal(sum, GradientAverager.Checksum(r.Parameters.Values)));
        }
        finally
        {
            foreach (var r in replicas) r.Dispose();
        }
    }

    [Fact]
    public void Per_worker_clipping_averages_the_individually_clipped_gradients()
    {
        var data = TinyModels.Reverse(64, 3, 8);
        var tiny = Options with { ClipThreshold = 1e-3 };
        using var a = new Trainer(TinyModels.Options(), tiny, data.Vocabularies, 5);
        using var b = new Trainer(TinyModels.Options(), tiny, data.Vocabularies, 5);
        using (var batchA = TrainingBatch.From(data.Train.Take(8).ToList())) a.ComputeGradient(batchA);
        using (var batchB = TrainingBatch.From(data.Train.Skip(8).Take(8).ToList())) b.ComputeGradient(batchB);
        double normA = a.ClipGradient(), normB = b.ClipGradient();
        Assert.True(normA > 1e-3 && normB > 1e-3, "both gradients must be above the threshold for the test to mean anything");
        var clippedA = a.Parameters.Gradients.ToArray();
        var clippedB = b.Parameters.Gradients.ToArray();

        var average = new float[clippedA.Length];
        GradientAverager.Average([clippedA, clippedB], average, ClipScope.PerWorker, tiny.Clip, tiny.ClipThreshold);

        Assert.Equal(1e-3, GradientClipping.L2Norm(clippedA), 6);
        var expected = clippedA.Zip(clippedB, (x, y) => (x + y) / 2).ToArray();
        TinyModels.AssertClose(expected, average, 1e-9);
        // Clipping each, then averaging, is not clipping the average: the mean of two unit-ish directions is shorter.
        Assert.True(GradientClipping.L2Norm(average) < 1e-3);
    }

    [Fact]
    public void The_mean_is_exact_across_blocks_and_their_ragged_end()
    {
        // Three workers, 10,001 values: two whole blocks of the blocked mean and a short one.
        var random = new Random(5);
        var gradients = Enumerable.Range(0, 3).Select(_ => Enumerable.Range(0, 10_001).Select(_ => (float)(random.NextDouble() * 2 - 1)).ToArray()).ToArray();
        var mean = new float[10_001];
        GradientAverager.Mean(gradients.Select(g => (ReadOnlyMemory<float>)g).ToList(), mean);
        for (int i = 0; i < mean.Length; i++)
            Assert.Equal((gradients[0][i] + gradients[1][i] + gradients[2][i]) * (1f / 3), mean[i]);
    }

    [Fact]
    public void Checksum_tells_replicas_apart_after_one_differing_update()
    {
        var data = TinyModels.Reverse(32, 3, 6);
        using var a = new Trainer(TinyModels.Options(), Options, data.Vocabularies, 3, data.Train);
        using var b = new Trainer(TinyModels.Options(), Options, data.Vocabularies, 3, data.Train);
        Assert.Equal(GradientAverager.Checksum(a.Parameters.Values), GradientAverager.Checksum(b.Parameters.Values));
        a.TrainStep();
        Assert.NotEqual(GradientAverager.Checksum(a.Parameters.Values), GradientAverager.Checksum(b.Parameters.Values));
    }
}
