using System.Text.Json.Nodes;

namespace Distributed.Grains.Tests;

// The web dashboard as a user sees it: `distributed dashboard` over its embedded silo, a sweep submitted beside it,
// and the page open in headless Chromium while the sweep runs.
[Trait("Category", "Integration")]
public class DashboardTests : IAsyncLifetime
{
    readonly string directory = Path.Combine(Path.GetTempPath(), $"distributed-dashboard-{Guid.NewGuid():N}");
    (System.Diagnostics.Process Process, System.Collections.Concurrent.ConcurrentQueue<string> Output) dashboard;

    public Task InitializeAsync()
    {
        Directory.CreateDirectory(directory);
        return Task.CompletedTask;
    }

    /// <summary>Starts `distributed dashboard` in the test's directory and returns the URL it printed.</summary>
    async Task<Uri> StartDashboardAsync()
    {
        dashboard = Processes.Start("distributed.dll", ["dashboard"], workingDirectory: directory);
        var deadline = DateTime.UtcNow.AddSeconds(90);
        while (true)
        {
            if (dashboard.Output.FirstOrDefault(l => l.TrimStart().StartsWith("http://127.0.0.1:", StringComparison.Ordinal)) is { } line) return new Uri(line.Trim());
            Assert.True(!dashboard.Process.HasExited && DateTime.UtcNow < deadline, "the dashboard did not start: " + string.Join(" | ", dashboard.Output));
            await Task.Delay(200);
        }
    }

    [Fact]
    public async Task The_page_follows_a_running_sweep_to_its_end_without_reloading_and_draws_its_plots()
    {
        var url = await StartDashboardAsync();
        // Long enough to be running when the page opens: four trials one after another.
        await File.WriteAllTextAsync(Path.Combine(directory, "live.yaml"), """
            name: live
            data: { task: reverse, examples: 600, minLength: 3, maxLength: 5 }
            model: { embeddingSize: 8, hiddenSize: 16 }
            training: { batchSize: 16, learningRate: 0.003 }
            schedule: { steps: 400, evaluateEvery: 100, evaluationExamples: 30, checkpointEvery: 100 }
            search: { space: { layers: [1, 2], model.attention: [none, additive] } }
            maxConcurrent: 1
            objective: { metric: tokenAccuracy }
            """);
        // The submit joins the dashboard's embedded silo (it owns the data directory), as a second terminal would.
        var submitted = await Processes.RunAsync("distributed.dll", ["submit", "live.yaml"], directory);
        Assert.True(submitted.Exit == 0, submitted.Error);

        await using var browser = await HeadlessChromium.StartAsync();
        await browser.NavigateAsync(url + "#/sweeps/live");
        const string Seen = """
            JSON.stringify({ loadedAt: window.dashboard && window.dashboard.loadedAt, snapshots: window.dashboard && window.dashboard.snapshots,
              state: document.body.dataset.sweepState || null,
              rows: [...document.querySelectorAll("#trials-table tr[data-trial]")].map(r => r.dataset.state) })
            """;
        var first = Parse(await browser.WaitForAsync(Seen, v => Parse(v)?["state"] is not null, TimeSpan.FromSeconds(60)));
        Assert.Equal("running", (string?)first["state"]);

        var last = Parse(await browser.WaitForAsync(Seen, v => (string?)Parse(v)?["state"] == "completed", TimeSpan.FromMinutes(4)));
        // The same page load all along (no reload), drawn again as the sweep moved.
        Assert.Equal((double)first["loadedAt"]!, (double)last["loadedAt"]!);
        Assert.True((int)last["snapshots"]! > 1, $"one snapshot only: {last.ToJsonString()}");
        Assert.Equal(["completed", "completed", "completed", "completed"], last["rows"]!.AsArray().Select(r => (string)r!).ToArray());

        var plots = Parse(await browser.EvaluateAsync("""
            JSON.stringify({ curves: document.querySelectorAll("#curves svg path.series").length,
              loss: document.querySelectorAll("#loss svg path.series").length,
              best: document.querySelectorAll("#best svg path.series").length,
              parallel: document.querySelectorAll("#parallel-plot path.trial-line").length,
              importance: document.querySelectorAll("#importance-plot rect").length,
              effects: document.querySelectorAll("#effects table").length,
              cancel: document.querySelectorAll("#cancel").length })
            """));
        Assert.Equal(4, (int)plots["curves"]!);
        Assert.Equal(4, (int)plots["loss"]!);
        Assert.Equal(1, (int)plots["best"]!);
        Assert.Equal(4, (int)plots["parallel"]!);
        Assert.Equal(2, (int)plots["importance"]!);
        Assert.Equal(2, (int)plots["effects"]!);
        Assert.Equal(0, (int)plots["cancel"]!); // a finished sweep has nothing to cancel

        // The best trial's attention on an input, drawn as a heat map: a cell per output token and source token.
        await browser.EvaluateAsync("""document.getElementById("attention-input").value = "4321"; document.querySelector("#attention form button").click(); 0""");
        var cells = await browser.WaitForAsync("""document.querySelectorAll("#attention-plot rect").length""", v => v is not null && (int)v > 0, TimeSpan.FromSeconds(60));
        Assert.True((int)cells! >= 4, $"{cells} cells");

        // Kept as the test's artefact (and the source of docs/images/dashboard.png).
        var png = await browser.ScreenshotAsync();
        Assert.Equal(new byte[] { 0x89, (byte)'P', (byte)'N', (byte)'G' }, png[..4]);
        var shot = Path.Combine(AppContext.BaseDirectory, "dashboard.png");
        await File.WriteAllBytesAsync(shot, png);
        Assert.True(png.Length > 30_000, $"{shot}: {png.Length} bytes is too small to show the page");
    }

