using System.Diagnostics;
using Distributed.Grains.Abstractions.Training;
using Distributed.Grains.Hosting;
using Distributed.Silo;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Distributed.Benchmarks;

/// <summary>A real silo in this process (ports apart from a developer's default silo), and optionally a second silo process.</summary>
public sealed class BenchmarkSilo : IAsyncDisposable
{
    const int SiloPort = 11311, GatewayPort = 30311;
    readonly IHost host;
    readonly string directory;
    readonly List<Process> others = [];

    BenchmarkSilo(IHost host, string directory)
    {
        this.host = host;
        this.directory = directory;
    }

    /// <summary>The silos' shared data directory (state and artifacts).</summary>
    public string DataDirectory => directory;

    public IGrainFactory Grains => host.Services.GetRequiredService<IGrainFactory>();

    /// <summary>True when this process's silo holds replica <paramref name="rank"/> of the trial (else the second process does).</summary>
    public bool HoldsHere(string trialId, int rank) =>
        host.Services.GetRequiredService<Distributed.Grains.Training.ReplicaHost>().Find(Distributed.Grains.Training.WorkerGrain.KeyOf(trialId, rank)) is not null;

    /// <summary>Certificates from the development CA script, made once per run: the silos talk TLS, as a deployment does.</summary>
    static readonly Lazy<string> Certificates = new(() =>
    {
        var directory = Path.Combine(Path.GetTempPath(), $"distributed-bench-certs-{Guid.NewGuid():N}");
        var root = new DirectoryInfo(AppContext.BaseDirectory);
        while (!File.Exists(Path.Combine(root.FullName, "Distributed.sln"))) root = root.Parent ?? throw new InvalidOperationException("repository root not found");
        using var script = Process.Start(new ProcessStartInfo("bash", [Path.Combine(root.FullName, "scripts", "dev-certs.sh"), directory]) { RedirectStandardOutput = true })!;
        script.WaitForExit();
        if (script.ExitCode != 0) throw new InvalidOperationException("scripts/dev-certs.sh failed");
        return Path.Combine(directory, "silo");
    });

    public static async Task<BenchmarkSilo> StartAsync()
    {
        var directory = Path.Combine(Path.GetTempPath(), $"distributed-bench-{Guid.NewGuid():N}");
        var builder = Host.CreateApplicationBuilder();
        builder.Logging.ClearProviders();
        builder.UseOrleans(silo => silo.UseLocalSilo(
            new SiloHostOptions { SiloPort = SiloPort, GatewayPort = GatewayPort, ClusterId = "bench", ServiceId = "bench", Tls = Certificates.Value },
            new TrainingSiloOptions { DataDir = directory }));
        var host = builder.Build();
        await host.StartAsync();
        return new BenchmarkSilo(host, directory);
    }

    /// <summary>Starts src/Silo as a separate process joining this silo on loopback, and waits until both are active.</summary>
    public Task AddSiloProcessAsync() => AddSiloProcessesAsync(1);

    /// <summary>The port of silo process <paramref name="k"/>'s /metrics (from 1; <see cref="AddSiloProcessesAsync"/> turns them on).</summary>
    public static int MetricsPort(int k) => 19600 + k;

    /// <summary>
    /// Bytes silo <paramref name="k"/>'s gradient links sent and received so far: this process's counters for 0, silo
    /// process k's `distributed_gradient_link_bytes_total` from its /metrics otherwise.
    /// </summary>
    public static async Task<(long Sent, long Received)> LinkBytesAsync(int k)
    {
        if (k == 0) return (Distributed.Grains.Training.GradientLink.SentBytes, Distributed.Grains.Training.GradientLink.ReceivedBytes);
        using var http = new HttpClient();
        var lines = (await http.GetStringAsync($"http://127.0.0.1:{MetricsPort(k)}/metrics")).Split('\n')
            .Where(l => l.StartsWith("distributed_gradient_link_bytes_total", StringComparison.Ordinal)).ToList();
        long Of(string direction) => lines.FirstOrDefault(l => l.Contains($"direction=\"{direction}\"")) is { } line
            ? (long)double.Parse(line.Split(' ')[^1], System.Globalization.CultureInfo.InvariantCulture) : 0;
        return (Of("sent"), Of("received"));
    }

    /// <summary>Starts <paramref name="count"/> src/Silo processes joining this silo on loopback, and waits until all are active.</summary>
    public async Task AddSiloProcessesAsync(int count)
    {
        var dll = Path.Combine(AppContext.BaseDirectory, "Distributed.Silo.dll");
        for (int k = 1; k <= count; k++)
        {
            var start = new ProcessStartInfo("dotnet", $"\"{dll}\" --silo-port {SiloPort + k} --gateway-port {GatewayPort + k} " +
                                                       $"--primary-port {SiloPort} --data-dir \"{directory}\" --cluster-id bench --service-id bench --tls \"{Certificates.Value}\" " +
                                                       $"--metrics-port {MetricsPort(k)}")
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
            };
            var process = Process.Start(start)!;
            process.OutputDataReceived += (_, _) => { };
            process.ErrorDataReceived += (_, _) => { };
            process.BeginOutputReadLine();
            process.BeginErrorReadLine();
            others.Add(process);
        }
        var management = Grains.GetGrain<IManagementGrain>(0);
        var deadline = DateTime.UtcNow.AddSeconds(60 + 20 * count);
        while ((await management.GetHosts(onlyActive: true)).Count < others.Count + 1)
        {
            if (others.Any(p => p.HasExited) || DateTime.UtcNow > deadline) throw new InvalidOperationException("a silo process did not join");
            await Task.Delay(250);
        }
    }

    /// <summary>Runs a trial to its end and returns its status and step metrics.</summary>
    public async Task<(TrialStatus Status, TrialMetrics Metrics)> RunAsync(string id, TrialSpec spec, Action<TrialStatus>? onPoll = null)
    {
        var trial = Grains.GetGrain<ITrialGrain>(id);
        await trial.StartAsync(spec);
        TrialStatus status;
        while (!(status = await trial.GetStatusAsync()).IsFinished)
        {
            onPoll?.Invoke(status);
            await Task.Delay(200);
        }
        if (status.State != TrialState.Completed) throw new InvalidOperationException($"trial {id} ended {status.State}: {status.Reason}");
        return (status, await trial.GetMetricsAsync(-1));
    }

    /// <summary>Runs one case against a fresh silo and returns its JSON line.</summary>
    public static string Measure(Func<BenchmarkSilo, Task<System.Text.Json.Nodes.JsonObject>> body) => Task.Run(async () =>
    {
        await using var silo = await StartAsync();
        return (await body(silo)).ToJsonString();
    }).GetAwaiter().GetResult();

    public async ValueTask DisposeAsync()
    {
        foreach (var process in others.Where(p => !p.HasExited))
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync();
        }
        await host.StopAsync();
        host.Dispose();
        try { Directory.Delete(directory, recursive: true); } catch (IOException) { }
    }
}
