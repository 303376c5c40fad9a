namespace Distributed.Grains.Tests;

// The `distributed` client run as a separate process, end to end, on its embedded silo.
[Trait("Category", "Integration")]
public class ClientProcessTests : IDisposable
{
    readonly string directory = Path.Combine(Path.GetTempPath(), $"distributed-client-{Guid.NewGuid():N}");

    public ClientProcessTests() => Directory.CreateDirectory(directory);

    Task<(int Exit, string Output, string Error)> Run(params string[] args) => Processes.RunAsync("distributed.dll", args, directory);

    [Fact]
    public async Task Submit_wait_runs_a_sweep_and_the_queries_read_it_back()
    {
        await File.WriteAllTextAsync(Path.Combine(directory, "tiny.yaml"), """
            name: tiny
            data: { task: reverse, examples: 600, minLength: 3, maxLength: 5 }
            model: { embeddingSize: 8, hiddenSize: 16 }
            training: { batchSize: 16, learningRate: 0.003 }
            schedule: { steps: 40, evaluateEvery: 20, evaluationExamples: 30, checkpointEvery: 20 }
            search: { space: { layers: [1, 2] } }
            repeats: 2
            objective: { metric: tokenAccuracy }
            """);
        var (exit, output, error) = await Run("submit", "tiny.yaml", "--wait");
        Assert.True(exit == 0, $"exit {exit}: {error}");
        Assert.Contains("sweep tiny: 4 trials, at most 2 at once", output);
        Assert.Contains("leaderboard of tiny by validation tokenAccuracy (max)", output);

        var status = await Run("status", "tiny");
        Assert.Equal(0, status.Exit);
        Assert.Contains("sweep tiny: completed, 4/4 trials finished", status.Output);

        var compare = await Run("compare", "tiny", "--by", "layers", "--json");
        Assert.Equal(0, compare.Exit);
        Assert.Contains("\"factor\": \"layers\"", compare.Output);
        // Layers 1 and 2 at seeds 11 and 12: two pairs, a verdict, marginal intervals inside [0, 1], and importance.
        var read = await Run("compare", "tiny", "--importance");
        Assert.True(read.Exit == 0, read.Error);
        Assert.Contains("layers: paired effects on validation tokenAccuracy (trials differing only in layers, same seed; 95% interval)", read.Output);
        Assert.Matches(@"  (no clear difference between 2 and 1:|[12] better than [12] by) .*, 2 pairs", read.Output);
        Assert.Contains("layers: marginal mean validation tokenAccuracy over every trial with each value (other factors mixed in)", read.Output);
        Assert.Contains("importance: each factor's share of the variation of validation tokenAccuracy", read.Output);
        // The same on the completed trials' test figures, and a split that does not exist named as the error.
        var test = await Run("compare", "tiny", "--split", "test");
        Assert.True(test.Exit == 0, test.Error);
        Assert.Contains("layers: paired effects on test tokenAccuracy", test.Output);
        var badSplit = await Run("compare", "tiny", "--split", "train");
        Assert.Equal(2, badSplit.Exit);
        Assert.Contains("--split: 'train' must be validation or test", badSplit.Error);
        // What ASHA would have done to this full-length sweep, and a rule it cannot have named as the error.
        var replay = await Run("replay", "tiny", "--rule", "asha", "--grace", "20", "--eta", "2");
        Assert.True(replay.Exit == 0, replay.Error);
        Assert.Contains("ASHA (grace 20, eta 2) would have run", replay.Output);
        var badRule = await Run("replay", "tiny", "--rule", "hyperband");
        Assert.Equal(2, badRule.Exit);
        Assert.Contains("--rule: 'hyperband' must be asha or median", badRule.Error);
        var badGrace = await Run("replay", "tiny", "--rule", "asha", "--grace", "40");
        Assert.Equal(2, badGrace.Exit);
        Assert.Contains("--grace: must be below schedule.steps (40)", badGrace.Error);
        var intervals = System.Text.RegularExpressions.Regex.Matches(read.Output, @"\[(-?[0-9.]+), (-?[0-9.]+)\]").Select(m => (double.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture), double.Parse(m.Groups[2].Value, System.Globalization.CultureInfo.InvariantCulture))).ToList();
        Assert.NotEmpty(intervals);
        Assert.All(intervals, i => Assert.True(i.Item1 >= -1 && i.Item2 <= 1, $"interval [{i.Item1}, {i.Item2}] leaves the metric's range"));
        var unknown = await Run("compare", "tiny", "--by", "layers,depth");
        Assert.Equal(2, unknown.Exit);
        Assert.Contains("--by: 'layers,depth' must be one swept factor, or two as a,b; sweep tiny sweeps: layers", unknown.Error);

        var export = await Run("export", "tiny", "--format", "csv", "--out", "tiny.csv");
        Assert.Equal(0, export.Exit);
        var lines = await File.ReadAllLinesAsync(Path.Combine(directory, "tiny.csv"));
        Assert.Equal(5, lines.Length);
        Assert.StartsWith("trial,trial_id,configuration,repeat,seed,layers,state", lines[0]);

