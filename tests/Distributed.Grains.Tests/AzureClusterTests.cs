using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text.RegularExpressions;
using Distributed.Grains.Abstractions.Sweeps;
using Distributed.Grains.Abstractions.Training;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Distributed.Sweeps;

namespace Distributed.Grains.Tests;

// Real silo processes sharing membership, state and checkpoints through Azure Storage (a real Azurite).
[Collection(AzuriteCollection.Name)]
[Trait("Category", "Integration")]
public partial class AzureClusterTests(Azurite azurite) : IAsyncLifetime
{
    readonly List<(Process Process, int SiloPort, ConcurrentQueue<string> Output)> silos = [];
    readonly string clusterId = $"azure-{Guid.NewGuid():N}"[..16];
    int basePort;
    IHost? client;
    // Each silo its own data directory, as on separate machines: nothing passes between them but Azure Storage.
    readonly string dataDirectories = Directory.CreateTempSubdirectory("distributed-azure-silos-").FullName;

    string DataDirectory(int siloPort) => Path.Combine(dataDirectories, $"{siloPort}");

    void StartSilo(int siloPort, int gatewayPort)
    {
        var (process, output) = Processes.StartAzureSilo(azurite.ConnectionString,
            ["--silo-port", $"{siloPort}", "--gateway-port", $"{gatewayPort}", "--cluster-id", clusterId, "--data-dir", DataDirectory(siloPort)]);
        silos.Add((process, siloPort, output));
    }

    [GeneratedRegex(@"Trial (\S+) run \d+: \d+ replicas of \d+ parameters at step \d+ on (.+)$")]
    private static partial Regex ReplicasLine();

    Task WaitUpAsync() => Processes.WaitUpAsync(silos.Select(s => (s.Process, s.Output)).ToList());

    /// <summary>A client that finds the silos through the cluster's membership table, as `distributed` does.</summary>
    async Task<IHost> ClientAsync()
    {
        var builder = Host.CreateApplicationBuilder();
        builder.Logging.ClearProviders();
        builder.UseOrleansClient(client => client.UseAzureStorageClustering(o => o.TableServiceClient = new Azure.Data.Tables.TableServiceClient(azurite.ConnectionString))
            .Configure<Orleans.Configuration.ClusterOptions>(o => { o.ClusterId = clusterId; o.ServiceId = "distributed"; }));
        var host = builder.Build();
        await host.StartAsync();
        return host;
    }

    /// <summary>
    /// <paramref name="count"/> silo processes on ports from <see cref="basePort"/> (silo) and basePort + 1000
    /// (gateway), and a client that finds them through membership (stopped with the test).
    /// </summary>
    async Task<IClusterClient> StartClusterAsync(int count)
    {
        basePort = 11500 + Random.Shared.Next(0, 200) * 3;
        for (int i = 0; i < count; i++) StartSilo(basePort + i, basePort + 1000 + i);
        await WaitUpAsync();
        client = await ClientAsync();
        return client.Services.GetRequiredService<IClusterClient>();
    }

    static SweepSpec Spec(string yaml, string file)
    {
        var (spec, errors) = SweepSpecReader.Read(yaml, file);
        Assert.Empty(errors);
        return spec!;
    }

    [Fact]
    public async Task A_wrong_key_or_endpoint_stops_the_silo_at_start_naming_the_setting()
    {
        var wrongKey = Regex.Replace(azurite.ConnectionString, "AccountKey=[^;]+", "AccountKey=" + Convert.ToBase64String(new byte[64]));
        var wrongEndpoint = Regex.Replace(azurite.ConnectionString, @"TableEndpoint=http://127\.0\.0\.1:\d+", "TableEndpoint=http://127.0.0.1:9");
        foreach (var (connection, expected) in new[] { (wrongKey, "/devstoreaccount1 refused the account name or key (403"), (wrongEndpoint, "http://127.0.0.1:9/devstoreaccount1 could not be reached: Connection refused") })
        {
            var (exit, _, error) = await Processes.RunAsync("Distributed.Silo.dll", ["--storage", "azure", "--data-dir", DataDirectory(0)],
                environment: new Dictionary<string, string> { ["DISTRIBUTED_STORAGE_CONNECTION"] = connection });
            Assert.Equal(2, exit);
            Assert.Contains("error: silo.storageConnection (DISTRIBUTED_STORAGE_CONNECTION): the Table endpoint http://127.0.0.1:", error);
            Assert.Contains(expected, error);
        }
        Assert.Null(await Distributed.Silo.StorageCheck.ProblemAsync(azurite.ConnectionString, TimeSpan.FromSeconds(20)));
    }

