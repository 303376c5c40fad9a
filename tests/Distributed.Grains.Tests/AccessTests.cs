using System.Buffers;
using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Diagnostics;
using System.IO.Pipelines;
using System.Text;
using Distributed.Grains.Abstractions;
using Distributed.Grains.Abstractions.Storage;
using Distributed.Grains.Abstractions.Training;
using Distributed.Grains.Access;
using Distributed.Grains.Training;
using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Orleans.Configuration;

namespace Distributed.Grains.Tests;

// The trust boundary with real processes: two silo processes on Azurite with mutual TLS from the development CA
// script, the `distributed` client as a process, and Orleans clients of this test process playing hostile callers.
[Collection(AzuriteCollection.Name)]
[Trait("Category", "Integration")]
public class AccessTests(Azurite azurite) : IAsyncLifetime
{
    readonly string root = Directory.CreateTempSubdirectory("distributed-access-").FullName;
    readonly string clusterId = $"access-{Guid.NewGuid():N}"[..16];
    readonly List<(Process Process, ConcurrentQueue<string> Output)> silos = [];
    readonly List<IHost> clients = [];
    int gateway, gradients, dashboard;

    string Certificates => Path.Combine(root, "certs");
    string OtherCertificates => Path.Combine(root, "other");

    public async Task InitializeAsync()
    {
        foreach (var directory in new[] { Certificates, OtherCertificates })
        {
            var script = Path.Combine(Azurite.RepositoryRoot(), "scripts", "dev-certs.sh");
            var start = new ProcessStartInfo("bash", [script, directory]) { RedirectStandardOutput = true, RedirectStandardError = true };
            using var process = Process.Start(start)!;
            await process.WaitForExitAsync();
            Assert.True(process.ExitCode == 0, await process.StandardError.ReadToEndAsync());
        }
        int basePort = 12100 + Random.Shared.Next(0, 200) * 3;
        gateway = basePort + 1000;
        gradients = basePort + 2000;
        for (int i = 0; i < 2; i++)
            silos.Add(Processes.StartAzureSilo(azurite.ConnectionString,
                ["--silo-port", $"{basePort + i}", "--gateway-port", $"{gateway + i}", "--cluster-id", clusterId, "--data-dir", Path.Combine(root, $"silo{i}"),
                 "--tls", Path.Combine(Certificates, "silo"), "--gradient-port", $"{gradients + i}", "--dashboard-port", $"{basePort + 3000 + i}"]));
        dashboard = basePort + 3000;
        await Processes.WaitUpAsync(silos);
    }

    public async Task DisposeAsync()
    {
        foreach (var client in clients)
        {
            try { await client.StopAsync().WaitAsync(TimeSpan.FromSeconds(10)); } catch (Exception) { }
            client.Dispose();
        }
        foreach (var (process, _) in silos)
        {
            if (!process.HasExited) process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync();
        }
        Directory.Delete(root, recursive: true);
    }

    string Log => string.Join('\n', silos.SelectMany(s => s.Output));

    Task<(int Exit, string Output, string Error)> Client(string? certificates, params string[] args) =>
        Processes.RunAsync("distributed.dll", [.. args, "--cluster", $"127.0.0.1:{gateway}", "--cluster-id", clusterId, .. certificates is null ? Array.Empty<string>() : ["--tls", certificates]], root);

    /// <summary>An Orleans client of this process with a certificate, through the first silo's gateway.</summary>
    async Task<IClusterClient> OrleansClientAsync(string role, Action<IClientBuilder>? more = null)
    {
        var builder = Host.CreateApplicationBuilder();
        builder.Logging.ClearProviders();
        builder.UseOrleansClient(client =>
        {
            client.UseStaticClustering(new System.Net.IPEndPoint(System.Net.IPAddress.Loopback, gateway))
                .Configure<ClusterOptions>(o => { o.ClusterId = clusterId; o.ServiceId = "distributed"; })
                .UseClusterTls(ClusterCertificates.Load(Path.Combine(Certificates, role)));
            client.Configure<ClientMessagingOptions>(m => m.ResponseTimeout = TimeSpan.FromSeconds(20));
            more?.Invoke(client);
        });
        var host = builder.Build();
        clients.Add(host);
        await host.StartAsync().WaitAsync(TimeSpan.FromSeconds(30));
        return host.Services.GetRequiredService<IClusterClient>();
    }

