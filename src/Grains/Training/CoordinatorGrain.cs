using Distributed.Grains.Abstractions.Storage;
using Distributed.Grains.Abstractions.Training;
using Microsoft.Extensions.Logging;
using Orleans.Placement;
using Orleans.Runtime;
using Distributed.Grains.Storage;

namespace Distributed.Grains.Training;

/// <summary>
/// Runs one trial's synchronous data-parallel loop (<see cref="DataParallelLoop"/>) in the background of its
/// activation. The trial grain checks it is alive and starts a newer run from the last checkpoint when it is not.
/// </summary>
[PreferLocalPlacement]
public sealed class CoordinatorGrain(IGrainFactory grains, IArtifactStore store, ILocalSiloDetails silo, ILogger<CoordinatorGrain> log) : Grain, ICoordinatorGrain
{
    long runId = -1;
    Task? loop;
    CancellationTokenSource? stop;
    TrialRun? current;
    DataParallelLoop? running;

    public Task RunAsync(TrialRun run)
    {
        if (run.RunId < runId || (run.RunId == runId && loop is { IsCompleted: false })) return Task.CompletedTask;
        stop?.Cancel();
        runId = run.RunId;
        current = run;
        stop = new CancellationTokenSource();
        // Started, not awaited: it runs in this activation's turns between the calls it makes.
        running = new DataParallelLoop(run, silo.SiloAddress.ToString(), grains, store, log, stop.Token);
        loop = running.RunAsync();
        return Task.CompletedTask;
    }

    public Task<bool> IsRunningAsync(long id) => Task.FromResult(id == runId && loop is { IsCompleted: false });

    /// <summary>Cancels the run (the trial was cancelled) and frees its replicas once the loop has let go of them.</summary>
    public async Task StopAsync(long id)
    {
        if (id < runId || current is null) return;
        stop?.Cancel();
        if (loop is not null) await Task.WhenAny(loop, Task.Delay(TimeSpan.FromSeconds(30)));
        await DataParallelLoop.ReleaseWorkersAsync(grains, current.TrialId, current.Spec.Parallel.Workers, log);
    }

    public Task DrainedAsync(long id, long step, string path) =>
        id == runId && running is not null ? running.DrainedAsync(step, path) : Task.CompletedTask;

    public override async Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken)
    {
        bool running = loop is { IsCompleted: false };
        stop?.Cancel();
        // A silo stopping gracefully hands its runs over from where they stand, not from their last checkpoint.
        if (running && reason.ReasonCode == DeactivationReasonCode.ShuttingDown && this.running is { } handing)
        {
            try
            {
                await loop!.WaitAsync(TimeSpan.FromSeconds(10), cancellationToken);
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                log.LogDebug(e, "Run {Run} did not end cleanly before its hand-over", runId);
            }
            await handing.HandOverAsync();
        }
    }
}
