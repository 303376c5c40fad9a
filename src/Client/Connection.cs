using System.Net;
using System.Net.Sockets;
using Distributed.Grains.Abstractions;
using Distributed.Grains.Access;
using Distributed.Grains.Hosting;
using Distributed.Silo;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Distributed.Client;

/// <summary>
/// Where the client's grains live. With --cluster (or DISTRIBUTED_CLUSTER) it is an Orleans client of that gateway.
/// Otherwise it runs an embedded silo over the local data directory; a second client on the same directory finds
/// the first one's lock and connects to its gateway instead, so one silo owns the directory at a time.
/// </summary>
public sealed class Connection : IAsyncDisposable
{
    readonly IHost host;
    readonly DataDirectoryOwner? ownership;

    Connection(IHost host, DataDirectoryOwner? ownership, string description, ClusterCertificates? certificates)
    {
        this.host = host;
        this.ownership = ownership;
        Description = description;
        Caller = certificates is null ? Caller.Anonymous : ClusterCertificates.CallerOf(certificates.Certificate)!;
    }

    public IGrainFactory Grains => host.Services.GetRequiredService<IGrainFactory>();
    public string Description { get; }
    /// <summary>Whom the cluster sees: the client certificate's subject and role, or the anonymous operator of a cluster without TLS.</summary>
    public Caller Caller { get; }
    /// <summary>True when this process runs the silo: sweeps make progress only while it is up.</summary>
    public bool Embedded => ownership is not null;

    /// <summary>Where to connect, read from the command line (or environment) before any option is refused as unknown.</summary>
    public sealed record Target(string? Cluster, string ClusterId, string ServiceId, string DataDirectory, string? StorageConnection, string? Tls = null)
    {
        public static Target From(CommandLine cli) => cli.Text("storage-connection") is not null
            ? throw new UsageException("--storage-connection: a secret on the command line is visible to every process on the machine; set DISTRIBUTED_STORAGE_CONNECTION (and DISTRIBUTED_STORAGE=azure), or reach the cluster through a gateway with --cluster HOST:PORT")
            : new(
            cli.Text("cluster") ?? Environment.GetEnvironmentVariable("DISTRIBUTED_CLUSTER"),
            cli.Text("cluster-id") ?? Environment.GetEnvironmentVariable("DISTRIBUTED_CLUSTER_ID") ?? "distributed",
            cli.Text("service-id") ?? Environment.GetEnvironmentVariable("DISTRIBUTED_SERVICE_ID") ?? "distributed",
            Path.GetFullPath(cli.Text("data-dir") ?? Environment.GetEnvironmentVariable("DISTRIBUTED_DATA_DIR") ?? ".distributed"),
            Environment.GetEnvironmentVariable("DISTRIBUTED_STORAGE") == "azure" ? Environment.GetEnvironmentVariable("DISTRIBUTED_STORAGE_CONNECTION") : null,
            cli.Text("tls") ?? Environment.GetEnvironmentVariable("DISTRIBUTED_TLS"));
    }