        var json = await Run("export", "tiny", "--format", "json", "--out", "tiny.json");
        Assert.Equal(0, json.Exit);
        using (var document = System.Text.Json.JsonDocument.Parse(await File.ReadAllTextAsync(Path.Combine(directory, "tiny.json"))))
        {
            var first = document.RootElement.GetProperty("trials")[0];
            Assert.Equal(40, first.GetProperty("history").GetProperty("steps").GetArrayLength());
            Assert.Equal(2, first.GetProperty("history").GetProperty("evaluations").GetArrayLength());
        }

        var predict = await Run("predict", "tiny", "--beam", "2", "4321");
        Assert.True(predict.Exit == 0, predict.Error);
        Assert.NotEmpty(predict.Output.Trim());
        foreach (var (args, file) in new[] { (new[] { "plot", "tiny", "--out", "curves.png" }, "curves.png"),
                                             (new[] { "plot", "tiny", "--attention", "4321", "--trial", "2", "--out", "attention.png" }, "attention.png") })
        {
            var plot = await Run(args);
            Assert.True(plot.Exit == 0, plot.Error);
            var bytes = await File.ReadAllBytesAsync(Path.Combine(directory, file));
            Assert.Equal(new byte[] { 0x89, (byte)'P', (byte)'N', (byte)'G' }, bytes[..4]);
        }
        var noTrial = await Run("predict", "tiny", "--trial", "9", "4321");
        Assert.Equal(2, noTrial.Exit);
        Assert.Contains("--trial: sweep tiny has trials 1..4", noTrial.Error);