    [Fact]
    public async Task Only_certificates_of_the_clusters_CA_get_in_and_a_reader_may_query_but_not_submit_cancel_or_delete()
    {
        await File.WriteAllTextAsync(Path.Combine(root, "tiny.yaml"), """
            name: tiny
            data: { task: reverse, examples: 400, minLength: 3, maxLength: 5 }
            model: { embeddingSize: 8, hiddenSize: 16 }
            training: { batchSize: 16 }
            schedule: { steps: 400, evaluateEvery: 100, evaluationExamples: 20, checkpointEvery: 100 }
            search: { space: { layers: [1, 2] } }
            """);
        // Both wait out the client's connection timeout: side by side.
        var (anonymous, stranger) = (Client(null, "list"), Client(Path.Combine(OtherCertificates, "operator"), "list"));
        Assert.Equal(1, (await anonymous).Exit);
        Assert.Contains("cannot reach cluster", (await anonymous).Error);
        Assert.Contains("a cluster with TLS also needs --tls DIR", (await anonymous).Error);
        Assert.Equal(1, (await stranger).Exit);
        Assert.Contains("cannot reach cluster", (await stranger).Error);
        // A silo's certificate is not a client's, even from the right CA.
        var posing = await Client(Path.Combine(Certificates, "silo"), "list");
        Assert.Equal(2, posing.Exit);
        Assert.Contains("is not a client's certificate", posing.Error);

        string reader = Path.Combine(Certificates, "reader"), operatorCertificate = Path.Combine(Certificates, "operator");
        var refused = await Client(reader, "submit", "tiny.yaml");
        Assert.Equal(2, refused.Exit);
        Assert.True(refused.Error.Contains("refused: CN=reader, OU=reader, O=distributed holds the reader role; ISweepGrain.SubmitAsync needs operator"), refused.Error);
        var submitted = await Client(operatorCertificate, "submit", "tiny.yaml");
        Assert.True(submitted.Exit == 0, submitted.Error);

        var listed = await Client(reader, "list");
        Assert.True(listed.Exit == 0, listed.Error);
        Assert.Contains("tiny", listed.Output);
        var status = await Client(reader, "status", "tiny");
        Assert.True(status.Exit == 0, status.Error);
        Assert.Contains("submitted by CN=operator, OU=operator, O=distributed", status.Output);
        foreach (var change in new[] { new[] { "cancel", "tiny" }, ["delete", "tiny", "--cancel"] })
        {
            var denied = await Client(reader, change);
            Assert.Equal(2, denied.Exit);
            Assert.Contains("holds the reader role", denied.Error);
        }
        Assert.Contains("Refused ISweepGrain.SubmitAsync", Log);

        var cancelled = await Client(operatorCertificate, "cancel", "tiny");
        Assert.True(cancelled.Exit == 0, cancelled.Error);
    }

    /// <summary>A browser at the first silo's dashboard with the client certificate in <paramref name="directory"/> (null: none).</summary>
    HttpClient Browser(string? directory)
    {
        var authority = ClusterCertificates.Load(Path.Combine(Certificates, "silo")).Authorities[0];
        var handler = new SocketsHttpHandler();
        // The browser trusts the cluster's CA for the silo's certificate, as an operator's browser would be set up to.
        handler.SslOptions.RemoteCertificateValidationCallback = (_, certificate, _, _) => certificate is not null && certificate.Issuer == authority.Subject;
        if (directory is not null) handler.SslOptions.ClientCertificates = [ClusterCertificates.Load(directory).Certificate];
        return new HttpClient(handler) { BaseAddress = new Uri($"https://127.0.0.1:{dashboard}/"), Timeout = TimeSpan.FromSeconds(30) };
    }

