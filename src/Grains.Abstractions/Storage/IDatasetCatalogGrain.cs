using Distributed.Grains.Abstractions;
namespace Distributed.Grains.Abstractions.Storage;

/// <summary>A stored dataset, the names sweeps give it, and the sweeps that name it (the unfinished ones apart).</summary>
[GenerateSerializer, Immutable, Alias("StoredDataset")]
public sealed record StoredDataset(
    [property: Id(0)] DatasetInfo Info,
    [property: Id(1)] IReadOnlyList<string> Names,
    [property: Id(2)] IReadOnlyList<string> Sweeps,
    [property: Id(3)] IReadOnlyList<string> UnfinishedSweeps);

/// <summary>
/// The datasets in the cluster's artifact store: what `distributed datasets` lists, the one way for a client to upload
/// one, and the one way to delete one, which is refused while an unfinished sweep names it (its trials would find it gone).
/// </summary>
[Alias("IDatasetCatalogGrain")]
public interface IDatasetCatalogGrain : IGrainWithIntegerKey
{
    [ClientCall(ClientRole.Reader)] [Alias("List")] Task<IReadOnlyList<StoredDataset>> ListAsync();
    /// <summary>Deletes the dataset whose SHA-256 starts with <paramref name="hashPrefix"/> (6 to 64 hex digits).</summary>
    [ClientCall(ClientRole.Operator)] [Alias("Delete")] Task<StoredDataset> DeleteAsync(string hashPrefix);
    /// <summary>The stored dataset with this SHA-256, or null.</summary>
    [ClientCall(ClientRole.Reader)] [Alias("Find")] Task<DatasetInfo?> FindAsync(string hash);
    /// <summary>
    /// One part of an upload, in order from part 0. Clients upload here, never to the dataset itself: a stored
    /// dataset never changes, so a part for one is refused.
    /// </summary>
    [ClientCall(ClientRole.Operator)] [Alias("UploadPart")] Task UploadPartAsync(string hash, int part, byte[] content);
    /// <summary>Ends an upload: the parts must hold <paramref name="bytes"/> bytes hashing to <paramref name="hash"/>.</summary>
    [ClientCall(ClientRole.Operator)] [Alias("CompleteUpload")] Task<DatasetInfo> CompleteUploadAsync(string hash, long bytes);
}
