using Distributed.Grains.Abstractions.Sweeps;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Distributed.Grains.Sweeps;

/// <summary>
/// Wakes unfinished sweeps every half minute. A sweep polls its trials from a timer, and a timer dies with its
/// silo: this brings a sweep whose silo was lost back on one that remains, with no client needed.
/// </summary>
public sealed class SweepWaker(IGrainFactory grains, ILogger<SweepWaker> log) : BackgroundService
{
    static readonly TimeSpan Every = TimeSpan.FromSeconds(30);

    protected override async Task ExecuteAsync(CancellationToken stopping)
    {
        while (!stopping.IsCancellationRequested)
        {
            try
            {
                await Task.Delay(Every, stopping);
                await grains.GetGrain<ISweepIndexGrain>(0).ResumeAllAsync().WaitAsync(TimeSpan.FromMinutes(2), stopping);
            }
            catch (OperationCanceledException) when (stopping.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e)
            {
                log.LogWarning(e, "Waking unfinished sweeps failed; trying again in {Seconds} s", Every.TotalSeconds);
            }
        }
    }
}