    [Fact]
    public async Task The_silos_dashboard_admits_the_clusters_client_certificates_each_with_its_role()
    {
        // No certificate, another CA's, and a silo's: the TLS handshake fails before any request is read.
        foreach (var stranger in new[] { null, Path.Combine(OtherCertificates, "operator"), Path.Combine(Certificates, "silo") })
        {
            using var browser = Browser(stranger);
            await Assert.ThrowsAsync<HttpRequestException>(() => browser.GetAsync("api/sweeps"));
        }

        using var reader = Browser(Path.Combine(Certificates, "reader"));
        Assert.Contains("\"role\":\"reader\"", await reader.GetStringAsync("api/me"));
        Assert.Equal(System.Net.HttpStatusCode.OK, (await reader.GetAsync("api/sweeps")).StatusCode);
        Assert.Contains("<title>Distributed: sweeps</title>", await reader.GetStringAsync(""));
        var cancel = new HttpRequestMessage(HttpMethod.Post, "api/sweeps/nosuch/cancel") { Headers = { { "X-Distributed-Action", "cancel" } } };
        var refused = await reader.SendAsync(cancel);
        Assert.Equal(System.Net.HttpStatusCode.Forbidden, refused.StatusCode);
        Assert.Contains("holds the reader role; cancel needs operator", await refused.Content.ReadAsStringAsync());
        Assert.Equal(System.Net.HttpStatusCode.Forbidden, (await reader.GetAsync("orleans/")).StatusCode);

        using var operatorBrowser = Browser(Path.Combine(Certificates, "operator"));
        // Past the role check, to the sweep grain, which knows no such sweep.
        var passed = await operatorBrowser.SendAsync(new HttpRequestMessage(HttpMethod.Post, "api/sweeps/nosuch/cancel") { Headers = { { "X-Distributed-Action", "cancel" } } });
        Assert.Equal(System.Net.HttpStatusCode.NotFound, passed.StatusCode);
        Assert.Contains("no sweep 'nosuch'", await passed.Content.ReadAsStringAsync());
        // The Orleans dashboard: its page, and its API reading the cluster through grains (both silos active).
        var orleans = await operatorBrowser.GetAsync("orleans/");
        Assert.Equal(System.Net.HttpStatusCode.OK, orleans.StatusCode);
        Assert.Contains("<html", await orleans.Content.ReadAsStringAsync(), StringComparison.OrdinalIgnoreCase);
        var counters = await operatorBrowser.GetStringAsync("orleans/DashboardCounters");
        Assert.Contains("\"totalActiveHostCount\":2", counters.Replace(" ", ""));
    }

