using System.Collections;
using System.Diagnostics;
using Distributed.Grains.Abstractions.Training;
using Distributed.Grains.Hosting;
using Distributed.Silo;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Distributed.Grains.Tests;

// src/Silo: the real process hosting a trial, refusing bad settings with exit code 2.
[Trait("Category", "Integration")]
public class SiloHostTests
{
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
            Assert.Contains("silo.siloPort (--silo-port): 0 is not a port", error);
        }

        var directory = Path.Combine(Path.GetTempPath(), $"distributed-silo-{Guid.NewGuid():N}");
        var started = Processes.StartSilo(["--silo-port", "11411", "--gateway-port", "30411", "--health-port", "18411", "--data-dir", directory, "--cluster-id", "silo-test"]);
        using var silo = started.Process;
        try
        {
            await Processes.WaitUpAsync([started]);

            // The probes: a word each, from this silo's own view (no exception text, whatever happens).
            using (var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) })
            {
                var ready = await http.GetAsync("http://127.0.0.1:18411/ready");
                Assert.Equal(System.Net.HttpStatusCode.OK, ready.StatusCode);
                Assert.Equal("ready: 1 active silo(s)", await ready.Content.ReadAsStringAsync());
                Assert.Equal("alive", await http.GetStringAsync("http://127.0.0.1:18411/healthz"));
                Assert.Equal(System.Net.HttpStatusCode.NotFound, (await http.GetAsync("http://127.0.0.1:18411/secrets")).StatusCode);
            }

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
            Assert.Contains("silo.dataDir (--data-dir):", second.Error);
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
