using Distributed.Grains.Abstractions.Sweeps;
using Distributed.Grains.Hosting;

namespace Distributed.Grains.Sweeps;

[GenerateSerializer, Alias("SweepIndex")]
public sealed class SweepIndex
{
    [Id(0)] public List<string> Ids { get; set; } = [];
    [Id(1)] public HashSet<string> Finished { get; set; } = [];
}

/// <summary>The list of sweeps (one grain, key 0), durable; wakes the unfinished ones when a silo starts.</summary>
public sealed class SweepIndexGrain([PersistentState("sweeps", StorageNames.State)] IPersistentState<SweepIndex> index) : Grain, ISweepIndexGrain
{
    public async Task AddAsync(string sweepId)
    {
        if (index.State.Ids.Contains(sweepId)) return;
        index.State.Ids.Add(sweepId);
        await index.WriteStateAsync();
    }

    public Task<IReadOnlyList<string>> ListAsync() => Task.FromResult<IReadOnlyList<string>>(index.State.Ids.ToList());

    public async Task FinishedAsync(string sweepId)
    {
        if (index.State.Finished.Add(sweepId)) await index.WriteStateAsync();
    }

    public async Task RemoveAsync(string sweepId)
    {
        bool listed = index.State.Ids.Remove(sweepId);
        if (index.State.Finished.Remove(sweepId) || listed) await index.WriteStateAsync();
    }

    public async Task ResumeAllAsync()
    {
        // Asking for its status activates a sweep; an unfinished one starts polling its trials again.
        foreach (var id in index.State.Ids.Where(id => !index.State.Finished.Contains(id)))
        {
            try
            {
                await GrainFactory.GetGrain<ISweepGrain>(id).GetStatusAsync().WaitAsync(TimeSpan.FromSeconds(20));
            }
            catch (Exception e) when (e is TimeoutException or OrleansException)
            {
                // A sweep on a silo that is being replaced: the next round wakes it.
            }
        }
    }
}
