using System.Collections;
using System.Globalization;
using Distributed.Grains.Hosting;
using Distributed.Models;
using Distributed.Options;

namespace Distributed.Silo;

/// <summary>
/// A silo's settings, from DISTRIBUTED_* environment variables overridden by --options. Validated before the
/// host starts; each bad setting gets its own message naming the option.
/// </summary>
public sealed record SiloHostOptions
{
    public string ClusterId { get; init; } = "distributed";
    public string ServiceId { get; init; } = "distributed";
    public int SiloPort { get; init; } = 11111;
    public int GatewayPort { get; init; } = 30000;
    /// <summary>Silo port of the first silo of a localhost cluster; unset means this silo is that first one.</summary>
    public int? PrimarySiloPort { get; init; }
    /// <summary>Grain state and artifacts; silos of one machine share it.</summary>
    public string DataDirectory { get; init; } = ".distributed";
    public int TorchThreadsPerReplica { get; init; } = 1;
    /// <summary>Port of the direct gradient links: 0 any free port, -1 off.</summary>
    public int GradientPort { get; init; }
    /// <summary>local: localhost clustering and the data directory; azure: Azure Table membership, Blob state and artifacts.</summary>
    public string Storage { get; init; } = "local";
    /// <summary>Azure Storage connection string (a secret: prefer the environment variable).</summary>
    public string? StorageConnection { get; init; }
    /// <summary>Address other silos and clients reach this one at (a pod's IP on Kubernetes).</summary>
    public string AdvertisedAddress { get; init; } = "127.0.0.1";
    /// <summary>HTTP port of /healthz and /ready for Kubernetes probes; 0 (the default) serves none.</summary>
    public int HealthPort { get; init; }
    /// <summary>Runs as a Kubernetes pod: watches its cluster's pods so a deleted pod's silo is declared dead at once.</summary>
    public bool Kubernetes { get; init; }
    /// <summary>Bytes the replicas of this silo may hold; 0 takes 80% of the memory the process may use (its cgroup limit).</summary>
    public long MemoryBudget { get; init; }
    /// <summary>Bytes of fetched datasets this silo keeps on disk (default 8 GiB).</summary>
    public long DatasetCacheBytes { get; init; } = 8L << 30;
    /// <summary>Where a pod finds its service account token; Orleans' Kubernetes hosting reads the API through it.</summary>
    public const string ServiceAccountToken = "/var/run/secrets/kubernetes.io/serviceaccount/token";

    /// <summary>Option name on the command line, and the environment variable behind it.</summary>
    static readonly (string Option, string Variable)[] Settings =
    [
        ("cluster-id", "DISTRIBUTED_CLUSTER_ID"), ("service-id", "DISTRIBUTED_SERVICE_ID"),
        ("silo-port", "DISTRIBUTED_SILO_PORT"), ("gateway-port", "DISTRIBUTED_GATEWAY_PORT"),
        ("primary-port", "DISTRIBUTED_PRIMARY_PORT"), ("data-dir", "DISTRIBUTED_DATA_DIR"),
        ("torch-threads", "DISTRIBUTED_TORCH_THREADS"), ("gradient-port", "DISTRIBUTED_GRADIENT_PORT"),
        ("storage", "DISTRIBUTED_STORAGE"), ("storage-connection", "DISTRIBUTED_STORAGE_CONNECTION"),
        ("address", "DISTRIBUTED_ADVERTISED_ADDRESS"), ("health-port", "DISTRIBUTED_HEALTH_PORT"),
        ("kubernetes", "DISTRIBUTED_KUBERNETES"), ("memory-budget", "DISTRIBUTED_MEMORY_BUDGET"),
        ("dataset-cache", "DISTRIBUTED_DATASET_CACHE"),
    ];

    public static string Usage => "usage: Distributed.Silo [" + string.Join("] [", Settings.Select(s => $"--{s.Option} VALUE")) +
        "]\n  each option may also come from its environment variable: " + string.Join(", ", Settings.Select(s => s.Variable));

