using System.Net;
using Azure.Storage.Blobs;
using Distributed.Grains.Abstractions.Storage;
using Distributed.Grains.Access;
using Distributed.Grains.Hosting;
using Distributed.Grains.Storage;
using Microsoft.Extensions.DependencyInjection;
using Orleans.Configuration;
using Orleans.Serialization;
using Orleans.Storage;

namespace Distributed.Silo;

/// <summary>
/// A silo of a cluster on Azure Storage: membership in an Azure Table, grain state and artifacts (checkpoints,
/// results) in Azure Blob containers, so silos on any machine share them.
/// </summary>
public static class AzureSilo
{
    public static ISiloBuilder UseAzureSilo(this ISiloBuilder silo, SiloHostOptions options, TrainingSiloOptions training)
    {
        var account = options.Account();
        silo.Configure<ClusterOptions>(cluster =>
        {
            cluster.ClusterId = options.ClusterId;
            cluster.ServiceId = options.ServiceId;
        });
        silo.ConfigureEndpoints(IPAddress.Parse(options.AdvertisedAddress), options.SiloPort, options.GatewayPort, listenOnAnyHostAddress: true);
        silo.Configure<ClusterMembershipOptions>(m => m.ProbeTimeout = TimeSpan.FromSeconds(3));
        silo.UseAzureStorageClustering(clustering => clustering.TableServiceClient = account.Tables());
        silo.AddAzureBlobGrainStorage(StorageNames.State, storage => storage.Configure<IServiceProvider>((blob, services) =>
        {
            blob.BlobServiceClient = account.Blobs();
            blob.ContainerName = "grain-state";
            // The same binary form as the local files: records with init-only fields and read-only lists round-trip.
            blob.GrainStorageSerializer = new OrleansGrainStorageSerializer(services.GetRequiredService<Serializer>());
        }));
        silo.Services.AddSingleton<IArtifactStore>(new BlobArtifactStore(account.Blobs().GetBlobContainerClient("artifacts")));
        // Keeps the cluster id, service id and advertised address set above; adds the pod watch (Role in deploy/k8s/base/rbac.yaml).
        if (options.Kubernetes) silo.UseKubernetesHosting();
        silo.UseClusterAccess(options.Certificates());
        return silo.AddDistributedTraining(training);
    }
}