    public static async Task<Connection> OpenAsync(Target target)
    {
        var (cluster, clusterId, serviceId, dataDir, storage, tls) = target;
        ClusterCertificates? certificates;
        try
        {
            certificates = tls is null ? null : ClusterCertificates.Load(tls);
        }
        catch (ArgumentException e)
        {
            throw new UsageException($"--tls (or DISTRIBUTED_TLS): {e.Message}");
        }
        if (certificates is not null && ClusterCertificates.CallerOf(certificates.Certificate) is null)
            throw new UsageException($"--tls (or DISTRIBUTED_TLS): {certificates.Certificate.Subject} is not a client's certificate (its subject needs OU=reader or OU=operator)");
        if (cluster is null && storage is not null)
        {
            // The cluster's own membership table lists its gateways: any silo that is up will do.
            if (await StorageCheck.ProblemAsync(storage, TimeSpan.FromSeconds(20)) is { } problem)
                throw new UsageException($"DISTRIBUTED_STORAGE_CONNECTION: {problem}");
            var tables = new Azure.Data.Tables.TableServiceClient(storage);
            return await ClientAsync(client => client.UseAzureStorageClustering(o => o.TableServiceClient = tables), certificates, clusterId, serviceId,
                $"cluster {clusterId} (membership in Azure Table)");
        }
        if (cluster is not null)
        {
            if (!IPEndPoint.TryParse(Resolve(cluster), out var endpoint) || endpoint.Port == 0)
                throw new UsageException($"--cluster: '{cluster}' is not HOST:PORT of a gateway");
            return await ClientAsync(client => client.UseStaticClustering(endpoint), certificates, clusterId, serviceId, $"cluster {cluster}");
        }

        var owner = DataDirectoryOwner.TryTake(dataDir);
        if (owner is null)
        {
            // Another process (a silo, or another client's embedded silo) owns this directory: join its cluster.
            for (int attempt = 0; ; attempt++)
            {
                if (DataDirectoryOwner.Read(dataDir) is { } gateway)
                {
                    try
                    {
                        return await ClientAsync(client => client.UseStaticClustering(new IPEndPoint(IPAddress.Loopback, gateway.Port)), certificates,
                            gateway.ClusterId, gateway.ServiceId, $"the silo that owns {dataDir}");
                    }
                    catch (ConnectionException) when (attempt < 30)
                    {
                    }
                }
                else if (attempt >= 30)
                {
                    throw new ConnectionException($"{dataDir} is held by another process whose silo did not come up");
                }
                await Task.Delay(1000);
            }
        }
        int siloPort = FreePort(), gatewayPort = FreePort();
        var builder = Host.CreateApplicationBuilder();
        builder.Logging.ClearProviders();
        builder.UseOrleans(silo => silo.UseLocalSilo(
            new SiloHostOptions { SiloPort = siloPort, GatewayPort = gatewayPort, ClusterId = "embedded", ServiceId = "embedded" },
            // The embedded silo is this user's own process: it may read the user's files.
            new TrainingSiloOptions { DataDir = dataDir, AllowLocalFiles = true }));
        var host = builder.Build();
        try
        {
            await host.StartAsync();
        }
        catch
        {
            owner.Dispose();
            host.Dispose();
            throw;
        }
        owner.Publish(new DataDirectoryOwner.Gateway(gatewayPort, "embedded", "embedded"));
        return new Connection(host, owner, $"embedded silo ({dataDir})", null);
    }

    static async Task<Connection> ClientAsync(Action<IClientBuilder> clustering, ClusterCertificates? certificates, string clusterId, string serviceId, string description)
    {
        var builder = Host.CreateApplicationBuilder();
        builder.Logging.ClearProviders();
        builder.UseOrleansClient(client =>
        {
            clustering(client);
            if (certificates is not null) client.UseClusterTls(certificates);
            client.Configure<Orleans.Configuration.ClusterOptions>(o =>
            {
                o.ClusterId = clusterId;
                o.ServiceId = serviceId;
            });
        });
        var host = builder.Build();
        try
        {
            await host.StartAsync().WaitAsync(TimeSpan.FromSeconds(30));
        }
        catch (Exception e)
        {
            host.Dispose();
            // A TLS gateway closes a plain connection without a word: say what the likely cause is.
            var hint = certificates is null ? " (a cluster with TLS also needs --tls DIR with a client certificate of its CA)" : "";
            throw new ConnectionException($"cannot reach {description}: {e.GetBaseException().Message}{hint}");
        }
        return new Connection(host, null, description, certificates);
    }

    static string Resolve(string hostAndPort)
    {
        int colon = hostAndPort.LastIndexOf(':');
        if (colon <= 0) return hostAndPort;
        var name = hostAndPort[..colon];
        if (IPAddress.TryParse(name, out _)) return hostAndPort;
        try
        {
            var address = Dns.GetHostAddresses(name).FirstOrDefault(a => a.AddressFamily == AddressFamily.InterNetwork);
            return address is null ? hostAndPort : $"{address}:{hostAndPort[(colon + 1)..]}";
        }
        catch (SocketException)
        {
            return hostAndPort;
        }
    }

    static int FreePort()
    {
        using var socket = new Socket(SocketType.Stream, ProtocolType.Tcp);
        socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        return ((IPEndPoint)socket.LocalEndPoint!).Port;
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            await host.StopAsync().WaitAsync(TimeSpan.FromSeconds(30));
        }
        catch (Exception)
        {
            // Leaving anyway: the directory's state is written as it changes, not at shutdown.
        }
        host.Dispose();
        ownership?.Dispose();
    }
}

/// <summary>The cluster could not be reached or failed at run time: exit code 1.</summary>
public sealed class ConnectionException(string message) : Exception(message);