    [Fact]
    public async Task A_client_calling_internal_grain_methods_is_refused_and_the_trial_runs_on_untouched()
    {
        var grains = await OrleansClientAsync("operator");
        const string id = "access-internal";
        const int steps = 200;
        // Two workers, so a replica and the direct link run in each silo process.
        var spec = Specs.Tiny(workers: 2, steps: steps) with { Parallel = Specs.Tiny(workers: 2).Parallel with { ExchangeChunkBytes = 1024 } };
        await grains.GetGrain<ITrialGrain>(id).StartAsync(spec);

        var attempts = new (string Call, Func<Task> Attempt)[]
        {
            ("IWorkerGrain", () => grains.GetGrain<IWorkerGrain>(WorkerGrain.KeyOf(id, 0)).SaveCheckpointAsync(1, "../../../etc/owned")),
            ("IWorkerGrain", () => grains.GetGrain<IWorkerGrain>(WorkerGrain.KeyOf(id, 1)).ReleaseAsync()),
            ("ICoordinatorGrain", () => grains.GetGrain<ICoordinatorGrain>(id).StopAsync(1)),
            ("ITrialGrain.ReportAsync", () => grains.GetGrain<ITrialGrain>(id).ReportAsync(new TrialReport { RunId = 1, Outcome = TrialState.Completed, Reason = "forged" })),
            ("IDatasetGrain", () => grains.GetGrain<IDatasetGrain>(new string('a', 64)).PutPartAsync(0, [1, 2, 3])),
            ("ICallerGrain", () => grains.GetGrain<ICallerGrain>("sys.client/anyone").SetAsync(new Caller("me", Distributed.Grains.Abstractions.ClientRole.Operator))),
        };
        foreach (var (call, attempt) in attempts)
        {
            var error = await Assert.ThrowsAsync<UnauthorizedAccessException>(attempt);
            Assert.Contains("is internal to the cluster and not open to clients", error.Message);
            Assert.Contains(call.Split('.')[0], error.Message);
        }
        // A raw connection to each silo process's gradient port, greeting for each replica of this run without its token.
        for (int silo = 0; silo < 2; silo++)
            for (int rank = 0; rank < 2; rank++)
            {
                using var intruder = new System.Net.Sockets.Socket(System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Tcp);
                await intruder.ConnectAsync(new System.Net.IPEndPoint(System.Net.IPAddress.Loopback, gradients + silo));
                var challenge = new byte[GradientChannel.ChallengeBytes];
                for (int at = 0; at < challenge.Length;) at += await intruder.ReceiveAsync(challenge.AsMemory(at), System.Net.Sockets.SocketFlags.None);
                await intruder.SendAsync(GradientChannel.Hello(WorkerGrain.KeyOf(id, rank), 1, new byte[GradientChannel.TokenBytes], challenge));
                int read;
                try
                {
                    read = await intruder.ReceiveAsync(new byte[64], System.Net.Sockets.SocketFlags.None).WaitAsync(TimeSpan.FromSeconds(15));
                }
                catch (System.Net.Sockets.SocketException)
                {
                    read = 0;
                }
                Assert.Equal(0, read);
            }
        // A sweep sent straight to the sweep grain, naming a file of the silo's own machine.
        var (sweepSpec, problems) = Distributed.Sweeps.SweepSpecReader.Read("data: { tsvPath: /etc/passwd }\nsearch: { space: { layers: [1] } }\n", "direct.yaml");
        Assert.Empty(problems);
        var refused = await Assert.ThrowsAsync<ArgumentException>(() => grains.GetGrain<Distributed.Grains.Abstractions.Sweeps.ISweepGrain>("direct").SubmitAsync(sweepSpec!));
        Assert.Contains("data.tsvPath: '/etc/passwd' is not a dataset: reference; this silo reads only the datasets `distributed submit` stored", refused.Message);

        var deadline = DateTime.UtcNow.AddMinutes(3);
        TrialStatus status;
        while ((status = await grains.GetGrain<ITrialGrain>(id).GetStatusAsync()).State is TrialState.Queued or TrialState.Running)
        {
            Assert.True(DateTime.UtcNow < deadline, $"trial still {status.State} at step {status.Step}");
            await Task.Delay(250);
        }
        Assert.Equal(TrialState.Completed, status.State);
        Assert.Equal(0, status.Recoveries);
        var metrics = await grains.GetGrain<ITrialGrain>(id).GetMetricsAsync(-1);
        Assert.Equal(Enumerable.Range(1, steps).Select(i => (long)i), metrics.Steps.Select(s => s.Step));
        Assert.Contains("is internal to the cluster and not open to clients", Log);
        Assert.Contains("not its run's token", Log);
    }

    [Fact]
    public async Task A_client_passing_its_calls_off_as_another_senders_is_cut_off()
    {
        // This client rewrites the sender of every request it sends ("sys.client" to "sys.clienX"): to Orleans, a grain's call.
        var forged = OrleansClientAsync("operator", client => client.Configure<ClientConnectionOptions>(o => o.ConfigureConnection(c => c.Use(next => context => ForgeSender(context, next)))));
        await Assert.ThrowsAnyAsync<Exception>(async () =>
        {
            var grains = await forged;
            await grains.GetGrain<ITrialGrain>("forged").GetStatusAsync();
        });
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (!Log.Contains("a message claims to come from sys.clienX")) 
        {
            Assert.True(DateTime.UtcNow < deadline, "the gateway did not report the forged sender:\n" + Log[^Math.Min(Log.Length, 3000)..]);
            await Task.Delay(200);
        }
    }