    [Fact]
    public async Task A_sweep_survives_a_restart_of_the_storage_emulator()
    {
        var grains = await StartClusterAsync(2);
        var spec = Spec("""
            data: { task: reverse, examples: 800, minLength: 3, maxLength: 6 }
            model: { embeddingSize: 8, hiddenSize: 16 }
            training: { batchSize: 16 }
            parallel: { workers: 2, exchangeTimeout: 10s, loadTimeout: 20s }
            schedule: { steps: 600, evaluateEvery: 100, evaluationExamples: 30, checkpointEvery: 50 }
            search: { space: { layers: [1, 2, 3] } }
            maxConcurrent: 2
            """, "storage.yaml");
        var sweep = grains.GetGrain<ISweepGrain>("storage-restart");
        await sweep.SubmitAsync(spec);
        var deadline = DateTime.UtcNow.AddSeconds(90);
        while ((await StatusAsync(sweep)).Trials.All(t => t.Step < 60))
        {
            Assert.True(DateTime.UtcNow < deadline, "no trial reached step 60");
            await Task.Delay(100);
        }

        await azurite.RestartAsync(TimeSpan.FromSeconds(3));

        await AssertEveryTrialCompletesEveryStepOnceAsync(grains, sweep, 600);
    }

    [Fact]
    public async Task A_silo_that_joins_mid_sweep_gets_workers_of_new_trials()
    {
        var grains = await StartClusterAsync(2);
        // The data is the user's file, uploaded into Blob storage and then deleted: the joining silo never saw it.
        var files = Directory.CreateTempSubdirectory("distributed-join-").FullName;
        File.WriteAllText(Path.Combine(files, "pairs.tsv"), DatasetTests.Corpus("xyz", 800, 5));
        var spec = Spec("""
            data: { tsvPath: pairs.tsv }
            model: { embeddingSize: 8, hiddenSize: 16 }
            training: { batchSize: 16 }
            parallel: { workers: 2 }
            schedule: { steps: 150, evaluateEvery: 75, evaluationExamples: 30, checkpointEvery: 75 }
            search: { space: { learningRate: [0.001, 0.002, 0.003, 0.004, 0.005, 0.006, 0.007, 0.008] } }
            maxConcurrent: 2
            """, "join.yaml");
        var datasets = Distributed.Client.SpecDatasets.Prepare(spec, files);
        await datasets.UploadAsync(grains, TextWriter.Null);
        Directory.Delete(files, recursive: true);
        var sweep = grains.GetGrain<ISweepGrain>("join");
        await sweep.SubmitAsync(datasets.Spec);
        while ((await sweep.GetStatusAsync())!.Trials.All(t => t.State == TrialState.Queued)) await Task.Delay(100);

        StartSilo(basePort + 2, basePort + 1002);
        await WaitUpAsync();
        await AssertEveryTrialCompletesEveryStepOnceAsync(grains, sweep, 150);
        // Some trial started after the join put a worker on the new silo.
        var placements = silos.SelectMany(s => s.Output).Select(l => ReplicasLine().Match(l)).Where(m => m.Success).ToList();
        Assert.Contains(placements, m => m.Groups[2].Value.Contains($"127.0.0.1:{basePort + 2}:", StringComparison.Ordinal));
        // ...and it trained on the file it fetched from Blob storage.
        Assert.True(File.Exists(Path.Combine(DataDirectory(basePort + 2), "datasets", datasets.Files.Single().Hash + ".tsv")));
    }

