using Distributed.Grains.Abstractions.Storage;
using Distributed.Grains.Abstractions.Sweeps;
using Distributed.Grains.Datasets;
using Distributed.Grains.Storage;
using Distributed.Grains.Sweeps;
using Distributed.Grains.Training;
using Distributed.Models;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Orleans.Configuration;
using Orleans.Runtime.MembershipService.SiloMetadata;
using Orleans.Serialization;
using Orleans.Storage;
using Distributed.Options;

namespace Distributed.Grains.Hosting;

public static class TrainingSiloBuilderExtensions
{
    /// <summary>
    /// Everything a silo needs to run trials: the replica host, the spread placement of workers, and local-directory
    /// grain state and artifacts (a cluster replaces those two with Azure storage before or after this call).
    /// </summary>
    public static ISiloBuilder AddDistributedTraining(this ISiloBuilder silo, TrainingSiloOptions options)
    {
        OptionErrors.EnsureValid(options, options.Validate());
        var root = Path.GetFullPath(options.DataDir);
        silo.Services.AddSingleton(options);
        silo.Services.AddSingleton<ReplicaHost>();
        silo.Services.AddSingleton<MemoryBudget>();
        // Every silo publishes its budget, so placement and the start of a trial can see what the others hold.
        silo.UseSiloMetadata(new Dictionary<string, string> { [MemoryBudget.MetadataKey] = MemoryBudget.Resolve(options.MemoryBudget).ToString(System.Globalization.CultureInfo.InvariantCulture) });
        silo.Services.AddSingleton<Predictor>();
        silo.Services.AddSingleton<DatasetCache>();
        silo.Services.AddSingleton<GradientChannelListener>();
        silo.Services.AddHostedService(services => services.GetRequiredService<GradientChannelListener>());
        silo.Services.TryAddSingleton<IArtifactStore>(_ => new LocalArtifactStore(Path.Combine(root, "artifacts")));
        silo.Services.TryAddKeyedSingleton<IGrainStorage>(StorageNames.State,
            (services, _) => new FileGrainStorage(Path.Combine(root, "state"), services.GetRequiredService<Serializer>()));
        silo.Services.AddPlacementDirector<SpreadPlacement, SpreadPlacementDirector>();
        // A stopping silo hands its directory partition over instead of making the other silos deactivate every grain
        // registered there: with the default directory, scaling in one silo killed coordinators on healthy ones and
        // the trials they ran lost what the drain had saved. Experimental in Orleans 10, hence the opt-in.
#pragma warning disable ORLEANSEXP003
        silo.AddDistributedGrainDirectory();
#pragma warning restore ORLEANSEXP003
        // Every training call has its own, explicit timeout (exchangeTimeout, loadTimeout); Orleans' default 30 s
        // would otherwise cut short a long load or evaluation the spec allows.
        silo.Configure<SiloMessagingOptions>(messaging => messaging.ResponseTimeout = TimeSpan.FromMinutes(30));
        // A restarted silo carries on with the sweeps that were running.
        // Not awaited: a sweep on a silo being replaced must not hold up this silo's start.
        silo.AddStartupTask((services, cancellation) =>
        {
            _ = services.GetRequiredService<IGrainFactory>().GetGrain<ISweepIndexGrain>(0).ResumeAllAsync();
            return Task.CompletedTask;
        });
        silo.Services.AddHostedService<SweepWaker>();
        silo.Services.AddHostedService<OrphanCollector>();
        return silo;
    }
}