    /// <summary>Reads the settings; on any problem returns them all, each naming the option (and variable) at fault.</summary>
    public static (SiloHostOptions? Options, IReadOnlyList<string> Errors) Read(string[] args, IDictionary environment)
    {
        var errors = new List<string>();
        var values = new Dictionary<string, (string Value, string Source)>();
        foreach (var (option, variable) in Settings)
            if (environment[variable] is string text) values[option] = (text, variable);
        for (int i = 0; i < args.Length; i++)
        {
            var name = args[i].StartsWith("--", StringComparison.Ordinal) ? args[i][2..] : null;
            if (name is null || Settings.All(s => s.Option != name))
            {
                errors.Add($"unknown argument '{args[i]}'");
                if (name is not null && i + 1 < args.Length && !args[i + 1].StartsWith("--", StringComparison.Ordinal)) i++;
                continue;
            }
            if (i + 1 >= args.Length) errors.Add($"--{name}: needs a value");
            else values[name] = (args[++i], $"--{name}");
        }

        int Port(string option, int fallback)
        {
            if (!values.TryGetValue(option, out var v)) return fallback;
            if (int.TryParse(v.Value, NumberStyles.None, CultureInfo.InvariantCulture, out var port) && port is >= 1 and <= 65535) return port;
            errors.Add($"{v.Source}: '{v.Value}' is not a port (1..65535)");
            return fallback;
        }
        string Text(string option, string fallback) => values.TryGetValue(option, out var v) ? v.Value : fallback;

        int Whole(string option, int fallback)
        {
            if (!values.TryGetValue(option, out var v)) return fallback;
            if (int.TryParse(v.Value, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var number)) return number;
            errors.Add($"{v.Source}: '{v.Value}' is not a whole number");
            return fallback;
        }

        bool Switch(string option)
        {
            if (!values.TryGetValue(option, out var v)) return false;
            if (bool.TryParse(v.Value, out var on)) return on;
            errors.Add($"{v.Source}: '{v.Value}' must be true or false");
            return false;
        }

        long Size(string option, long fallback = 0)
        {
            if (!values.TryGetValue(option, out var v)) return fallback;
            if (ByteSize.TryParse(v.Value, out var bytes)) return bytes;
            errors.Add($"{v.Source}: '{v.Value}' is not a size (bytes, or a number with KiB, MiB, GiB, TiB)");
            return fallback;
        }

        var defaults = new SiloHostOptions();
        int threads = Whole("torch-threads", defaults.TorchThreadsPerReplica);
        int gradientPort = Whole("gradient-port", defaults.GradientPort);
        var options = new SiloHostOptions
        {
            ClusterId = Text("cluster-id", defaults.ClusterId),
            ServiceId = Text("service-id", defaults.ServiceId),
            SiloPort = Port("silo-port", defaults.SiloPort),
            GatewayPort = Port("gateway-port", defaults.GatewayPort),
            PrimarySiloPort = values.ContainsKey("primary-port") ? Port("primary-port", 0) : null,
            DataDirectory = Text("data-dir", defaults.DataDirectory),
            TorchThreadsPerReplica = threads,
            GradientPort = gradientPort,
            Storage = Text("storage", defaults.Storage),
            StorageConnection = values.TryGetValue("storage-connection", out var c) ? c.Value : null,
            AdvertisedAddress = Text("address", defaults.AdvertisedAddress),
            HealthPort = values.ContainsKey("health-port") ? Port("health-port", 0) : 0,
            Kubernetes = Switch("kubernetes"),
            MemoryBudget = Size("memory-budget"),
            DatasetCacheBytes = Size("dataset-cache", defaults.DatasetCacheBytes),
        };
        if (errors.Count == 0) errors.AddRange(options.Validate());
        // Checked here, not in Validate: it is a fact about where the process runs, read from its environment.
        if (options.Kubernetes && (environment["KUBERNETES_SERVICE_HOST"] is not string || !File.Exists(ServiceAccountToken)))
            errors.Add($"silo.kubernetes ({values["kubernetes"].Source}): this process is not in a Kubernetes pod with a service account token " +
                       $"(KUBERNETES_SERVICE_HOST, {ServiceAccountToken}); the silo reads its cluster's pods through the API");
        return (errors.Count == 0 ? options : null, errors);
    }

    const string StorageConnectionField = "storageConnection (--storage-connection or DISTRIBUTED_STORAGE_CONNECTION)";
    /// <summary>How messages name the storage connection setting.</summary>
    public const string StorageConnectionSetting = "silo." + StorageConnectionField;

    public IReadOnlyList<string> Validate()
    {
        var errors = new OptionErrors("silo");
        errors.Check(!string.IsNullOrWhiteSpace(ClusterId), "clusterId (--cluster-id)", "must not be empty");
        errors.Check(!string.IsNullOrWhiteSpace(ServiceId), "serviceId (--service-id)", "must not be empty");
        errors.Check(SiloPort != GatewayPort, "gatewayPort (--gateway-port)", $"must differ from the silo port {SiloPort}");
        errors.Check(PrimarySiloPort is null || PrimarySiloPort != SiloPort, "primarySiloPort (--primary-port)",
            "is this silo's own port; leave it out on the first silo");
        errors.Check(Storage is "local" or "azure", "storage (--storage)", $"'{Storage}' must be local or azure");
        errors.Check(Storage != "azure" || !string.IsNullOrWhiteSpace(StorageConnection), StorageConnectionField,
            "is required with --storage azure");
        errors.Check(Storage != "azure" || string.IsNullOrWhiteSpace(StorageConnection) || StorageCheck.Parses(StorageConnection),
            StorageConnectionField, StorageCheck.NotAConnectionString);
        errors.Check(System.Net.IPAddress.TryParse(AdvertisedAddress, out _), "advertisedAddress (--address)", $"'{AdvertisedAddress}' is not an IP address");
        errors.Check(!Kubernetes || Storage == "azure", "kubernetes (--kubernetes)", "needs --storage azure: pods share nothing but Azure Storage");
        errors.Add(Training.Validate("silo").Select(e => e
            .Replace("silo.dataDirectory", "silo.dataDirectory (--data-dir)", StringComparison.Ordinal)
            .Replace("silo.torchThreadsPerReplica", "silo.torchThreadsPerReplica (--torch-threads)", StringComparison.Ordinal)
            .Replace("silo.gradientPort", "silo.gradientPort (--gradient-port)", StringComparison.Ordinal)
            .Replace("silo.memoryBudget", "silo.memoryBudget (--memory-budget)", StringComparison.Ordinal)
            .Replace("silo.datasetCacheBytes", "silo.datasetCacheBytes (--dataset-cache)", StringComparison.Ordinal)));
        return errors.List;
    }

    public TrainingSiloOptions Training => new()
    {
        DataDirectory = DataDirectory, TorchThreadsPerReplica = TorchThreadsPerReplica, GradientPort = GradientPort,
        MemoryBudget = MemoryBudget, DatasetCacheBytes = DatasetCacheBytes,
    };
}
