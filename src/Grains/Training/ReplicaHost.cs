using Distributed.Models.Training;
using System.Collections.Concurrent;
using Distributed.Grains.Abstractions.Training;
using Distributed.Grains.Hosting;
using Distributed.Models.Data;
using Distributed.Options;

namespace Distributed.Grains.Training;

/// <summary>
/// The replicas living on this silo, each on its own thread, and the data sets they share: every worker of a
/// silo that trains on the same data options gets one loaded copy.
/// </summary>
public sealed class ReplicaHost(TrainingSiloOptions options, MemoryBudget budget) : IDisposable
{
    const int CachedDataSets = 4;
    // A silo that hosts replicas trains: its native heap keeps activation buffers between steps.
    static ReplicaHost() => NativeHeap.Configure();
    readonly ConcurrentDictionary<string, Replica> replicas = new();
    readonly Dictionary<string, long> reserved = [];

    /// <summary>Bytes reserved by the replicas of this silo, and the budget they share.</summary>
    public (long Reserved, long Budget, int Replicas) Memory
    {
        get { lock (reserved) return (reserved.Values.Sum(), budget.Local, reserved.Count); }
    }

    /// <summary>
    /// Sets aside <paramref name="bytes"/> for replica <paramref name="key"/> (replacing what it held), or refuses
    /// with null when the silo's budget cannot hold it besides the others; the reservation ends at <see cref="Close"/>.
    /// </summary>
    public string? Reserve(string key, long bytes)
    {
        lock (reserved)
        {
            long others = reserved.Where(r => r.Key != key).Sum(r => r.Value);
            if (others + bytes > budget.Local)
                return $"this silo's memory budget is {ReplicaMemory.Format(budget.Local)}; its other {reserved.Count(r => r.Key != key)} replicas hold " +
                       $"{ReplicaMemory.Format(others)} and this one needs about {ReplicaMemory.Format(bytes)}";
            reserved[key] = bytes;
            return null;
        }
    }
    readonly List<(DataOptions Options, Lazy<PreparedData> Data)> dataSets = [];

    public Replica Open(string key) => replicas.GetOrAdd(key, k => new Replica(k, this, options.TorchThreads));

    public void Close(string key)
    {
        if (replicas.TryRemove(key, out var replica)) replica.Dispose();
        lock (reserved) reserved.Remove(key);
    }

    internal Replica? Find(string key) => replicas.GetValueOrDefault(key);

    // A run's workers on this silo that sum in shared memory, by trial and run.
    readonly ConcurrentDictionary<(string Trial, long Run), SiloGroup> groups = new();

    /// <summary>The shared-memory group of a run's workers on this silo, made by the first of them to ask.</summary>
    internal SiloGroup Group(string trialId, long runId, int size)
    {
        var group = groups.GetOrAdd((trialId, runId), _ => new SiloGroup(size));
        if (group.Size != size) throw new ArgumentException($"run {runId} of trial {trialId} has a group of {group.Size} workers on this silo, not {size}");
        return group;
    }

    /// <summary>Breaks and forgets a run's group (its run is over for this replica): its other members stop waiting.</summary>
    internal void Forget(string trialId, long runId, SiloGroup group, Exception reason)
    {
        group.Break(reason);
        groups.TryRemove(new KeyValuePair<(string, long), SiloGroup>((trialId, runId), group));
    }

    internal PreparedData Data(DataOptions data)
    {
        Lazy<PreparedData> entry;
        lock (dataSets)
        {
            int index = dataSets.FindIndex(d => d.Options == data);
            if (index >= 0)
            {
                entry = dataSets[index].Data;
            }
            else
            {
                entry = new Lazy<PreparedData>(data.Load);
                dataSets.Add((data, entry));
                if (dataSets.Count > CachedDataSets) dataSets.RemoveAt(0);
            }
        }
        try
        {
            return entry.Value;
        }
        catch
        {
            // A bad file is reported every time it is asked for, and a fixed one is read again.
            lock (dataSets) dataSets.RemoveAll(d => d.Data == entry);
            throw;
        }
    }

    public void Dispose()
    {
        foreach (var key in replicas.Keys) Close(key);
    }
}
