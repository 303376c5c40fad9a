using System.Collections;
using Distributed.Grains.Hosting;
using Distributed.Silo;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace Distributed.Grains.Tests;

// src/Silo's settings: one name each, read from a file, the environment and the command line, validated before anything starts.
public class SiloConfigurationTests
{
    static readonly IDictionary NoEnvironment = new Hashtable();

    [Theory]
    [InlineData(new[] { "--silo-port", "0" }, "silo.siloPort (--silo-port): 0 is not a port (1..65535)")]
    [InlineData(new[] { "--gateway-port", "http" }, "silo.gatewayPort (--gateway-port): 'http' is not a whole number")]
    [InlineData(new[] { "--silo-port", "30000" }, "silo.gatewayPort (--gateway-port): must differ from the silo port 30000")]
    [InlineData(new[] { "--torch-threads", "0" }, "silo.torchThreads (--torch-threads): must be 1..256")]
    [InlineData(new[] { "--primary-port", "11111" }, "silo.primaryPort (--primary-port): is this silo's own port; leave it out on the first silo")]
    [InlineData(new[] { "--data-dir", " " }, "silo.dataDir (--data-dir): must be a directory path")]
    [InlineData(new[] { "--gradient-port", "-2" }, "silo.gradientPort (--gradient-port): must be -1 (off), 0 (any free port) or a port")]
    [InlineData(new[] { "--metrics-port", "8080", "--health-port", "8080" }, "silo.metricsPort (--metrics-port): is the health port; give /metrics its own")]
    [InlineData(new[] { "--metrics-port", "70000" }, "silo.metricsPort (--metrics-port): 70000 is not a port (0 for none, or 1..65535)")]
    [InlineData(new[] { "--memory-budget", "lots" }, "silo.memoryBudget (--memory-budget): 'lots' is not a size (bytes, or a number with KiB, MiB, GiB, TiB)")]
    [InlineData(new[] { "--memory-budget=1MiB" }, "silo.memoryBudget (--memory-budget): must be 0 (80% of the memory available) or at least 64 MiB")]
    [InlineData(new[] { "--colour", "blue" }, "unknown argument '--colour'")]
    [InlineData(new[] { "--data-dir" }, "--data-dir: needs a value")]
    [InlineData(new[] { "--settings", "/nonexistent/silo.json" }, "--settings: no such file /nonexistent/silo.json")]
    [InlineData(new[] { "--kubernetes", "yes" }, "silo.kubernetes (--kubernetes): 'yes' is not true or false")]
    [InlineData(new[] { "--kubernetes", "true" }, "silo.kubernetes (--kubernetes): needs storage azure: pods share nothing but Azure Storage")]
    [InlineData(new[] { "--storage-connection", "UseDevelopmentStorage=true" },
        "--storage-connection: a secret on the command line is visible to every process on the machine; set DISTRIBUTED_STORAGE_CONNECTION or put storageConnection in the --settings file")]
    [InlineData(new[] { "--storage", "azure" },
        "silo.storageConnection (--storage-connection): is required with storage azure, unless blobEndpoint and tableEndpoint name the account (reached with the pod's Azure identity)")]
    [InlineData(new[] { "--storage", "azure", "--blob-endpoint", "http://account.blob.core.windows.net", "--table-endpoint", "https://account.table.core.windows.net" },
        "silo.blobEndpoint (--blob-endpoint): 'http://account.blob.core.windows.net' is not an https:// URL")]
    [InlineData(new[] { "--kubernetes", "true", "--storage", "azure", "--blob-endpoint", "https://a.blob.core.windows.net", "--table-endpoint", "https://a.table.core.windows.net" },
        "silo.kubernetes (--kubernetes): this process is not in a Kubernetes pod with a service account token (KUBERNETES_SERVICE_HOST, /var/run/secrets/kubernetes.io/serviceaccount/token); the silo reads its cluster's pods through the API")]
    public void A_bad_setting_is_named(string[] args, string message)
    {
        var settings = SiloConfiguration.Read(args, NoEnvironment);
        Assert.Contains(message, settings.Problems);
    }

