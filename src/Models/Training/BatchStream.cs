using Distributed.Models.Data;

namespace Distributed.Models.Training;

/// <summary>
/// Endless batches, epoch after epoch. Its whole state is (epoch, position): each epoch's order is a pure function
/// of the seed and the epoch, so a checkpoint resumes on exactly the next batch. In a data-parallel run every
/// worker plans the same global batches of worldSize × batchSize examples and takes slice <c>rank</c>, so the
/// workers' batches of a step together are exactly the batch one worker with worldSize × batchSize would see.
/// </summary>
public sealed class BatchStream
{
    readonly IReadOnlyList<EncodedExample> examples;
    readonly int[] lengths;
    readonly int batchSize;
    readonly ulong seed;
    readonly bool bucket;
    readonly int rank;
    readonly int worldSize;
    IReadOnlyList<int[]> plan;

    public BatchStream(IReadOnlyList<EncodedExample> examples, int batchSize, ulong seed, bool bucketByLength, int rank = 0, int worldSize = 1)
    {
        if (examples.Count == 0) throw new ArgumentException("the training shard is empty", nameof(examples));
        ArgumentOutOfRangeException.ThrowIfLessThan(worldSize, 1);
        if (rank < 0 || rank >= worldSize) throw new ArgumentOutOfRangeException(nameof(rank), rank, $"must be in [0, {worldSize})");
        if (worldSize > 1 && examples.Count < (long)batchSize * worldSize)
            throw new ArgumentException($"the training split has {examples.Count} examples; {worldSize} workers x batch size {batchSize} need at least {batchSize * worldSize}");
        this.examples = examples;
        this.rank = rank;
        this.worldSize = worldSize;
        lengths = examples.Select(e => e.Source.Length).ToArray();
        this.batchSize = batchSize;
        this.seed = seed;
        bucket = bucketByLength;
        plan = BatchPlan.ForEpoch(lengths, batchSize * worldSize, seed, 0, bucket);
    }

    public int Epoch { get; private set; }
    public int Position { get; private set; }

    public IReadOnlyList<EncodedExample> Next()
    {
        if (Position >= plan.Count) MoveTo(Epoch + 1, 0);
        var batch = plan[Position++];
        if (worldSize == 1) return batch.Select(i => examples[i]).ToList();
        return batch.AsSpan(rank * batchSize, batchSize).ToArray().Select(i => examples[i]).ToList();
    }

    public void MoveTo(int epoch, int position)
    {
        if (epoch != Epoch) plan = BatchPlan.ForEpoch(lengths, batchSize * worldSize, seed, epoch, bucket);
        Epoch = epoch;
        Position = position;
    }
}
