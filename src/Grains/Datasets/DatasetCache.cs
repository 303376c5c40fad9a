using System.Collections.Concurrent;
using System.Security.Cryptography;
using Distributed.Grains.Abstractions.Storage;
using Distributed.Grains.Hosting;
using Distributed.Models.Data;

namespace Distributed.Grains.Datasets;

/// <summary>
/// Turns <c>dataset:&lt;sha256&gt;</c> into a file on this silo: fetched once from the artifact store into the data
/// directory, checked against its hash, then read like any other TSV file.
/// </summary>
public sealed class DatasetCache(IArtifactStore store, TrainingSiloOptions options)
{
    readonly string directory = Path.Combine(Path.GetFullPath(options.DataDirectory), "datasets");
    readonly ConcurrentDictionary<string, Lazy<Task<string>>> files = new();

    /// <summary>The options with a dataset reference replaced by the local file that holds it; other options as they are.</summary>
    public async Task<DataOptions> LocaliseAsync(DataOptions data)
    {
        if (!DatasetReference.TryParse(data.TsvPath, out var hash)) return data;
        var fetch = files.GetOrAdd(hash, h => new Lazy<Task<string>>(() => FetchAsync(h)));
        try
        {
            return data with { TsvPath = await fetch.Value };
        }
        catch
        {
            // A failed fetch is tried again by the next load rather than remembered.
            files.TryRemove(new KeyValuePair<string, Lazy<Task<string>>>(hash, fetch));
            throw;
        }
    }

    /// <summary>A deleted dataset: this silo's copy goes too (other silos' copies go with their data directories).</summary>
    public void Forget(string hash)
    {
        files.TryRemove(hash, out _);
        try
        {
            File.Delete(Path.Combine(directory, hash + ".tsv"));
        }
        catch (IOException)
        {
            // Still open in a load elsewhere on this machine: it is only a cached copy.
        }
    }

    /// <summary>Every dataset reference among <paramref name="tsvPaths"/> that the store does not hold.</summary>
    public async Task<IReadOnlyList<string>> MissingAsync(IEnumerable<string?> tsvPaths)
    {
        var missing = new List<string>();
        foreach (var path in tsvPaths.Distinct())
            if (DatasetReference.TryParse(path, out var hash) && await DatasetManifest.ReadAsync(store, hash) is null)
                missing.Add(path!);
        return missing;
    }

    async Task<string> FetchAsync(string hash)
    {
        var target = Path.Combine(directory, hash + ".tsv");
        // A file already here (another silo of this machine, or an earlier run) is used once it checks out.
        if (File.Exists(target) && await HashOfFileAsync(target) == hash) return target;
        var info = await DatasetManifest.ReadAsync(store, hash)
            ?? throw new InvalidOperationException($"data.tsvPath: dataset {hash} is not in the cluster's artifact store; `distributed submit` uploads the files a spec names");
        Directory.CreateDirectory(directory);
        var temporary = $"{target}.{Guid.NewGuid():N}.tmp";
        try
        {
            using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
            long bytes = 0;
            await using (var file = new FileStream(temporary, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16, useAsync: true))
            {
                for (int part = 0; part < info.Parts; part++)
                {
                    var content = await store.ReadAsync(DatasetReference.PartPath(hash, part))
                        ?? throw new InvalidOperationException($"data.tsvPath: dataset {hash} lacks part {part} of {info.Parts} in the artifact store");
                    sha.AppendData(content);
                    bytes += content.Length;
                    await file.WriteAsync(content);
                }
            }
            var actual = Convert.ToHexStringLower(sha.GetHashAndReset());
            if (actual != hash || bytes != info.Bytes)
            {
                // Without its manifest the dataset counts as absent, so the next submit uploads it again.
                await store.DeleteAsync(DatasetReference.ManifestPath(hash));
                throw new InvalidOperationException($"data.tsvPath: dataset {hash} read from the artifact store holds {bytes} bytes hashing to {actual}; it was damaged and is removed, submit again to upload it");
            }
            File.Move(temporary, target, overwrite: true);
            return target;
        }
        finally
        {
            if (File.Exists(temporary)) File.Delete(temporary);
        }
    }

    static async Task<string> HashOfFileAsync(string path)
    {
        await using var file = File.OpenRead(path);
        return await DatasetReference.HashOfAsync(file);
    }
}
