namespace Distributed.Grains.Abstractions.Storage;

/// <summary>A stored dataset, the names sweeps give it, and the sweeps that name it (the unfinished ones apart).</summary>
[GenerateSerializer, Immutable, Alias("StoredDataset")]
public sealed record StoredDataset(
    [property: Id(0)] DatasetInfo Info,
    [property: Id(1)] IReadOnlyList<string> Names,
    [property: Id(2)] IReadOnlyList<string> Sweeps,
    [property: Id(3)] IReadOnlyList<string> UnfinishedSweeps);

/// <summary>
/// The datasets in the cluster's artifact store: what `distributed datasets` lists, and the one way to delete one,
/// which is refused while an unfinished sweep names it (its trials would find it gone).
/// </summary>
[Alias("IDatasetCatalogGrain")]
public interface IDatasetCatalogGrain : IGrainWithIntegerKey
{
    [Alias("List")] Task<IReadOnlyList<StoredDataset>> ListAsync();
    /// <summary>Deletes the dataset whose SHA-256 starts with <paramref name="hashPrefix"/> (6 to 64 hex digits).</summary>
    [Alias("Delete")] Task<StoredDataset> DeleteAsync(string hashPrefix);
}