        var same = await Run("submit", "tiny.yaml");
        Assert.Equal(0, same.Exit);
        await File.AppendAllTextAsync(Path.Combine(directory, "tiny.yaml"), "\nmaxConcurrent: 1\n");
        var changed = await Run("submit", "tiny.yaml");
        Assert.Equal(2, changed.Exit);
        Assert.Contains("already exists with another spec", changed.Error);
    }

    /// <summary>Submits a sweep NAME of a tiny model with <paramref name="schedule"/>, without waiting for it.</summary>
    async Task SubmitAsync(string name, string schedule)
    {
        await File.WriteAllTextAsync(Path.Combine(directory, $"{name}.yaml"), $"name: {name}\nmodel: {{ embeddingSize: 8, hiddenSize: 16 }}\n{schedule}\n");
        var submitted = await Run("submit", $"{name}.yaml");
        Assert.True(submitted.Exit == 0, submitted.Error);
    }

    /// <summary>What bash offers after `distributed WORDS` and a tab, with the script `completion bash` printed.</summary>
    async Task<string[]> TabAsync(string script, params string[] words)
    {
        var start = new System.Diagnostics.ProcessStartInfo("bash") { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = directory };
        start.ArgumentList.Add("-c");
        start.ArgumentList.Add($$"""
            distributed() { dotnet "{{Path.Combine(AppContext.BaseDirectory, "distributed.dll")}}" "$@"; }
            source "{{script}}"
            COMP_WORDS=(distributed "$@"); COMP_CWORD=$#
            _distributed
            printf '%s\n' "${COMPREPLY[@]}"
            """);
        start.ArgumentList.Add("bash");
        foreach (var word in words) start.ArgumentList.Add(word);
        using var bash = System.Diagnostics.Process.Start(start)!;
        var output = await bash.StandardOutput.ReadToEndAsync();
        await bash.WaitForExitAsync().WaitAsync(TimeSpan.FromMinutes(1));
        return output.Split('\n', StringSplitOptions.RemoveEmptyEntries).Order(StringComparer.Ordinal).ToArray();
    }

    [Fact]
    public async Task Bash_completes_commands_options_and_the_sweep_ids_of_the_data_directory()
    {
        var script = await Run("completion", "bash");
        Assert.True(script.Exit == 0, script.Error);
        var file = Path.Combine(directory, "distributed.bash");
        await File.WriteAllTextAsync(file, script.Output);

        // Before any sweep: no data directory is made by a tab press.
        Assert.Empty(await TabAsync(file, "status", ""));
        Assert.False(Directory.Exists(Path.Combine(directory, ".distributed")));

        await SubmitAsync("short", "schedule: { steps: 20, evaluateEvery: 10, checkpointEvery: 10 }");

        Assert.Equal(["status", "submit"], await TabAsync(file, "s"));
        Assert.Equal(["short"], await TabAsync(file, "results", "sh"));
        Assert.Equal(["short"], await TabAsync(file, "delete", ""));
        Assert.Equal(["--attention", "--out"], (await TabAsync(file, "plot", "short", "--")).Where(o => o is "--attention" or "--out"));
        Assert.Contains("--cluster", await TabAsync(file, "status", "--c"));
        // After the id, or where an option wants a value, nothing is offered (bash lists files itself).
        Assert.Empty(await TabAsync(file, "status", "short", ""));
        Assert.Empty(await TabAsync(file, "export", "short", "--out", ""));
        Assert.Equal(["bash"], await TabAsync(file, "completion", ""));
        var unknown = await Run("completion", "fish");
        Assert.Equal(2, unknown.Exit);
        Assert.Contains("'fish' is not a shell", unknown.Error);
    }

    [Fact]
    public async Task Delete_refuses_a_running_sweep_without_cancel_and_afterwards_nothing_shows_it()
    {
        await SubmitAsync("long", "schedule: { steps: 100000, evaluateEvery: 1000, checkpointEvery: 1000 }");

        var running = await Run("delete", "long");
        Assert.Equal(2, running.Exit);
        Assert.Contains("error: sweep long is running; cancel it first, or delete it with --cancel", running.Error);
        var unknown = await Run("delete", "nothing");
        Assert.Equal(2, unknown.Exit);
        Assert.Contains("error: no sweep 'nothing'", unknown.Error);

        var deleted = await Run("delete", "long", "--cancel");
        Assert.True(deleted.Exit == 0, deleted.Error);
        Assert.Contains("deleted sweep long (cancelled first): 1 trials", deleted.Output);
        var status = await Run("status", "long");
        Assert.Equal(2, status.Exit);
        Assert.Contains("no sweep 'long'", status.Error);
        var list = await Run("list");
        Assert.Equal(0, list.Exit);
        Assert.DoesNotContain("long", list.Output);
        var artifacts = Path.Combine(directory, ".distributed", "artifacts");
        Assert.Empty(Directory.Exists(artifacts) ? Directory.EnumerateFiles(artifacts, "*", SearchOption.AllDirectories) : []);
    }

    [Fact]
    public async Task Bad_input_exits_2_naming_the_field_file_or_sweep()
    {
        await File.WriteAllTextAsync(Path.Combine(directory, "bad.yaml"), "model: { layers: 7 }\nsearch: { space: { dropout: [0.1, 2] } }\nrepeats: 0\n");
        var bad = await Run("submit", "bad.yaml");
        Assert.Equal(2, bad.Exit);
        Assert.Contains("error: model.layers: must be 1..4", bad.Error);
        Assert.Contains("error: search.space.dropout[1]: must be in [0, 1)", bad.Error);
        Assert.Contains("error: repeats: must be 1..100", bad.Error);

        // The files a spec names are read before anything connects: a missing one or a bad line is named.
        await File.WriteAllTextAsync(Path.Combine(directory, "pairs.tsv"), "ab\tba\nabc no tab\n");
        await File.WriteAllTextAsync(Path.Combine(directory, "data.yaml"), "data: { tsvPath: pairs.tsv }\nsearch: { space: { tsvPath: [pairs.tsv, gone.tsv] } }\n");
        var data = await Run("submit", "data.yaml");
        Assert.Equal(2, data.Exit);
        Assert.Contains($"error: data.tsvPath: {Path.Combine(directory, "pairs.tsv")}:2:", data.Error);
        Assert.Contains($"error: search.space.tsvPath: file not found: {Path.Combine(directory, "gone.tsv")}", data.Error);

        const string unreachable = "DefaultEndpointsProtocol=http;AccountName=a;AccountKey=AAAA;TableEndpoint=http://127.0.0.1:9/a;BlobEndpoint=http://127.0.0.1:9/a";
        var onCommandLine = await Run("list", "--storage-connection", unreachable);
        Assert.Equal(2, onCommandLine.Exit);
        Assert.Contains("error: --storage-connection: a secret on the command line is visible to every process on the machine; set DISTRIBUTED_STORAGE_CONNECTION", onCommandLine.Error);
        var storage = await Processes.RunAsync("distributed.dll", ["list"], directory,
            new Dictionary<string, string> { ["DISTRIBUTED_STORAGE"] = "azure", ["DISTRIBUTED_STORAGE_CONNECTION"] = unreachable });
        Assert.Equal(2, storage.Exit);
        Assert.Contains("error: DISTRIBUTED_STORAGE_CONNECTION: the Table endpoint http://127.0.0.1:9/a could not be reached", storage.Error);

        var missing = await Run("submit", "nowhere.yaml");
        Assert.Equal(2, missing.Exit);
        Assert.Contains("nowhere.yaml: no such file", missing.Error);

        var unknown = await Run("status", "no-such-sweep");
        Assert.Equal(2, unknown.Exit);
        Assert.Contains("no sweep 'no-such-sweep'", unknown.Error);

        var action = await Run("datasets", "remove", "abcdef");
        Assert.Equal(2, action.Exit);
        Assert.Contains("datasets: unknown action 'remove'", action.Error);
        var notStored = await Run("datasets", "delete", "abcdef");
        Assert.Equal(2, notStored.Exit);
        Assert.Contains("dataset: no stored dataset's SHA-256 starts with abcdef", notStored.Error);
        var none = await Run("datasets");
        Assert.Equal(0, none.Exit);
        Assert.StartsWith("dataset  names  bytes  stored  sweeps  unfinished", none.Output);

        var option = await Run("results", "x", "--topp", "3");
        Assert.Equal(2, option.Exit);
        Assert.Contains("unknown option: --topp", option.Error);
    }

    public void Dispose()
    {
        try { Directory.Delete(directory, recursive: true); } catch (IOException) { }
    }
}