    [Fact]
    public async Task A_sweep_across_three_silo_processes_survives_kill_9_of_one()
    {
        var grains = await StartClusterAsync(3);

        var spec = Spec("""
            data: { task: reverse, examples: 1500, minLength: 4, maxLength: 8 }
            model: { embeddingSize: 16, hiddenSize: 32 }
            training: { batchSize: 16, learningRate: 0.003 }
            parallel: { workers: 2, exchangeTimeout: 5s, loadTimeout: 20s }
            schedule: { steps: 400, evaluateEvery: 100, evaluationExamples: 50, checkpointEvery: 50 }
            search: { space: { layers: [1, 2], bidirectional: [false, true] } }
            maxConcurrent: 2
            """, "azure.yaml");
        var sweep = grains.GetGrain<ISweepGrain>("across");
        await sweep.SubmitAsync(spec);

        // Kill -9 a silo that holds a worker of a running trial, once that trial has a checkpoint.
        var (victim, _) = await ChooseASiloUnderATrialAsync(sweep, t => t.Step >= 60);
        victim.Kill(entireProcessTree: true);

        var done = await AssertEveryTrialCompletesEveryStepOnceAsync(grains, sweep, 400);
        Assert.Equal(4, done.Trials.Count);
        Assert.Contains(done.Trials, t => t.Reason?.StartsWith("resumed from step", StringComparison.Ordinal) == true);
    }

    [Fact]
    public async Task SIGTERM_drains_a_silo_process_so_its_trial_resumes_where_it_stood()
    {
        var grains = await StartClusterAsync(3);
        // No periodic checkpoint before the end: without draining, the trial would start again from step 0.
        var spec = Spec("""
            data: { task: reverse, examples: 1500, minLength: 4, maxLength: 8 }
            model: { embeddingSize: 16, hiddenSize: 32 }
            training: { batchSize: 16, learningRate: 0.003 }
            parallel: { workers: 2, exchangeTimeout: 10s, loadTimeout: 20s }
            schedule: { steps: 600, evaluateEvery: 200, evaluationExamples: 50, checkpointEvery: 100000 }
            search: { space: { layers: [1, 2] } }
            maxConcurrent: 2
            """, "drain.yaml");
        var sweep = grains.GetGrain<ISweepGrain>("drain");
        await sweep.SubmitAsync(spec);

        // What Kubernetes does to a pod it scales in: SIGTERM, then up to terminationGracePeriodSeconds to leave.
        var (victim, trial) = await ChooseASiloUnderATrialAsync(sweep, t => t.Step >= 100);
        using (var signal = Process.Start("kill", ["-TERM", $"{victim.Id}"])) await signal.WaitForExitAsync();
        var exited = victim.WaitForExitAsync();
        Assert.True(await Task.WhenAny(exited, Task.Delay(TimeSpan.FromSeconds(60))) == exited, "the silo did not leave within 60 s of SIGTERM");
        Assert.Equal(0, victim.ExitCode);

        var done = await AssertEveryTrialCompletesEveryStepOnceAsync(grains, sweep, 600);
        var reason = done.Trials.Single(t => t.TrialId == trial.TrialId).Reason ?? "";
        var resumed = Regex.Match(reason, "resumed from step ([0-9]+)");
        Assert.True(resumed.Success, $"trial {trial.TrialId}: '{reason}'");
        Assert.True(long.Parse(resumed.Groups[1].Value) >= trial.Step,
            $"resumed from step {resumed.Groups[1].Value}, but the trial was at step {trial.Step} when its silo was signalled");
    }

