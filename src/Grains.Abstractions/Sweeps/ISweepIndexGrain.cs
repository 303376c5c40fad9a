using Distributed.Grains.Abstractions;
namespace Distributed.Grains.Abstractions.Sweeps;

/// <summary>Every sweep id, so `list` can show them and a restarted silo can resume the unfinished ones.</summary>
[Alias("ISweepIndexGrain")]
public interface ISweepIndexGrain : IGrainWithIntegerKey
{
    [Alias("Add")] Task AddAsync(string sweepId);
    [ClientCall(ClientRole.Reader)] [Alias("List")] Task<IReadOnlyList<string>> ListAsync();
    /// <summary>The sweep ended: no need to wake it any more.</summary>
    [Alias("Finished")] Task FinishedAsync(string sweepId);
    /// <summary>The sweep was deleted: list it no more.</summary>
    [Alias("Remove")] Task RemoveAsync(string sweepId);
    /// <summary>Wakes every unfinished sweep (at a silo's start, and every half minute in case a silo holding one was lost).</summary>
    [Alias("ResumeAll")] Task ResumeAllAsync();
}
