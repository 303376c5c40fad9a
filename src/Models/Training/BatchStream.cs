using Distributed.Models.Data;

namespace Distributed.Models.Training;

/// <summary>
/// Endless batches from one data shard, epoch after epoch. Its whole state is (epoch, position): each epoch's
/// order is a pure function of the seed and the epoch, so a checkpoint resumes on exactly the next batch.
/// </summary>
public sealed class BatchStream
{
    readonly IReadOnlyList<EncodedExample> examples;
    readonly int[] lengths;
    readonly int batchSize;
    readonly ulong seed;
    readonly bool bucket;
    IReadOnlyList<int[]> plan;

    public BatchStream(IReadOnlyList<EncodedExample> examples, int batchSize, ulong seed, bool bucketByLength)
    {
        if (examples.Count == 0) throw new ArgumentException("the training shard is empty", nameof(examples));
        this.examples = examples;
        lengths = examples.Select(e => e.Source.Length).ToArray();
        this.batchSize = batchSize;
        this.seed = seed;
        bucket = bucketByLength;
        plan = BatchPlan.ForEpoch(lengths, batchSize, seed, 0, bucket);
    }

    public int Epoch { get; private set; }
    public int Position { get; private set; }

    public IReadOnlyList<EncodedExample> Next()
    {
        if (Position >= plan.Count) MoveTo(Epoch + 1, 0);
        var batch = plan[Position++];
        return batch.Select(i => examples[i]).ToList();
    }

    public void MoveTo(int epoch, int position)
    {
        if (epoch != Epoch) plan = BatchPlan.ForEpoch(lengths, batchSize, seed, epoch, bucket);
        Epoch = epoch;
        Position = position;
    }
}
