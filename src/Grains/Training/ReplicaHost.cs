using System.Collections.Concurrent;
using Distributed.Grains.Hosting;
using Distributed.Models.Data;

namespace Distributed.Grains.Training;

/// <summary>
/// The replicas living on this silo, each on its own thread, and the data sets they share: every worker of a
/// silo that trains on the same data options gets one loaded copy.
/// </summary>
public sealed class ReplicaHost(TrainingSiloOptions options) : IDisposable
{
    const int CachedDataSets = 4;
    readonly ConcurrentDictionary<string, Replica> replicas = new();
    readonly List<(DataOptions Options, Lazy<PreparedData> Data)> dataSets = [];

    public Replica Open(string key) => replicas.GetOrAdd(key, k => new Replica(k, this, options.TorchThreadsPerReplica));

    public void Close(string key)
    {
        if (replicas.TryRemove(key, out var replica)) replica.Dispose();
    }

    internal Replica? Find(string key) => replicas.GetValueOrDefault(key);

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
