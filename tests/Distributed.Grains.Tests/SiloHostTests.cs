using System.Collections;
using System.Diagnostics;
using Distributed.Grains.Abstractions.Training;
using Distributed.Silo;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Distributed.Grains.Tests;

// src/Silo: settings validated before anything starts, and the real process hosting a trial.
[Trait("Category", "Integration")]
public class SiloHostTests
{
    static readonly IDictionary NoEnvironment = new Hashtable();

    [Theory]
    [InlineData(new[] { "--silo-port", "0" }, "--silo-port: '0' is not a port (1..65535)")]
    [InlineData(new[] { "--gateway-port", "http" }, "--gateway-port: 'http' is not a port (1..65535)")]
    [InlineData(new[] { "--silo-port", "30000" }, "silo.gatewayPort (--gateway-port): must differ from the silo port 30000")]
    [InlineData(new[] { "--torch-threads", "0" }, "silo.torchThreadsPerReplica (--torch-threads): must be 1..256")]
    [InlineData(new[] { "--primary-port", "11111" }, "silo.primarySiloPort (--primary-port): is this silo's own port; leave it out on the first silo")]
    [InlineData(new[] { "--data-dir", " " }, "silo.dataDirectory (--data-dir): must be a directory path")]
    [InlineData(new[] { "--gradient-port", "-2" }, "silo.gradientPort (--gradient-port): must be -1 (off), 0 (any free port) or a port")]
    [InlineData(new[] { "--colour", "blue" }, "unknown argument '--colour'")]
    [InlineData(new[] { "--data-dir" }, "--data-dir: needs a value")]
    [InlineData(new[] { "--kubernetes", "yes" }, "--kubernetes: 'yes' must be true or false")]
    [InlineData(new[] { "--kubernetes", "true" }, "silo.kubernetes (--kubernetes): needs --storage azure: pods share nothing but Azure Storage")]
    [InlineData(new[] { "--kubernetes", "true", "--storage", "azure", "--storage-connection", "UseDevelopmentStorage=true" },
        "silo.kubernetes (--kubernetes): this process is not in a Kubernetes pod with a service account token (KUBERNETES_SERVICE_HOST, /var/run/secrets/kubernetes.io/serviceaccount/token); the silo reads its cluster's pods through the API")]
    public void A_bad_setting_is_named(string[] args, string message)
    {
        var (options, errors) = SiloHostOptions.Read(args, NoEnvironment);
        Assert.Null(options);
        Assert.Contains(message, errors);
    }

    [Fact]
    public void Environment_variables_set_options_and_the_command_line_wins()
    {
        var environment = new Hashtable { ["DISTRIBUTED_SILO_PORT"] = "12000", ["DISTRIBUTED_DATA_DIR"] = "/tmp/x", ["DISTRIBUTED_GATEWAY_PORT"] = "bad" };
        var (_, errors) = SiloHostOptions.Read([], environment);
        Assert.Contains("DISTRIBUTED_GATEWAY_PORT: 'bad' is not a port (1..65535)", errors);

        var (options, none) = SiloHostOptions.Read(["--gateway-port", "31000", "--data-dir", "/tmp/y"], environment);
        Assert.Empty(none);
        Assert.Equal(12000, options!.SiloPort);
        Assert.Equal(31000, options.GatewayPort);
        Assert.Equal("/tmp/y", options.DataDirectory);
    }

    static Task<(int Exit, string Output, string Error)> RunAsync(string[] args) => Processes.RunAsync(args[0], args.Skip(1));

    [Fact]
    public async Task The_silo_process_runs_a_trial_for_a_client_and_exits_2_on_bad_settings()
    {
        var dll = Path.Combine(AppContext.BaseDirectory, "Distributed.Silo.dll");
        using (var bad = Process.Start(new ProcessStartInfo("dotnet", $"\"{dll}\" --silo-port 0") { RedirectStandardError = true })!)
        {
            var error = await bad.StandardError.ReadToEndAsync();
            await bad.WaitForExitAsync();
            Assert.Equal(2, bad.ExitCode);
            Assert.Contains("--silo-port: '0' is not a port", error);
        }

        var directory = Path.Combine(Path.GetTempPath(), $"distributed-silo-{Guid.NewGuid():N}");
        using var silo = Process.Start(new ProcessStartInfo("dotnet",
            $"\"{dll}\" --silo-port 11411 --gateway-port 30411 --data-dir \"{directory}\" --cluster-id silo-test")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        })!;
        try
        {
            string? line;
            while ((line = await silo.StandardOutput.ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(60))) is not null && !line.StartsWith("silo up", StringComparison.Ordinal)) { }
            Assert.NotNull(line);

            var builder = Host.CreateApplicationBuilder();
            builder.Logging.ClearProviders();
            builder.UseOrleansClient(client => client.UseLocalhostClustering(30411, "distributed", "silo-test"));
            using var host = builder.Build();
            await host.StartAsync();
            var trial = host.Services.GetRequiredService<IClusterClient>().GetGrain<ITrialGrain>("through-the-process");
            await trial.StartAsync(Specs.Tiny(workers: 2, steps: 30));
            TrialStatus status;
            var deadline = DateTime.UtcNow.AddSeconds(90);
            while (!(status = await trial.GetStatusAsync()).IsFinished && DateTime.UtcNow < deadline) await Task.Delay(200);
            Assert.Equal(TrialState.Completed, status.State);
            Assert.Equal(30, status.Step);
            Assert.True(File.Exists(Path.Combine(directory, "artifacts", status.CheckpointPath!)), "the checkpoint is in the silo's data directory");
            await host.StopAsync();

            // The command-line client against the same silo: through its gateway, or by its data directory.
            foreach (var target in new[] { new[] { "--cluster", "127.0.0.1:30411", "--cluster-id", "silo-test" }, new[] { "--data-dir", directory } })
            {
                var (exit, listed, error) = await RunAsync(["distributed.dll", "list", "--json", .. target]);
                Assert.True(exit == 0, error);
                Assert.Equal("[]", listed.Trim());
            }
            // A second cluster over the same directory is refused, naming the setting.
            var second = await RunAsync(["Distributed.Silo.dll", "--silo-port", "11412", "--gateway-port", "30412", "--data-dir", directory]);
            Assert.Equal(2, second.Exit);
            Assert.Contains("silo.dataDirectory (--data-dir):", second.Error);
            Assert.Contains("is in use by another silo or client", second.Error);
        }
        finally
        {
            silo.Kill(entireProcessTree: true);
            await silo.WaitForExitAsync();
            try { Directory.Delete(directory, recursive: true); } catch (IOException) { }
        }
    }
}
