using System.Collections.Concurrent;
using System.Security.Cryptography;
using Distributed.Grains.Abstractions.Storage;
using Distributed.Grains.Hosting;
using Distributed.Models.Data;
using Distributed.Options;
using Distributed.Grains.Storage;

namespace Distributed.Grains.Datasets;

/// <summary>
/// Turns <c>dataset:&lt;sha256&gt;</c> into a file on this silo: fetched once from the artifact store into the data
/// directory, checked against its hash, then read like any other TSV file. The copies stay within
/// <see cref="TrainingSiloOptions.DatasetCache"/>: a fetch first removes the least recently used copies no
/// replica of this silo holds, and is refused, naming the cap, when those are not enough.
/// </summary>
public sealed class DatasetCache(IArtifactStore store, TrainingSiloOptions options)
{
    readonly string directory = Path.Combine(Path.GetFullPath(options.DataDir), "datasets");
    readonly ConcurrentDictionary<string, Lazy<Task<string>>> files = new();
    // Which dataset each replica of this silo loaded from: those copies are never evicted.
    readonly Dictionary<string, string> users = [];
    readonly SemaphoreSlim room = new(1, 1);

    /// <summary>
    /// The options with a dataset reference replaced by the local file that holds it; other options as they are.
    /// <paramref name="user"/> (a replica's key) holds the copy until <see cref="Release"/>.
    /// </summary>
    public async Task<DataOptions> LocaliseAsync(DataOptions data, string? user = null)
    {
        if (options.LocalFileProblem(data.TsvPath) is { } refused) throw new InvalidOperationException(refused);
        if (!DatasetReference.TryParse(data.TsvPath, out var hash)) return data;
        if (user is not null) lock (users) users[user] = hash;
        var fetch = files.GetOrAdd(hash, h => new Lazy<Task<string>>(() => FetchAsync(h)));
        try
        {
            var path = await fetch.Value;
            File.SetLastAccessTimeUtc(path, DateTime.UtcNow);
            return data with { TsvPath = path };
        }
        catch
        {
            // A failed fetch is tried again by the next load rather than remembered.
            files.TryRemove(new KeyValuePair<string, Lazy<Task<string>>>(hash, fetch));
            if (user is not null) Release(user);
            throw;
        }
    }

    /// <summary>The replica <paramref name="user"/> no longer needs its dataset's copy.</summary>
    public void Release(string user)
    {
        lock (users) users.Remove(user);
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
        if (info.Bytes > DatasetReference.MaxBytes || info.Parts > DatasetReference.MaxBytes / DatasetReference.PartBytes + 1)
            throw new InvalidOperationException($"data.tsvPath: dataset {hash} claims {info.Bytes} bytes in {info.Parts} parts; at most {DatasetReference.MaxBytes} bytes are read");
        Directory.CreateDirectory(directory);
        await room.WaitAsync();
        try
        {
            MakeRoom(hash, info.Bytes);
            return await DownloadAsync(hash, info, target);
        }
        finally
        {
            room.Release();
        }
    }

    /// <summary>Removes the least recently used copies no replica holds until <paramref name="bytes"/> more fit under the cap.</summary>
    void MakeRoom(string hash, long bytes)
    {
        HashSet<string> held;
        lock (users) held = [.. users.Values];
        var copies = new DirectoryInfo(directory).GetFiles("*.tsv")
            .Where(f => Path.GetFileNameWithoutExtension(f.Name) != hash).OrderBy(f => f.LastAccessTimeUtc).ToList();
        long used = copies.Sum(f => f.Length);
        foreach (var copy in copies)
        {
            if (used + bytes <= options.DatasetCache) break;
            var name = Path.GetFileNameWithoutExtension(copy.Name);
            if (held.Contains(name)) continue;
            long length = copy.Length;
            files.TryRemove(name, out _);
            copy.Delete();
            used -= length;
        }
        if (used + bytes > options.DatasetCache)
            throw new InvalidOperationException($"data.tsvPath: dataset {hash} ({bytes:N0} bytes) does not fit in this silo's dataset cache " +
                $"({options.DatasetCache.Bytes:N0} bytes, --dataset-cache) beside the {used:N0} bytes its running trials hold");
    }

    async Task<string> DownloadAsync(string hash, DatasetInfo info, string target)
    {
        var temporary = $"{target}.{Guid.NewGuid():N}.tmp";
        try
        {
            using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
            long bytes = 0;
            await using (var file = new FileStream(temporary, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16, useAsync: true))
            {
                for (int part = 0; part < info.Parts; part++)
                {
                    var content = await store.ReadAsync(ArtifactPaths.DatasetPart(hash, part))
                        ?? throw new InvalidOperationException($"data.tsvPath: dataset {hash} lacks part {part} of {info.Parts} in the artifact store");
                    sha.AppendData(content);
                    bytes += content.Length;
                    // A damaged manifest or part must not fill the disk: nothing past the size it claims is written.
                    if (bytes > info.Bytes) break;
                    await file.WriteAsync(content);
                }
                file.Flush(flushToDisk: true);
            }
            var actual = Convert.ToHexStringLower(sha.GetHashAndReset());
            if (actual != hash || bytes != info.Bytes)
            {
                // Without its manifest the dataset counts as absent, so the next submit uploads it again.
                await store.DeleteAsync(ArtifactPaths.DatasetManifest(hash));
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
