using System.ComponentModel;
using System.Net;
using Distributed.Grains.Access;
using Distributed.Options;

namespace Distributed.Silo;

/// <summary>
/// How a silo joins its cluster: ids, ports, storage, address, probes. Bound with <see cref="Grains.Hosting.TrainingSiloOptions"/>
/// from one flat set of settings (<see cref="SiloConfiguration"/>); the property names are the settings' names.
/// </summary>
public sealed record SiloHostOptions
{
    [Description("cluster id; silos of one cluster share it")]
    public string ClusterId { get; init; } = "distributed";
    [Description("service id; grain state is keyed by it, so keep it across deployments")]
    public string ServiceId { get; init; } = "distributed";
    [Description("port silos talk to each other on")]
    public int SiloPort { get; init; } = 11111;
    [Description("port clients connect to")]
    public int GatewayPort { get; init; } = 30000;
    [Description("silo port of the first silo of a localhost cluster; unset on that first silo")]
    public int? PrimaryPort { get; init; }
    [Description("local: localhost clustering and the data directory; azure: Azure Table membership, Blob state and artifacts")]
    public string Storage { get; init; } = "local";
    [Description("Azure Storage connection string; a secret, so the environment or the settings file only (or use the endpoints below)")]
    [PasswordPropertyText(true)]
    public string? StorageConnection { get; init; }
    [Description("Blob endpoint (https://ACCOUNT.blob.core.windows.net) reached with the pod's Azure identity: no account key")]
    public string? BlobEndpoint { get; init; }
    [Description("Table endpoint (https://ACCOUNT.table.core.windows.net) reached with the pod's Azure identity: no account key")]
    public string? TableEndpoint { get; init; }
    [Description("address other silos and clients reach this one at (a pod's IP on Kubernetes)")]
    public string AdvertisedAddress { get; init; } = "127.0.0.1";
    [Description("HTTP port of /healthz and /ready for Kubernetes probes; 0 serves none")]
    public int HealthPort { get; init; }
    [Description("HTTP port of /metrics for Prometheus (training, sweeps' queued trials, Orleans); 0 serves none")]
    public int MetricsPort { get; init; }
    [Description("port of the web dashboard (sweeps live, and the Orleans dashboard under /orleans for operators): HTTPS admitting the cluster's client certificates with tls, else loopback only; 0 serves none")]
    public int DashboardPort { get; init; }
    [Description("true in a Kubernetes pod: watches the cluster's pods, so a deleted pod's silo is declared dead at once")]
    public bool Kubernetes { get; init; }
    [Description("directory with tls.crt, tls.key (this silo's, OU=silo) and ca.crt (the cluster's CA), as cert-manager writes them: mutual TLS between silos and with clients")]
    public string? Tls { get; init; }

    /// <summary>The certificates <see cref="Tls"/> names, or null without TLS (a local cluster on loopback).</summary>
    public ClusterCertificates? Certificates() => Tls is { } directory ? ClusterCertificates.Load(directory) : null;

    /// <summary>The storage account these settings name (storage azure only).</summary>
    public StorageAccount Account() => StorageConnection is { } connection
        ? StorageAccount.FromConnectionString(connection)
        : StorageAccount.FromIdentity(new Uri(BlobEndpoint!), new Uri(TableEndpoint!));

    /// <summary>Where a pod finds its service account token; Orleans' Kubernetes hosting reads the API through it.</summary>
    public const string ServiceAccountToken = "/var/run/secrets/kubernetes.io/serviceaccount/token";

    public IReadOnlyList<string> Validate()
    {
        var errors = new OptionErrors("silo");
        errors.Check(!string.IsNullOrWhiteSpace(ClusterId), "clusterId", "must not be empty");
        errors.Check(!string.IsNullOrWhiteSpace(ServiceId), "serviceId", "must not be empty");
        errors.Check(SiloPort is >= 1 and <= 65535, "siloPort", $"{SiloPort} is not a port (1..65535)");
        errors.Check(GatewayPort is >= 1 and <= 65535, "gatewayPort", $"{GatewayPort} is not a port (1..65535)");
        errors.Check(SiloPort != GatewayPort, "gatewayPort", $"must differ from the silo port {SiloPort}");
        errors.Check(PrimaryPort is null or (>= 1 and <= 65535), "primaryPort", $"{PrimaryPort} is not a port (1..65535)");
        errors.Check(PrimaryPort is null || PrimaryPort != SiloPort, "primaryPort", "is this silo's own port; leave it out on the first silo");
        errors.Check(HealthPort is >= 0 and <= 65535, "healthPort", $"{HealthPort} is not a port (0 for none, or 1..65535)");
        errors.Check(MetricsPort is >= 0 and <= 65535, "metricsPort", $"{MetricsPort} is not a port (0 for none, or 1..65535)");
        errors.Check(MetricsPort == 0 || MetricsPort != HealthPort, "metricsPort", "is the health port; give /metrics its own");
        errors.Check(DashboardPort is >= 0 and <= 65535, "dashboardPort", $"{DashboardPort} is not a port (0 for none, or 1..65535)");
        errors.Check(DashboardPort == 0 || (DashboardPort != HealthPort && DashboardPort != MetricsPort), "dashboardPort", "is the health or metrics port; give the dashboard its own");
        errors.Check(Storage is "local" or "azure", "storage", $"'{Storage}' must be local or azure");
        bool endpoints = BlobEndpoint is not null || TableEndpoint is not null;
        errors.Check(Storage != "azure" || !string.IsNullOrWhiteSpace(StorageConnection) || endpoints, "storageConnection",
            "is required with storage azure, unless blobEndpoint and tableEndpoint name the account (reached with the pod's Azure identity)");
        errors.Check(StorageConnection is null || !endpoints, "blobEndpoint", "and tableEndpoint go without storageConnection: one way to reach the account");
        errors.Check(Storage != "azure" || string.IsNullOrWhiteSpace(StorageConnection) || StorageCheck.Parses(StorageConnection),
            "storageConnection", StorageCheck.NotAConnectionString);
        if (endpoints && StorageConnection is null)
        {
            errors.Check(StorageAccount.IsEndpoint(BlobEndpoint), "blobEndpoint", $"'{BlobEndpoint}' is not an https:// URL");
            errors.Check(StorageAccount.IsEndpoint(TableEndpoint), "tableEndpoint", $"'{TableEndpoint}' is not an https:// URL");
        }
        errors.Check(IPAddress.TryParse(AdvertisedAddress, out _), "advertisedAddress", $"'{AdvertisedAddress}' is not an IP address");
        errors.Check(!Kubernetes || Storage == "azure", "kubernetes", "needs storage azure: pods share nothing but Azure Storage");
        errors.Check(!Kubernetes || Tls is not null, "tls", "is required on Kubernetes: other pods can reach the silo's ports (docs/security.md)");
        if (Tls is not null)
        {
            try
            {
                var own = Certificates()!.Certificate;
                errors.Check(ClusterCertificates.IsSilo(own), "tls", $"{own.Subject} is not a silo's certificate (its subject needs OU={ClusterCertificates.SiloUnit})");
            }
            catch (ArgumentException e)
            {
                errors.Check(false, "tls", e.Message);
            }
        }
        return errors.List;
    }
}