    [Fact]
    public void Storage_endpoints_without_a_key_reach_the_account_with_the_processs_azure_identity()
    {
        var settings = SiloConfiguration.Read(["--storage", "azure", "--blob-endpoint", "https://acct.blob.core.windows.net", "--table-endpoint", "https://acct.table.core.windows.net"], NoEnvironment);
        Assert.Empty(settings.Problems);
        var account = settings.Host.Account();
        Assert.True(account.UsesIdentity);
        Assert.Equal("https://acct.blob.core.windows.net/", account.Blobs().Uri.ToString());
        Assert.Equal("acct", account.Tables().AccountName);
        var keyed = SiloConfiguration.Read(["--storage", "azure"], new Hashtable { ["DISTRIBUTED_STORAGE_CONNECTION"] = "UseDevelopmentStorage=true" });
        Assert.Empty(keyed.Problems);
        Assert.False(keyed.Host.Account().UsesIdentity);
        var both = SiloConfiguration.Read(["--storage", "azure", "--blob-endpoint", "https://acct.blob.core.windows.net"], new Hashtable { ["DISTRIBUTED_STORAGE_CONNECTION"] = "UseDevelopmentStorage=true" });
        Assert.Contains("silo.blobEndpoint (--blob-endpoint): and tableEndpoint go without storageConnection: one way to reach the account", both.Problems);
    }

    [Fact]
    public void A_settings_file_then_the_environment_then_the_command_line_set_each_setting_by_one_name()
    {
        var file = Path.Combine(Path.GetTempPath(), $"silo-{Guid.NewGuid():N}.json");
        File.WriteAllText(file, """{ "siloPort": 12500, "gatewayPort": 31500, "datasetCache": "2GiB", "clusterId": "from-file", "orphanAge": "02:00:00" }""");
        try
        {
            var environment = new Hashtable { ["DISTRIBUTED_SILO_PORT"] = "12000", ["DISTRIBUTED_DATA_DIR"] = "/tmp/x", ["DISTRIBUTED_GATEWAY_PORT"] = "bad" };
            var bad = SiloConfiguration.Read(["--settings", file], environment);
            Assert.Contains("silo.gatewayPort (DISTRIBUTED_GATEWAY_PORT): 'bad' is not a whole number", bad.Problems);

            var settings = SiloConfiguration.Read(["--settings", file, "--gateway-port", "31000", "--data-dir", "/tmp/y"], environment);
            Assert.Empty(settings.Problems);
            Assert.Equal(12000, settings.Host.SiloPort);
            Assert.Equal(31000, settings.Host.GatewayPort);
            Assert.Equal("from-file", settings.Host.ClusterId);
            Assert.Equal("/tmp/y", settings.Training.DataDir);
            Assert.Equal(2L << 30, settings.Training.DatasetCache.Bytes);
            Assert.Equal(TimeSpan.FromHours(2), settings.Training.OrphanAge);
            Assert.Equal(new TrainingSiloOptions().MetricSegmentSteps, settings.Training.MetricSegmentSteps);

            File.WriteAllText(file, """{ "siloPrt": 12500 }""");
            Assert.Contains($"{file}: unknown setting 'siloPrt'", SiloConfiguration.Read(["--settings", file], NoEnvironment).Problems);
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Fact]
    public void Every_setting_is_in_the_usage_with_its_three_spellings_and_no_two_settings_share_one()
    {
        var usage = SiloConfiguration.Usage();
        foreach (var s in SiloConfiguration.Settings)
            Assert.Contains($"{s.Option} VALUE, {s.Variable}, \"{s.Name}\"", usage);
        Assert.Contains("--data-dir VALUE, DISTRIBUTED_DATA_DIR, \"dataDir\"", usage);
        Assert.Equal(SiloConfiguration.Settings.Count, SiloConfiguration.Settings.Select(s => s.Option).Distinct().Count());
    }

    [Fact]
    public async Task Options_validated_on_start_refuse_a_host_built_with_bad_settings()
    {
        var configuration = new Microsoft.Extensions.Configuration.ConfigurationBuilder()
            .AddInMemoryCollection(new Dictionary<string, string?> { ["torchThreads"] = "0" }).Build();
        var builder = Host.CreateApplicationBuilder();
        builder.Services.AddSiloOptions(configuration);
        using var host = builder.Build();
        var refused = await Assert.ThrowsAsync<Microsoft.Extensions.Options.OptionsValidationException>(() => host.StartAsync());
        Assert.Contains("silo.torchThreads: must be 1..256", refused.Failures);
    }
}
