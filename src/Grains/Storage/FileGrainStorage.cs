using Orleans.Runtime;
using Orleans.Serialization;
using Orleans.Storage;

namespace Distributed.Grains.Storage;

/// <summary>
/// Grain state as files under the local data directory, one per grain, written aside and renamed so a crash never
/// leaves half a state. Every silo on the machine shares the directory, so a grain resumes its state on any of them.
/// </summary>
public sealed class FileGrainStorage(string root, Serializer serializer) : IGrainStorage
{
    public async Task ReadStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
    {
        var path = PathOf(stateName, grainId);
        if (!File.Exists(path))
        {
            grainState.RecordExists = false;
            grainState.ETag = null;
            return;
        }
        var bytes = await File.ReadAllBytesAsync(path);
        grainState.State = serializer.Deserialize<T>(bytes);
        grainState.RecordExists = true;
        grainState.ETag = ETagOf(path);
    }

    public async Task WriteStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
    {
        var path = PathOf(stateName, grainId);
        CheckETag(path, grainState.ETag);
        // A record is the old one or the new one, never a torn one.
        await AtomicFile.WriteAsync(path, serializer.SerializeToArray(grainState.State));
        grainState.ETag = ETagOf(path);
        grainState.RecordExists = true;
    }

    public Task ClearStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
    {
        var path = PathOf(stateName, grainId);
        CheckETag(path, grainState.ETag);
        File.Delete(path);
        grainState.ETag = null;
        grainState.RecordExists = false;
        return Task.CompletedTask;
    }

    // Another activation wrote since this one read: refuse rather than overwrite its state.
    static void CheckETag(string path, string? expected)
    {
        var actual = File.Exists(path) ? ETagOf(path) : null;
        if (actual != expected) throw new InconsistentStateException($"state file {path} changed since it was read", actual, expected);
    }

    static string ETagOf(string path) => File.GetLastWriteTimeUtc(path).Ticks.ToString(System.Globalization.CultureInfo.InvariantCulture);

    string PathOf(string stateName, GrainId grainId)
    {
        var name = $"{grainId.Type}_{grainId.Key}";
        var safe = string.Concat(name.Select(c => char.IsLetterOrDigit(c) || c is '-' or '_' or '.' ? c : '%'));
        // Escaping can merge names, so the hash keeps two grains apart.
        return Path.Combine(root, stateName, $"{safe}-{(uint)KeyHash.Of(name):x8}.bin");
    }
}
