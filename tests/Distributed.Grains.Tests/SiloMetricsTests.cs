using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace Distributed.Grains.Tests;

// src/Silo's /metrics, scraped from a real silo process while a sweep runs on it, as Prometheus would.
[Trait("Category", "Integration")]
public class SiloMetricsTests : IDisposable
{
    const int MetricsPort = 19421, GatewayPort = 30421;
    readonly string directory = Path.Combine(Path.GetTempPath(), $"distributed-metrics-{Guid.NewGuid():N}");
    readonly HttpClient http = new() { Timeout = TimeSpan.FromSeconds(10) };

    public SiloMetricsTests() => Directory.CreateDirectory(directory);

    Task<(int Exit, string Output, string Error)> Client(params string[] args) =>
        Processes.RunAsync("distributed.dll", [.. args, "--cluster", $"127.0.0.1:{GatewayPort}", "--cluster-id", "metrics-test"], directory);

    /// <summary>Every sample of <paramref name="metric"/> in a scrape: its labels and value.</summary>
    async Task<List<(string Labels, double Value)>> ScrapeAsync(string metric)
    {
        var text = await http.GetStringAsync($"http://127.0.0.1:{MetricsPort}/metrics");
        return Regex.Matches(text, $@"^{metric}\{{([^}}]*)\}} (\S+)", RegexOptions.Multiline)
            .Select(m => (m.Groups[1].Value, double.Parse(m.Groups[2].Value, CultureInfo.InvariantCulture))).ToList();
    }

    [Fact]
    public async Task Metrics_show_steps_rising_while_a_trial_runs_and_the_queued_trials_that_status_shows()
    {
        var started = Processes.StartSilo(["--silo-port", "11421", "--gateway-port", $"{GatewayPort}", "--metrics-port", $"{MetricsPort}",
            "--data-dir", Path.Combine(directory, "silo-data"), "--cluster-id", "metrics-test"]);
        using var silo = started.Process;
        try
        {
            await Processes.WaitUpAsync([started]);
            // Before this silo has coordinated anything, its link bytes are already a series (a silo holding only
            // workers never counts a step, yet its links carry every gradient).
            var links = await ScrapeAsync("distributed_gradient_link_bytes_total");
            Assert.Equal(["direction=\"received\"", "direction=\"sent\""], links.Select(l => Regex.Match(l.Labels, "direction=\"[a-z]+\"").Value).Order());
            Assert.All(links, l => Assert.Equal(0, l.Value));

            // Three trials, one slot: one runs for a long time while two wait for it.
            await File.WriteAllTextAsync(Path.Combine(directory, "queue.yaml"), """
                name: queue
                model: { embeddingSize: 8, hiddenSize: 16 }
                schedule: { steps: 100000, evaluateEvery: 1000, checkpointEvery: 1000 }
                search: { space: { layers: [1, 2, 3] } }
                maxConcurrent: 1
                """);
            var submitted = await Client("submit", "queue.yaml");
            Assert.True(submitted.Exit == 0, submitted.Error);

            // The steps counter of the running trial rises between two scrapes.
            var deadline = DateTime.UtcNow.AddSeconds(60);
            List<(string Labels, double Value)> steps;
            while ((steps = await ScrapeAsync("distributed_trial_steps_total")).Count == 0 && DateTime.UtcNow < deadline) await Task.Delay(500);
            var first = Assert.Single(steps);
            Assert.Contains("trial=\"queue/", first.Labels);
            await Task.Delay(1500);
            var second = Assert.Single(await ScrapeAsync("distributed_trial_steps_total"));
            Assert.True(second.Value > first.Value, $"steps went from {first.Value} to {second.Value}");
            Assert.Single(await ScrapeAsync("distributed_trial_samples_total"));
            // What the HorizontalPodAutoscaler divides by replicas per silo: the one running trial's one replica.
            Assert.Equal(1, Assert.Single(await ScrapeAsync("distributed_replicas_demanded")).Value);

            // The queued-trials gauge says what status says (it follows the sweep's next look at its trials).
            int queuedByStatus = -1;
            double? queuedByGauge = null;
            for (deadline = DateTime.UtcNow.AddSeconds(20); DateTime.UtcNow < deadline; await Task.Delay(500))
            {
                var status = await Client("status", "queue", "--json");
                Assert.True(status.Exit == 0, status.Error);
                using var json = JsonDocument.Parse(status.Output);
                queuedByStatus = json.RootElement.GetProperty("trials").EnumerateArray().Count(t => t.GetProperty("trial").GetProperty("state").GetString() == "queued");
                queuedByGauge = (await ScrapeAsync("distributed_sweep_trials")).Where(s => s.Labels.Contains("sweep=\"queue\"") && s.Labels.Contains("state=\"queued\""))
                    .Select(s => (double?)s.Value).SingleOrDefault();
                if (queuedByGauge == queuedByStatus) break;
            }
            Assert.Equal(2, queuedByStatus);
            Assert.Equal(queuedByStatus, queuedByGauge);

            // A cancelled sweep's series go: nothing waits any more.
            var cancelled = await Client("cancel", "queue");
            Assert.True(cancelled.Exit == 0, cancelled.Error);
            for (deadline = DateTime.UtcNow.AddSeconds(20); DateTime.UtcNow < deadline; await Task.Delay(500))
                if (!(await ScrapeAsync("distributed_sweep_trials")).Any(s => s.Labels.Contains("sweep=\"queue\""))) break;
            Assert.DoesNotContain(await ScrapeAsync("distributed_sweep_trials"), s => s.Labels.Contains("sweep=\"queue\""));
        }
        finally
        {
            silo.Kill(entireProcessTree: true);
            await silo.WaitForExitAsync();
        }
    }

    public void Dispose()
    {
        http.Dispose();
        try { Directory.Delete(directory, recursive: true); } catch (IOException) { }
    }
}
