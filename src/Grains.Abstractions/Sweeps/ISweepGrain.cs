using Distributed.Grains.Abstractions;
using Distributed.Grains.Abstractions.Training;
using Orleans.Concurrency;

namespace Distributed.Grains.Abstractions.Sweeps;

/// <summary>
/// A sweep, keyed by its id: expands the spec into trials, runs at most maxConcurrent at once, stops weak ones
/// early, and keeps every trial's outcome. Durable: after a restart it carries on where it was.
/// </summary>
[Alias("ISweepGrain")]
public interface ISweepGrain : IGrainWithStringKey
{
    /// <summary>Validates and starts the sweep; the same spec again returns it, another spec is refused.</summary>
    [ClientCall(ClientRole.Operator)] [Alias("Submit")] Task<SweepStatus> SubmitAsync(SweepSpec spec);
    /// <summary>Null when no sweep has this id. Interleaves: answered while a poll waits on a trial whose silo just died.</summary>
    [ClientCall(ClientRole.Reader)] [AlwaysInterleave, Alias("GetStatus")] Task<SweepStatus?> GetStatusAsync();
    /// <summary>Stops running trials (keeping what they produced) and queued ones never start.</summary>
    [ClientCall(ClientRole.Operator)] [Alias("Cancel")] Task<SweepStatus?> CancelAsync();
    /// <summary>A trial of this sweep evaluated or ended: look now rather than at the next poll. One-way, so a trial never waits on its sweep.</summary>
    [Alias("TrialChanged"), OneWay] Task TrialChangedAsync(string trialId);
    /// <summary>
    /// Deletes a finished or cancelled sweep: its record, its index entry, its trials' records and everything under
    /// trials/&lt;id&gt;/ and sweeps/&lt;id&gt;/. A running one is refused (InvalidOperationException) unless
    /// <paramref name="cancelFirst"/>; an unknown one too (ArgumentException).
    /// </summary>
    [ClientCall(ClientRole.Operator)] [Alias("Delete")] Task<SweepDeletion> DeleteAsync(bool cancelFirst);
}
