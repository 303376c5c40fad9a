using System.Text.Json.Nodes;
using Distributed.Grains.Abstractions.Training;

namespace Distributed.Benchmarks;

/// <summary>
/// PBT's exploit, measured where it happens: members paused at a perturbation step, the copier's run taking the
/// source's state straight from the source's held replicas, or from its checkpoint in the artifact store, until
/// every replica of the copier holds it (the time the copier's run reports).
/// </summary>
public static class PbtBenchmarks
{
    const int Pause = 10, Copies = 8;

    public static string Exploit() => BenchmarkSilo.Measure(async silo =>
    {
        // About a million parameters: a checkpoint of weights and Adam's two moments is ~12 MB.
        var spec = TrialBenchmarks.Spec(TrialBenchmarks.MillionModel, 1, 2 * Pause) with
        {
            Schedule = new TrialSchedule { Steps = 2 * Pause, Seed = 42, EvaluateEvery = Pause, CheckpointEvery = Pause, EvaluationExamples = 16 },
        };
        var line = new JsonObject { ["case"] = "pbt-exploit" };
        var one = await CopiesAsync(silo, spec, "one", crossing: false);
        await silo.AddSiloProcessAsync();
        var two = await CopiesAsync(silo, spec, "two", crossing: true);
        foreach (var (name, measured) in new[] { ("one_silo", one), ("two_processes", two) })
        {
            line[$"{name}_workers_ms"] = Median(measured.Workers);
            line[$"{name}_store_ms"] = Median(measured.Store);
            line[$"{name}_workers_bytes_ms"] = Median(measured.WorkersCopy);
            line[$"{name}_store_bytes_ms"] = Median(measured.StoreCopy);
            line[$"{name}_copies"] = measured.Workers.Count + measured.Store.Count;
        }
        line["checkpoint_bytes"] = one.Bytes;
        // Above 1: the grain-to-grain copy is that many times faster than the round trip through the store.
        line["ratio"] = Math.Round(Median(two.Store) / Median(two.Workers), 3);
        line["ratio_one_silo"] = Math.Round(Median(one.Store) / Median(one.Workers), 3);
        return line;
    });

    sealed record Measured(List<double> Workers, List<double> Store, List<double> WorkersCopy, List<double> StoreCopy, long Bytes);

    /// <summary>
    /// A source and its copiers paused at the same step with their replicas held; each copier takes the source's state,
    /// alternating the two ways. With <paramref name="crossing"/> only copiers in the other process than the source count.
    /// </summary>
    static async Task<Measured> CopiesAsync(BenchmarkSilo silo, TrialSpec spec, string prefix, bool crossing)
    {
        string source = $"pbt-{prefix}/source";
        var copiers = Enumerable.Range(1, crossing ? 4 * Copies : 2 * Copies).Select(i => $"pbt-{prefix}/{i}").ToList();
        foreach (var id in copiers.Prepend(source))
            await silo.Grains.GetGrain<ITrialGrain>(id).StartInSweepAsync(spec, $"pbt-{prefix}", Pause, holdAtPause: true);
        foreach (var id in copiers.Prepend(source))
            while ((await silo.Grains.GetGrain<ITrialGrain>(id).GetStatusAsync()).State != TrialState.Paused) await Task.Delay(100);
        bool sourceHere = silo.HoldsHere(source, 0);
        var chosen = copiers.Where(id => !crossing || silo.HoldsHere(id, 0) != sourceHere).Take(2 * Copies).ToList();
        var measured = new Measured([], [], [], [], 0);
        var explored = spec with { Training = spec.Training with { LearningRate = spec.Training.LearningRate * 1.2 } };
        for (int i = 0; i < chosen.Count; i++)
        {
            bool store = i % 2 == 1;
            var copier = silo.Grains.GetGrain<ITrialGrain>(chosen[i]);
            await copier.ExploitAsync(new TrialExploit(source, Pause, explored, 2 * Pause) { ThroughStore = store });
            TrialStatus status;
            while ((status = await copier.GetStatusAsync()).LastExploit is null) await Task.Delay(20);
            var via = status.LastExploit.Via;
            if (via != (store ? "store" : "workers")) throw new InvalidOperationException($"copy {chosen[i]} went through the {via}");
            (store ? measured.Store : measured.Workers).Add(status.LastExploit.Seconds * 1000);
            (store ? measured.StoreCopy : measured.WorkersCopy).Add(status.LastExploit.CopySeconds * 1000);
            // The copier trains on to its next pause before the next copy: nothing else runs while one is measured.
            while ((await copier.GetStatusAsync()).State == TrialState.Running) await Task.Delay(50);
        }
        var checkpoint = (await silo.Grains.GetGrain<ITrialGrain>(source).GetStatusAsync()).CheckpointPath!;
        return measured with { Bytes = new FileInfo(Path.Combine(silo.DataDirectory, "artifacts", checkpoint)).Length };
    }

    static double Median(List<double> values) => values.Count == 0 ? double.NaN : Math.Round(values.Order().ElementAt(values.Count / 2), 2);
}
