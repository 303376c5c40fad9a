using System.Net;
using Distributed.Grains.Access;
using Distributed.Grains.Hosting;
using Orleans.Configuration;

namespace Distributed.Silo;

/// <summary>A silo on this machine: localhost clustering (several silos join the first by its port) and local-directory storage.</summary>
public static class LocalSilo
{
    public static ISiloBuilder UseLocalSilo(this ISiloBuilder silo, SiloHostOptions options, TrainingSiloOptions training)
    {
        var primary = options.PrimaryPort is { } port ? new IPEndPoint(IPAddress.Loopback, port) : null;
        silo.UseLocalhostClustering(options.SiloPort, options.GatewayPort, primary, options.ServiceId, options.ClusterId);
        // Silos of one machine find dead peers quickly, so a lost worker is noticed in seconds, not a minute.
        silo.Configure<ClusterMembershipOptions>(m => m.ProbeTimeout = TimeSpan.FromSeconds(3));
        silo.UseClusterAccess(options.Certificates());
        return silo.AddDistributedTraining(training);
    }
}