    /// <summary>
    /// A silo process, not the first, that holds a worker of a running trial once <paramref name="ready"/> holds for
    /// that trial (its placement is read from the silos' logs); the trial's status as it was then.
    /// </summary>
    async Task<(Process Silo, SweepTrial Trial)> ChooseASiloUnderATrialAsync(ISweepGrain sweep, Func<SweepTrial, bool> ready)
    {
        var deadline = DateTime.UtcNow.AddSeconds(210);
        while (true)
        {
            Assert.True(DateTime.UtcNow < deadline, "no trial spread over the silos in time");
            var status = (await sweep.GetStatusAsync())!;
            foreach (var t in status.Trials.Where(t => t.State == TrialState.Running && ready(t)))
            {
                var line = silos.SelectMany(s => s.Output).Select(l => ReplicasLine().Match(l)).FirstOrDefault(m => m.Success && m.Groups[1].Value == t.TrialId);
                if (line is null) continue;
                var chosen = silos.Skip(1).FirstOrDefault(s => line.Groups[2].Value.Contains($"127.0.0.1:{s.SiloPort}:", StringComparison.Ordinal));
                if (chosen.Process is not null) return (chosen.Process, t);
            }
            await Task.Delay(100);
        }
    }

    /// <summary>
    /// Waits for the sweep, then checks every trial completed and recorded every step once: a resumed trial dropped
    /// what came after its checkpoint and ran it again, once.
    /// </summary>
    async Task<SweepStatus> AssertEveryTrialCompletesEveryStepOnceAsync(IClusterClient grains, ISweepGrain sweep, int steps)
    {
        SweepStatus done;
        var end = DateTime.UtcNow.AddMinutes(4);
        while (!(done = await StatusAsync(sweep)).IsFinished)
        {
            Assert.True(DateTime.UtcNow < end, "the sweep did not finish: " + string.Join(", ", done.Trials.Select(t => $"{t.Number}:{t.State}@{t.Step} {t.Reason}")));
            await Task.Delay(500);
        }
        Assert.Equal(SweepState.Completed, done.State);
        foreach (var t in done.Trials)
        {
            Assert.True(t.State == TrialState.Completed, $"trial {t.Number}: {t.State} {t.Reason}");
            var metrics = await grains.GetGrain<ITrialGrain>(t.TrialId).GetMetricsAsync(-1);
            Assert.Equal(Enumerable.Range(1, steps).Select(i => (long)i), metrics.Steps.Select(s => s.Step));
        }
        // The results are also a document in Blob storage, every trial with its whole history.
        var store = new Distributed.Grains.Storage.BlobArtifactStore(new Azure.Storage.Blobs.BlobContainerClient(azurite.ConnectionString, "artifacts"));
        using var results = System.Text.Json.JsonDocument.Parse((await store.ReadAsync(Distributed.Grains.Storage.ArtifactPaths.SweepJson(done.SweepId)))!);
        Assert.All(results.RootElement.GetProperty("trials").EnumerateArray(), t => Assert.Equal(steps, t.GetProperty("history").GetProperty("steps").GetArrayLength()));
        Assert.Equal(done.Trials.Count, results.RootElement.GetProperty("trials").GetArrayLength());
        return done;
    }

    /// <summary>A call that was on its way to the killed silo times out; asking again reaches the sweep where it lives now.</summary>
    static async Task<SweepStatus> StatusAsync(ISweepGrain sweep)
    {
        for (int attempt = 0; ; attempt++)
        {
            try
            {
                return (await sweep.GetStatusAsync())!;
            }
            catch (Exception e) when (attempt < 10 && e is TimeoutException or OrleansException)
            {
                await Task.Delay(1000);
            }
        }
    }

    public Task InitializeAsync() => Task.CompletedTask;

    // xunit 2 disposes test classes through IDisposable or IAsyncLifetime only: the silo processes must not outlive the test.
    public async Task DisposeAsync()
    {
        if (client is not null)
        {
            await client.StopAsync();
            client.Dispose();
        }
        foreach (var (process, _, _) in silos)
        {
            if (!process.HasExited) process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync();
            process.Dispose();
        }
        Directory.Delete(dataDirectories, recursive: true);
    }
}