    [Fact]
    public async Task A_frame_declaring_more_than_orleans_accepts_closes_the_connection_at_once()
    {
        // The first message after the preamble declares a 2 GiB body and never sends it: the gate must not wait for it.
        var oversized = OrleansClientAsync("operator", client => client.Configure<ClientConnectionOptions>(o => o.ConfigureConnection(c => c.Use(next => context =>
            Rewrite(context, next, (frame, index) => index == 0 ? frame : index == 1 ? Declaring(16, int.MaxValue) : [])))));
        var calling = Assert.ThrowsAnyAsync<Exception>(async () =>
        {
            var grains = await oversized;
            await grains.GetGrain<ITrialGrain>("oversized").GetStatusAsync();
        });
        // At once, on the 8 bytes that declare it: nothing of the body is waited for or held.
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (!Log.Contains($"a frame declares a 16-byte header and a {int.MaxValue}-byte body"))
        {
            Assert.True(DateTime.UtcNow < deadline, "the gateway did not refuse the oversized frame within 10 s:\n" + Log[^Math.Min(Log.Length, 3000)..]);
            await Task.Delay(200);
        }
        await calling;

        static byte[] Declaring(int header, int body)
        {
            var head = new byte[8];
            BinaryPrimitives.WriteInt32LittleEndian(head, header);
            BinaryPrimitives.WriteInt32LittleEndian(head.AsSpan(4), body);
            return head;
        }
    }

    /// <summary>Passes the preamble through, then changes the sending grain's type in each message header.</summary>
    static Task ForgeSender(ConnectionContext context, ConnectionDelegate next) => Rewrite(context, next, (frame, index) =>
    {
        int at = index == 0 ? -1 : frame.AsSpan(8).IndexOf("sys.client"u8);
        if (at is >= 0 and < 40) frame[8 + at + 9] = (byte)'X';
        return frame;
    });

    /// <summary>A client connection whose outgoing frames (0: the preamble, then each message) go out as <paramref name="rewrite"/> makes them.</summary>
    static async Task Rewrite(ConnectionContext context, ConnectionDelegate next, Func<byte[], int, byte[]> rewrite)
    {
        var original = context.Transport;
        var outgoing = new Pipe();
        context.Transport = new Duplex(original.Input, outgoing.Writer);
        var pump = Task.Run(async () =>
        {
            int index = 0;
            while (true)
            {
                var read = await outgoing.Reader.ReadAsync();
                var buffer = read.Buffer;
                while (true)
                {
                    bool preamble = index == 0;
                    var head = new byte[8];
                    if (buffer.Length < (preamble ? 4 : 8)) break;
                    buffer.Slice(0, preamble ? 4 : 8).CopyTo(head);
                    long length = preamble ? 4 + BinaryPrimitives.ReadInt32LittleEndian(head)
                        : 8L + BinaryPrimitives.ReadInt32LittleEndian(head) + BinaryPrimitives.ReadInt32LittleEndian(head.AsSpan(4));
                    if (buffer.Length < length) break;
                    await original.Output.WriteAsync(rewrite(buffer.Slice(0, length).ToArray(), index++));
                    buffer = buffer.Slice(length);
                }
                outgoing.Reader.AdvanceTo(buffer.Start, buffer.End);
                if (read.IsCompleted) break;
            }
        });
        try
        {
            await next(context);
        }
        finally
        {
            context.Transport = original;
        }
    }

    sealed class Duplex(PipeReader input, PipeWriter output) : IDuplexPipe
    {
        public PipeReader Input => input;
        public PipeWriter Output => output;
    }
}
