using Distributed.Grains.Abstractions.Storage;
using Distributed.Grains.Abstractions.Sweeps;
using Distributed.Options;
using Distributed.Grains.Storage;

namespace Distributed.Grains.Datasets;

/// <summary>
/// Lists the stored datasets with the sweeps that name them, and deletes one the unfinished sweeps do not need:
/// its manifest first, so no silo fetches a half-deleted dataset, then its parts and this silo's copy.
/// </summary>
public sealed class DatasetCatalogGrain(IArtifactStore store, DatasetCache cache) : Grain, IDatasetCatalogGrain
{
    const int ShortestPrefix = 6;

    public async Task<IReadOnlyList<StoredDataset>> ListAsync()
    {
        var uses = await UsesAsync();
        var stored = new List<StoredDataset>();
        foreach (var path in await store.ListAsync(ArtifactPaths.Datasets))
        {
            var hash = path[ArtifactPaths.Datasets.Length..].Split('/')[0];
            if (!DatasetReference.IsHash(hash) || path != ArtifactPaths.DatasetManifest(hash)) continue;
            if (await DatasetManifest.ReadAsync(store, hash) is not { } info) continue;
            var mine = uses.Where(u => u.Hash == hash).ToList();
            stored.Add(new StoredDataset(info,
                mine.Select(u => u.Name).OfType<string>().Distinct().Order(StringComparer.Ordinal).ToList(),
                mine.Select(u => u.SweepId).Distinct().ToList(),
                mine.Where(u => !u.Finished).Select(u => u.SweepId).Distinct().ToList()));
        }
        return stored;
    }

    public Task<DatasetInfo?> FindAsync(string hash) => Dataset(hash).GetAsync();

    public Task UploadPartAsync(string hash, int part, byte[] content) => Dataset(hash).PutPartAsync(part, content);

    public Task<DatasetInfo> CompleteUploadAsync(string hash, long bytes) => Dataset(hash).CompleteAsync(bytes);

    IDatasetGrain Dataset(string hash) => DatasetReference.IsHash(hash)
        ? GrainFactory.GetGrain<IDatasetGrain>(hash)
        : throw new ArgumentException($"dataset: '{hash}' is not a SHA-256 (64 lowercase hex digits)");

    public async Task<StoredDataset> DeleteAsync(string hashPrefix)
    {
        var prefix = (hashPrefix ?? "").Trim();
        if (prefix.Length is < ShortestPrefix or > 64 || !prefix.All(char.IsAsciiHexDigitLower))
            throw new ArgumentException($"dataset: '{hashPrefix}' must be {ShortestPrefix} to 64 lowercase hex digits of a dataset's SHA-256 (`distributed datasets` lists them)");
        var matches = (await ListAsync()).Where(d => d.Info.Hash.StartsWith(prefix, StringComparison.Ordinal)).ToList();
        var dataset = matches switch
        {
            [] => throw new ArgumentException($"dataset: no stored dataset's SHA-256 starts with {prefix} (`distributed datasets` lists them)"),
            [var one] => one,
            _ => throw new ArgumentException($"dataset: {prefix} starts {matches.Count} datasets' SHA-256 ({string.Join(", ", matches.Select(m => m.Info.Hash[..12]))}); give more digits"),
        };
        if (dataset.UnfinishedSweeps.Count > 0)
            throw new InvalidOperationException($"dataset {dataset.Info.Hash[..12]} is named by unfinished sweep{(dataset.UnfinishedSweeps.Count > 1 ? "s" : "")} " +
                $"{string.Join(", ", dataset.UnfinishedSweeps)}; cancel them or let them finish first");
        string hash = dataset.Info.Hash;
        await store.DeleteAsync(ArtifactPaths.DatasetManifest(hash));
        foreach (var part in await store.ListAsync(ArtifactPaths.Dataset(hash))) await store.DeleteAsync(part);
        cache.Forget(hash);
        return dataset;
    }

    sealed record Use(string Hash, string? Name, string SweepId, bool Finished);

    // Every dataset reference a sweep's spec names, in its data or among its searched values: TPE's trials are not all known yet.
    async Task<List<Use>> UsesAsync()
    {
        var uses = new List<Use>();
        foreach (var id in await GrainFactory.GetGrain<ISweepIndexGrain>(0).ListAsync())
        {
            if (await GrainFactory.GetGrain<ISweepGrain>(id).GetStatusAsync() is not { } status) continue;
            foreach (var path in DatasetReference.FindIn(System.Text.Json.JsonSerializer.Serialize(status.Spec)).Distinct())
                if (DatasetReference.TryParse(path, out var hash))
                    uses.Add(new Use(hash, DatasetReference.FileName(path!), id, status.IsFinished));
        }
        return uses;
    }
}
