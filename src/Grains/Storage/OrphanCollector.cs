using Distributed.Grains.Abstractions.Storage;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Distributed.Grains.Storage;

/// <summary>Runs a pass of the orphan collector a minute after the silo starts, then every hour.</summary>
public sealed class OrphanCollector(IGrainFactory grains, ILogger<OrphanCollector> log) : BackgroundService
{
    static readonly TimeSpan First = TimeSpan.FromMinutes(1), Every = TimeSpan.FromHours(1);

    protected override async Task ExecuteAsync(CancellationToken stopping)
    {
        var wait = First;
        while (!stopping.IsCancellationRequested)
        {
            try
            {
                await Task.Delay(wait, stopping);
                wait = Every;
                await grains.GetGrain<IOrphanCollectorGrain>(0).CollectAsync().WaitAsync(TimeSpan.FromMinutes(10), stopping);
            }
            catch (OperationCanceledException) when (stopping.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e)
            {
                log.LogWarning(e, "Collecting orphans in the artifact store failed; trying again in {Minutes} min", Every.TotalMinutes);
            }
        }
    }
}
