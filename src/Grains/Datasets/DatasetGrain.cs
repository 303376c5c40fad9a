using System.Security.Cryptography;
using System.Text.Json;
using Distributed.Grains.Abstractions.Storage;
using Distributed.Grains.Hosting;
using Distributed.Options;
using Distributed.Grains.Storage;

namespace Distributed.Grains.Datasets;

/// <summary>
/// Receives one dataset's parts into the artifact store. The running hash lives in memory only: an upload cut by a
/// deactivation is refused at its next part and the client starts again from part 0 (parts are idempotent blobs).
/// </summary>
public sealed class DatasetGrain(IArtifactStore store, TrainingSiloOptions options) : Grain, IDatasetGrain
{
    IncrementalHash? hash;
    int nextPart;
    long received;

    string Hash
    {
        get
        {
            var key = this.GetPrimaryKeyString();
            if (!DatasetReference.IsHash(key)) throw new ArgumentException($"dataset '{key}': the key must be a SHA-256 in 64 lowercase hex digits");
            return key;
        }
    }

    public Task<DatasetInfo?> GetAsync() => DatasetManifest.ReadAsync(store, Hash);

    public async Task PutPartAsync(int part, byte[] content)
    {
        var key = Hash;
        ArgumentNullException.ThrowIfNull(content);
        if (content.Length is 0 or > DatasetReference.PartBytes) throw new ArgumentException($"dataset {key}: part {part} has {content.Length} bytes; 1..{DatasetReference.PartBytes} allowed");
        if (part < 0 || (long)part * DatasetReference.PartBytes + content.Length > DatasetReference.MaxBytes)
            throw new ArgumentException($"dataset {key}: part {part} would take it past {DatasetReference.MaxBytes >> 20} MiB, the largest dataset a cluster stores");
        if (part == 0)
        {
            // Once per upload (every upload starts at part 0): a stored dataset never changes.
            if (await GetAsync() is not null) throw new InvalidOperationException($"dataset {key} is stored already, and a stored dataset never changes");
            hash?.Dispose();
            hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
            nextPart = 0;
            received = 0;
        }
        if (hash is null || part != nextPart)
            throw new InvalidOperationException($"dataset {key}: part {part} arrived where part {nextPart} was expected; upload it again from part 0");
        await store.WriteAsync(ArtifactPaths.DatasetPart(key, part), content);
        hash.AppendData(content);
        nextPart++;
        received += content.Length;
    }

    public async Task<DatasetInfo> CompleteAsync(long bytes)
    {
        var key = Hash;
        if (bytes is < 1 or > DatasetReference.MaxBytes) throw new ArgumentException($"dataset {key}: {bytes} bytes; 1..{DatasetReference.MaxBytes} allowed");
        if (hash is null || nextPart == 0) throw new InvalidOperationException($"dataset {key}: no parts were uploaded");
        var actual = Convert.ToHexStringLower(hash.GetHashAndReset());
        hash.Dispose();
        hash = null;
        int parts = nextPart;
        nextPart = 0;
        if (actual != key || received != bytes)
            throw new InvalidOperationException($"dataset {key}: the {parts} parts uploaded hold {received} bytes hashing to {actual}, not {bytes} bytes hashing to the key; upload it again");
        var info = new DatasetInfo(key, bytes, parts, DateTimeOffset.UtcNow);
        // The manifest goes last: a dataset is visible only once all its parts are stored.
        await store.WriteAsync(ArtifactPaths.DatasetManifest(key), JsonSerializer.SerializeToUtf8Bytes(info));
        return info;
    }

    public async Task<int> DropIfAbandonedAsync()
    {
        var key = Hash;
        // This grain is the only writer of the dataset's parts, so no part arrives while this runs.
        if (hash is not null || await DatasetManifest.ReadAsync(store, key) is not null) return 0;
        var parts = await store.ListAsync(ArtifactPaths.Dataset(key));
        var cutoff = DateTimeOffset.UtcNow - options.OrphanAge;
        foreach (var part in parts)
            if (await store.WrittenAtAsync(part) is { } written && written > cutoff) return 0;
        foreach (var part in parts) await store.DeleteAsync(part);
        DeactivateOnIdle();
        return parts.Count;
    }
}

/// <summary>Reads a dataset's manifest: present only when every part was stored and checked.</summary>
static class DatasetManifest
{
    public static async Task<DatasetInfo?> ReadAsync(IArtifactStore store, string hash) =>
        await store.ReadAsync(ArtifactPaths.DatasetManifest(hash)) is { } bytes ? JsonSerializer.Deserialize<DatasetInfo>(bytes) : null;
}
