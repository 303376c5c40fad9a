using System.Text.RegularExpressions;

namespace Distributed.Grains.Abstractions.Storage;

/// <summary>A dataset stored in the cluster's artifact store: its SHA-256, its size and how many parts hold it.</summary>
[GenerateSerializer, Immutable, Alias("DatasetInfo")]
public sealed record DatasetInfo(
    [property: Id(0)] string Hash,
    [property: Id(1)] long Bytes,
    [property: Id(2)] int Parts,
    [property: Id(3)] DateTimeOffset StoredAt);

/// <summary>
/// Uploads a dataset into the artifact store, keyed by the SHA-256 of its content (64 lowercase hex digits). Parts
/// come in order from 0; completing checks that they hash to the key, so a stored dataset is always whole and right.
/// </summary>
public interface IDatasetGrain : IGrainWithStringKey
{
    /// <summary>The stored dataset, or null when it is not (completely) stored.</summary>
    Task<DatasetInfo?> GetAsync();
    /// <summary>Part <paramref name="part"/>; part 0 starts the upload over.</summary>
    Task PutPartAsync(int part, byte[] content);
    /// <summary>Checks the parts against the key and the size, then makes the dataset visible to every silo.</summary>
    Task<DatasetInfo> CompleteAsync(long bytes);
    /// <summary>
    /// Deletes the parts of an upload that never completed: no manifest, none under way here, and every part older
    /// than the silo's orphan age. Returns how many parts went.
    /// </summary>
    [Alias("DropIfAbandoned")] Task<int> DropIfAbandonedAsync();
}