    [Fact]
    public async Task Without_the_printed_link_nothing_is_served_and_an_operator_cancels_from_the_page()
    {
        var url = await StartDashboardAsync();
        var origin = new Uri(url.GetLeftPart(UriPartial.Authority));
        using (var stranger = new HttpClient { BaseAddress = origin })
        {
            Assert.Equal(System.Net.HttpStatusCode.Unauthorized, (await stranger.GetAsync("/api/sweeps")).StatusCode);
            Assert.Equal(System.Net.HttpStatusCode.Unauthorized, (await stranger.GetAsync("/?token=not-the-token")).StatusCode);
        }
        await File.WriteAllTextAsync(Path.Combine(directory, "long.yaml"), "name: long\nmodel: { embeddingSize: 8, hiddenSize: 16 }\nschedule: { steps: 100000, evaluateEvery: 1000, checkpointEvery: 1000 }\n");
        var submitted = await Processes.RunAsync("distributed.dll", ["submit", "long.yaml"], directory);
        Assert.True(submitted.Exit == 0, submitted.Error);

        await using var browser = await HeadlessChromium.StartAsync();
        await browser.NavigateAsync(url + "#/sweeps/long");
        await browser.WaitForAsync("""document.querySelectorAll("#cancel").length""", v => v is not null && (int)v == 1, TimeSpan.FromSeconds(60));
        // The page asks first; the test answers yes.
        await browser.EvaluateAsync("window.confirm = () => true; document.getElementById('cancel').click(); 0");
        await browser.WaitForAsync("document.body.dataset.sweepState", v => (string?)v == "cancelled", TimeSpan.FromSeconds(60));
        var status = await Processes.RunAsync("distributed.dll", ["status", "long"], directory);
        Assert.Contains("sweep long: cancelled", status.Output);
    }

    static JsonNode Parse(JsonNode? text) => text is null ? new JsonObject() : JsonNode.Parse((string)text!) ?? new JsonObject();

    public async Task DisposeAsync()
    {
        if (dashboard.Process is { } process)
        {
            if (!process.HasExited) process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync();
            process.Dispose();
        }
        try
        {
            Directory.Delete(directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
