using OpenTelemetry.Metrics;
using System.Diagnostics;
using System.Text.Json.Nodes;
using Distributed.Grains.Abstractions.Training;
using Distributed.Models;
using Distributed.Models.Data;
using Distributed.Models.Training;
using Distributed.Options;

namespace Distributed.Benchmarks;

/// <summary>Data-parallel trials through real grains, against the raw loop, against themselves, and against PyTorch DDP.</summary>
public static class TrialBenchmarks
{
    const int Length = 10, Batch = 64, Steps = 300, Warmup = 20;

    public static readonly ModelOptions PeerModel = new() { EmbeddingSize = 64, HiddenSize = 128, Attention = AttentionKind.Additive };
    // About a million parameters: the size the exchange bar is stated for.
    internal static readonly ModelOptions MillionModel = new() { EmbeddingSize = 64, HiddenSize = 240, Attention = AttentionKind.Additive };

    /// <summary>A model whose gradient is a few hundred KB: the exchange is many small messages, not bytes.</summary>
    internal static readonly ModelOptions SmallModel = new() { EmbeddingSize = 32, HiddenSize = 64, Attention = AttentionKind.Additive };

    internal static TrialSpec Spec(ModelOptions model, int workers, int steps, int batch = Batch) => new()
    {
        Data = new DataOptions { Task = BuiltInTaskKind.Reverse, Examples = 20_000, MinLength = Length, MaxLength = Length, ValidFraction = 0.02, TestFraction = 0.02 },
        Model = model,
        Training = new TrainingOptions { LearningRate = 1e-3, Clip = ClipMode.Norm, ClipThreshold = 1.0, BatchSize = batch },
        Parallel = new DataParallelOptions { Workers = workers },
        // Evaluation and the checkpoint come once, after the measured steps.
        Schedule = new TrialSchedule { Steps = steps, Seed = 42, EvaluateEvery = steps, CheckpointEvery = steps, EvaluationExamples = 64 },
    };

    /// <summary>Samples/s over the steps after warm-up, from the coordinator's per-step wall times.</summary>
    static double SamplesPerSecond(TrialMetrics metrics, int examplesPerStep)
    {
        var measured = metrics.Steps.Where(s => s.Step > Warmup && s.Step < metrics.Steps.Count).ToList();
        return measured.Count * examplesPerStep / measured.Sum(s => s.StepSeconds);
    }

    public static string OneWorkerVersusRaw()
    {
        return BenchmarkSilo.Measure(async silo =>
        {
            // Alternating rounds, medians: the machine's speed drifts by a few percent within a minute.
            var spec = Spec(PeerModel, 1, Steps + Warmup);
            var raws = new List<double>();
            var grains = new List<double>();
            for (int round = 0; round < 3; round++)
            {
                raws.Add(RawLoop(spec));
                var (_, metrics) = await silo.RunAsync($"one-worker-{round}", spec);
                grains.Add(SamplesPerSecond(metrics, Batch));
            }
            double grain = Median(grains), raw = Median(raws);
            return new JsonObject
            {
                ["case"] = "grains-one-worker-vs-raw",
                ["samples_per_s"] = Math.Round(grain, 1),
                ["raw_samples_per_s"] = Math.Round(raw, 1),
                ["rounds_grains"] = string.Join(" ", grains.Select(g => Math.Round(g))),
                ["rounds_raw"] = string.Join(" ", raws.Select(r => Math.Round(r))),
                ["ratio"] = Math.Round(grain / raw, 3),
            };
        });
    }

    /// <summary>
    /// What watching costs training: the `grains-one-worker-vs-raw` model trained as a one-trial sweep (what the
    /// dashboard shows), with watching switched on and off every three seconds within the same run: on, the
    /// silo's meter provider and Prometheus endpoint exist and are scraped every second, and the web dashboard streams
    /// the sweep to a reader draining it, as a browser tab would; off, neither (the dashboard's idle listener stays).
    /// Steps are assigned to windows by the trial's step at each switch, so the machine's drift, which moves whole
    /// runs by ±15% here, falls on both sides alike.
    /// </summary>
    public static string DashboardAndMetricsOnVersusOff()
    {
        return BenchmarkSilo.Measure(async silo =>
        {
            const int metricsPort = 19464, steps = 20_000, windows = 65;
            var window = TimeSpan.FromSeconds(2.5);
            var (sweep, errors) = Distributed.Sweeps.SweepSpecReader.Read($$"""
                name: watched
                data: { task: reverse, examples: 20000, minLength: {{Length}}, maxLength: {{Length}}, validFraction: 0.02, testFraction: 0.02 }
                model: { embeddingSize: {{PeerModel.EmbeddingSize}}, hiddenSize: {{PeerModel.HiddenSize}}, attention: additive }
                training: { learningRate: 0.001, clip: norm, clipThreshold: 1.0, batchSize: {{Batch}} }
                schedule: { steps: {{steps}}, evaluateEvery: {{steps}}, checkpointEvery: {{steps}}, evaluationExamples: 64 }
                """, "watched.yaml");
            if (sweep is null) throw new InvalidOperationException(string.Join("; ", errors));
            var grain = silo.Grains.GetGrain<Distributed.Grains.Abstractions.Sweeps.ISweepGrain>("watched");
            await grain.SubmitAsync(sweep);
            async Task<(string TrialId, long Step, bool Finished)> WhereAsync()
            {
                var trial = (await grain.GetStatusAsync())!.Trials.Single();
                return (trial.TrialId, trial.Step, trial.IsFinished);
            }
            var here = await WhereAsync();
            while (here.Step < Warmup) { await Task.Delay(100); here = await WhereAsync(); }

            await using var dashboard = await Distributed.Dashboard.DashboardServer.StartAsync(
                new(System.Net.IPAddress.Loopback, 0, new Distributed.Dashboard.LoopbackAccess()), silo.Grains);
            var bounds = new List<(long From, long To, bool On)>();
            var cores = new List<(double Cores, double Megabytes, double Collections, bool On)>();
            int scrapes = 0, snapshots = 0;
            for (int w = 0; w < windows && !here.Finished; w++)
            {
                bool on = w % 2 == 1;
                using var stop = new CancellationTokenSource();
                // Switching on builds a meter provider and its listener (about 20 MB of allocations, once per silo in
                // production) and opens a tab: both sides leave the first half second of a window unmeasured.
                var provider = on ? Distributed.Silo.SiloTelemetry.Meters(OpenTelemetry.Sdk.CreateMeterProviderBuilder(), metricsPort).Build() : null;
                var scraping = !on ? Task.CompletedTask : Task.Run(async () =>
                {
                    using var http = new HttpClient();
                    while (!stop.IsCancellationRequested)
                    {
                        if ((await http.GetStringAsync($"http://127.0.0.1:{metricsPort}/metrics")).Contains("distributed_trial_steps_total")) scrapes++;
                        try { await Task.Delay(1000, stop.Token); } catch (OperationCanceledException) { }
                    }
                });
                var watching = !on ? Task.CompletedTask : Task.Run(async () =>
                {
                    using var http = new HttpClient { BaseAddress = dashboard.Address, Timeout = Timeout.InfiniteTimeSpan };
                    try
                    {
                        // A tab opening: the page, then the sweep's stream until the window closes.
                        await http.GetStringAsync("dashboard.js", stop.Token);
                        using var response = await http.GetAsync("api/sweeps/watched/events", HttpCompletionOption.ResponseHeadersRead, stop.Token);
                        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(stop.Token));
                        while (await reader.ReadLineAsync(stop.Token) is { } line)
                            if (line.StartsWith("data: {\"sweepId\"", StringComparison.Ordinal)) snapshots++;
                    }
                    catch (OperationCanceledException) { }
                });
                await Task.Delay(500);
                long from = (await WhereAsync()).Step;
                var (cpu, wall) = (System.Diagnostics.Process.GetCurrentProcess().TotalProcessorTime, System.Diagnostics.Stopwatch.StartNew());
                var (allocated, collections) = (GC.GetTotalAllocatedBytes(), GC.CollectionCount(0));
                await Task.Delay(window);
                here = await WhereAsync();
                double seconds = wall.Elapsed.TotalSeconds;
                bounds.Add((from, here.Step, on));
                cores.Add(((System.Diagnostics.Process.GetCurrentProcess().TotalProcessorTime - cpu).TotalSeconds / seconds,
                    (GC.GetTotalAllocatedBytes() - allocated) / 1e6 / seconds, (GC.CollectionCount(0) - collections) / seconds, on));
                stop.Cancel();
                await Task.WhenAll(scraping, watching);
                provider?.Dispose();
            }
            // The windows are what is measured: the rest of the trial need not run.
            await grain.CancelAsync();
            while (!here.Finished) { await Task.Delay(200); here = await WhereAsync(); }
            var metrics = await silo.Grains.GetGrain<ITrialGrain>(here.TrialId).GetMetricsAsync(-1);
            // A window's steps are those wholly inside it: the step at either switch may have straddled it.
            double Rate(IEnumerable<(long From, long To, bool On)> chosen)
            {
                var inside = chosen.SelectMany(b => metrics.Steps.Where(s => s.Step > b.From + 1 && s.Step <= b.To)).ToList();
                return inside.Count * Batch / inside.Sum(s => s.StepSeconds);
            }
            // Each on window against the mean of the off windows either side: drift within those 7.5 s cancels to first order.
            var rates = bounds.Select(b => Rate([b])).ToList();
            var against = Enumerable.Range(0, bounds.Count).Where(i => bounds[i].On && i + 1 < bounds.Count)
                .Select(i => rates[i] / ((rates[i - 1] + rates[i + 1]) / 2)).ToList();
            double rateOn = Rate(bounds.Where(b => b.On)), rateOff = Rate(bounds.Where(b => !b.On));
            return new JsonObject
            {
                ["case"] = "dashboard-metrics-on-vs-off",
                ["samples_per_s_on"] = Math.Round(rateOn, 1),
                ["samples_per_s_off"] = Math.Round(rateOff, 1),
                ["windows"] = bounds.Count,
                ["window_s"] = window.TotalSeconds,
                ["windows_on"] = string.Join(" ", rates.Where((_, i) => bounds[i].On).Select(r => Math.Round(r))),
                ["windows_off"] = string.Join(" ", rates.Where((_, i) => !bounds[i].On).Select(r => Math.Round(r))),
                ["ratio_all_windows"] = Math.Round(rateOn / rateOff, 3),
                ["scrapes_with_training_series"] = scrapes,
                ["dashboard_snapshots"] = snapshots,
                // The process's CPU use (cores) in each kind of window: what watching adds beside training.
                ["cores_on"] = Math.Round(cores.Where(c => c.On).Average(c => c.Cores), 2),
                ["cores_off"] = Math.Round(cores.Where(c => !c.On).Average(c => c.Cores), 2),
                ["allocated_mb_per_s_on"] = Math.Round(cores.Where(c => c.On).Average(c => c.Megabytes), 1),
                ["allocated_mb_per_s_off"] = Math.Round(cores.Where(c => !c.On).Average(c => c.Megabytes), 1),
                ["gen0_per_s_on"] = Math.Round(cores.Where(c => c.On).Average(c => c.Collections), 2),
                ["gen0_per_s_off"] = Math.Round(cores.Where(c => !c.On).Average(c => c.Collections), 2),
                ["ratio"] = Math.Round(Median(against), 3),
            };
        });
    }

    static double Median(List<double> values) => values.Order().ElementAt(values.Count / 2);

    /// <summary>The model library's own loop on the same data, batches and options: the bar for one worker.</summary>
    static double RawLoop(TrialSpec spec)
    {
        TorchSharp.torch.set_num_threads(1);
        var data = spec.Data.Load();
        using var trainer = new Trainer(spec.Model, spec.Training, data.Vocabularies, spec.Schedule.Seed, data.Train);
        var clock = new Stopwatch();
        for (int step = 0; step < Steps + Warmup; step++)
        {
            if (step == Warmup) clock.Start();
            trainer.TrainStep();
        }
        return Steps * spec.Training.BatchSize / clock.Elapsed.TotalSeconds;
    }

    const int Rounds = 5;

    public static string TwoWorkersVersusOne()
    {
        return BenchmarkSilo.Measure(async silo =>
        {
            var singles = new List<double>();
            var pairs = new List<double>();
            var shares = new List<double>();
            var computes1 = new List<double>();
            var computes2 = new List<double>();
            // Five alternating rounds: with both cores busy, the two-worker rounds vary by several percent on these machines.
            for (int round = 0; round < Rounds; round++)
            {
                var (_, one) = await silo.RunAsync($"scale-1-{round}", Spec(PeerModel, 1, Steps + Warmup));
                var (_, two) = await silo.RunAsync($"scale-2-{round}", Spec(PeerModel, 2, Steps + Warmup));
                singles.Add(SamplesPerSecond(one, Batch));
                pairs.Add(SamplesPerSecond(two, 2 * Batch));
                shares.Add(ExchangeShare(two));
                computes1.Add(ComputeMilliseconds(one));
                computes2.Add(ComputeMilliseconds(two));
            }
            double single = Median(singles), pair = Median(pairs);
            var line = new JsonObject
            {
                ["case"] = "grains-two-workers-vs-one",
                ["samples_per_s_1"] = Math.Round(single, 1),
                ["samples_per_s_2"] = Math.Round(pair, 1),
                ["rounds_1"] = string.Join(" ", singles.Select(x => Math.Round(x))),
                ["rounds_2"] = string.Join(" ", pairs.Select(x => Math.Round(x))),
                ["ratio"] = Math.Round(pair / single, 3),
                ["exchange_share_2"] = Math.Round(Median(shares), 4),
                // The slowest worker's compute per step: with two replicas on two cores, what sharing the machine costs.
                ["compute_ms_1"] = Math.Round(Median(computes1), 2),
                ["compute_ms_2_slowest"] = Math.Round(Median(computes2), 2),
            };
            var peer = $"--emb 64 --hidden 128 --len {Length} --batch {Batch} --steps {Steps} --warmup {Warmup} --threads 1 --attention additive";
            var (p1, problem1) = PytorchPeer.Run(peer + " --workers 1");
            var (p2, problem2) = PytorchPeer.Run(peer + " --workers 2");
            if (p1 is null || p2 is null)
            {
                line["peer"] = problem1 ?? problem2;
            }
            else
            {
                double ddp1 = p1["samples_per_s"]!.GetValue<double>(), ddp2 = p2["samples_per_s"]!.GetValue<double>();
                line["pytorch_samples_per_s_1"] = ddp1;
                line["pytorch_samples_per_s_2"] = ddp2;
                line["pytorch_ratio"] = Math.Round(ddp2 / ddp1, 3);
            }
            return line;
        });
    }

    static double ComputeMilliseconds(TrialMetrics metrics) =>
        1000 * metrics.Steps.Where(s => s.Step > Warmup && s.Step < metrics.Steps.Count).Average(s => s.ComputeSeconds);

    /// <summary>The part of each step that is not the slowest worker's own compute: messaging, averaging, copying.</summary>
    static double ExchangeShare(TrialMetrics metrics)
    {
        var measured = metrics.Steps.Where(s => s.Step > Warmup && s.Step < metrics.Steps.Count).ToList();
        return 1 - measured.Sum(s => s.ComputeSeconds) / measured.Sum(s => s.StepSeconds);
    }

    public static string Exchange(bool twoProcesses)
    {
        return BenchmarkSilo.Measure(async silo =>
        {
            if (twoProcesses) await silo.AddSiloProcessAsync();
            const int steps = 150;
            var spec = Spec(MillionModel, 2, steps + Warmup);
            // Three trials in a row on the same silos: this machine's noise moves single rounds by a point or two.
            var rounds = new List<TrialMetrics>();
            // The default (auto: the ring across processes, the star's shared buffers in one silo) alternates with the star.
            var starRounds = new List<TrialMetrics>();
            var star = spec with { Parallel = spec.Parallel with { Allreduce = Allreduce.Star } };
            string? exchange = null;
            for (int round = 0; round < 3; round++)
            {
                var (status, run) = await silo.RunAsync($"{(twoProcesses ? "exchange-two" : "exchange-one")}-{round}", spec);
                rounds.Add(run);
                exchange = status.Exchange;
                if (twoProcesses) starRounds.Add((await silo.RunAsync($"exchange-two-star-{round}", star)).Metrics);
            }
            var shares = rounds.Select(ExchangeShare).ToList();
            var starShares = starRounds.Select(ExchangeShare).ToList();
            var metrics = rounds.OrderBy(ExchangeShare).ElementAt(1);
            var data = spec.Data.Load();
            using var probe = new Trainer(spec.Model, spec.Training, data.Vocabularies, 1);
            long gradientBytes = probe.Parameters.Count * 4L;
            int n = spec.Parallel.Workers;
            var measured = metrics.Steps.Where(s => s.Step > Warmup && s.Step < metrics.Steps.Count).ToList();
            return new JsonObject
            {
                ["case"] = twoProcesses ? "exchange-two-silo-processes" : "exchange-one-silo",
                ["params"] = probe.Parameters.Count,
                ["workers"] = n,
                ["step_ms"] = Math.Round(measured.Average(s => s.StepSeconds) * 1000, 2),
                ["compute_ms"] = Math.Round(measured.Average(s => s.ComputeSeconds) * 1000, 2),
                ["exchange_share"] = Math.Round(ExchangeShare(metrics), 4),
                ["exchange_share_rounds"] = string.Join(" ", shares.Select(x => Math.Round(x, 4))),
                ["exchange"] = exchange,
                ["star_exchange_share"] = twoProcesses ? Math.Round(Median(starShares), 4) : null,
                ["star_exchange_share_rounds"] = string.Join(" ", starShares.Select(x => Math.Round(x, 4))),
                ["star_step_ms"] = twoProcesses ? Math.Round(starRounds.OrderBy(ExchangeShare).ElementAt(1).Steps
                    .Where(s => s.Step > Warmup && s.Step < metrics.Steps.Count).Average(s => s.StepSeconds) * 1000, 2) : null,
                ["gradient_bytes"] = gradientBytes,
                // A worker in the coordinator's silo shares buffers with it; one in another silo sends its gradient and receives the average.
                ["bytes_per_step_remote_worker"] = 2 * gradientBytes,
                ["bytes_between_processes_per_step"] = twoProcesses ? 2 * gradientBytes : 0,
                ["ring_allreduce_bound_per_worker"] = 2 * (n - 1) * gradientBytes / n,
                ["samples_per_s"] = Math.Round(SamplesPerSecond(metrics, n * Batch), 1),
                // Across processes the gradient goes over the direct link, tagged by its sender and checked by its receiver.
                ["tag_ms_per_frame"] = twoProcesses ? Math.Round(TagMilliseconds(gradientBytes), 3) : 0,
                // One frame across a loopback socket between two threads, through the link and as plain bytes.
                ["loopback_frame_ms_link"] = twoProcesses ? Math.Round(LoopbackMilliseconds(gradientBytes, link: true), 3) : 0,
                ["loopback_frame_ms_plain"] = twoProcesses ? Math.Round(LoopbackMilliseconds(gradientBytes, link: false), 3) : 0,
            };
        });
    }

    /// <summary>
    /// Overlapping the exchange with the backward pass: 2 workers in two silo processes, the ring, overlap on and off
    /// alternating; one line under per-worker clipping by norm (the default: each worker scales the other's raw half
    /// late) and one under global clipping. The step time decides (the compute a worker reports ends with its
    /// backward, so with overlap it holds part of the exchange); ratio = on / off, medians of five trials each.
    /// EXCHANGE_OVERLAP_SCOPES=perWorker (or global) measures one.
    /// </summary>
    public static IEnumerable<string> ExchangeOverlap()
    {
        var only = Environment.GetEnvironmentVariable("EXCHANGE_OVERLAP_SCOPES");
        foreach (var scope in new[] { ClipScope.PerWorker, ClipScope.Global })
            if (only is null || string.Equals(only, scope.ToString(), StringComparison.OrdinalIgnoreCase))
                yield return BenchmarkSilo.Measure(async silo =>
        {
            await silo.AddSiloProcessAsync();
            const int steps = 150;
            var spec = Spec(MillionModel, 2, steps + Warmup);
            spec = spec with { Parallel = spec.Parallel with { ClipScope = scope, Allreduce = Allreduce.Ring } };
            var stepMs = new Dictionary<bool, List<double>> { [true] = [], [false] = [] };
            var shares = new Dictionary<bool, List<double>> { [true] = [], [false] = [] };
            // Five rounds, the order flipping each round: the first trial on fresh processes runs slow.
            for (int round = 0; round < 5; round++)
                foreach (bool overlap in round % 2 == 0 ? new[] { false, true } : new[] { true, false })
                {
                    var run = spec with { Parallel = spec.Parallel with { OverlapExchange = overlap } };
                    var (_, metrics) = await silo.RunAsync($"overlap-{scope}-{overlap}-{round}", run);
                    var measured = metrics.Steps.Where(s => s.Step > Warmup && s.Step < metrics.Steps.Count).ToList();
                    stepMs[overlap].Add(measured.Average(s => s.StepSeconds) * 1000);
                    shares[overlap].Add(ExchangeShare(metrics));
                }
            var data = spec.Data.Load();
            using var probe = new Trainer(spec.Model, spec.Training, data.Vocabularies, 1);
            return new JsonObject
            {
                ["case"] = "exchange-overlap",
                ["clip_scope"] = scope == ClipScope.Global ? "global" : "perWorker",
                ["workers"] = 2,
                ["params"] = probe.Parameters.Count,
                ["decoder_bucket_share"] = Math.Round(1 - probe.DecoderGradientStart / (double)probe.Parameters.Count, 3),
                ["overlap_step_ms"] = Math.Round(Median(stepMs[true]), 2),
                ["plain_step_ms"] = Math.Round(Median(stepMs[false]), 2),
                ["overlap_step_ms_rounds"] = string.Join(" ", stepMs[true].Select(x => Math.Round(x, 1))),
                ["plain_step_ms_rounds"] = string.Join(" ", stepMs[false].Select(x => Math.Round(x, 1))),
                ["overlap_exchange_share"] = Math.Round(Median(shares[true]), 4),
                ["plain_exchange_share"] = Math.Round(Median(shares[false]), 4),
                // Each round's pair ran back to back: their ratios see the least of the machine's drift.
                ["paired_ratios"] = string.Join(" ", stepMs[true].Zip(stepMs[false], (on, off) => Math.Round(on / off, 3))),
                ["median_paired_ratio"] = Math.Round(Median(stepMs[true].Zip(stepMs[false], (on, off) => on / off).ToList()), 3),
                ["ratio"] = Math.Round(Median(stepMs[true]) / Median(stepMs[false]), 3),
            };
        });
    }

    /// <summary>
    /// The exchange as workers are added: N = 2, 4, 8 workers, one per silo (this process and N-1 silo processes on
    /// loopback, TLS between them as deployed), small batches so communication weighs, star and ring alternating. One
    /// JSON line per N: the bytes the busiest silo's links send or receive per step, read off each silo's counters,
    /// against the ring's bound per link, 2(N-1)/N·S, and the exchange's time per step, ring against star.
    /// </summary>
    public static IEnumerable<string> ExchangeScaling()
    {
        // The million-parameter model (over the 1 MB below which a gradient rides in the Orleans reply, not a link),
        // with 8 examples per worker so that computing is short and the exchange weighs.
        const int steps = 60, batch = 8, rounds = 3;
        // Then a small model, whose 0.3 MB gradient makes each message's fixed cost count: there the star's gradients
        // ride in its Orleans replies, and the workers' allreduces send 2(N − 1) or 2 log2 N messages.
        // EXCHANGE_SCALING_MODELS=small (or 1M) measures one model only, while working on it.
        var only = Environment.GetEnvironmentVariable("EXCHANGE_SCALING_MODELS");
        foreach (var (model, n) in new[] { (MillionModel, 2), (MillionModel, 4), (MillionModel, 8), (SmallModel, 4), (SmallModel, 8) })
            if (only is null || only == (model == MillionModel ? "1M" : "small"))
                yield return BenchmarkSilo.Measure(async silo =>
            {
                await silo.AddSiloProcessesAsync(n - 1);
                // Every byte each silo's links send and receive (the handshakes are a few hundred bytes).
                Task<(long Sent, long Received)[]> LinkBytesAsync() => Task.WhenAll(Enumerable.Range(0, n).Select(BenchmarkSilo.LinkBytesAsync));
                var data = TrialBenchmarks.Spec(model, n, 1, batch).Data.Load();
                using var probe = new Trainer(model, new TrainingOptions(), data.Vocabularies, 1);
                long gradient = probe.Parameters.Count * 4L;
                double ringBound = 2.0 * (n - 1) / n * gradient;
                var result = new JsonObject
                {
                    ["case"] = "exchange-scaling",
                    ["model"] = model == MillionModel ? "1M" : "small",
                    ["workers"] = n,
                    ["params"] = probe.Parameters.Count,
                    ["gradient_bytes"] = gradient,
                    ["ring_bound_bytes_per_link"] = Math.Round(ringBound),
                };
                var kinds = new[] { Allreduce.Star, Allreduce.Ring, Allreduce.HalvingDoubling };
                var exchangeMs = kinds.ToDictionary(k => k, _ => new List<double>());
                var stepMs = kinds.ToDictionary(k => k, _ => new List<double>());
                var computeMs = kinds.ToDictionary(k => k, _ => new List<double>());
                static string Name(Allreduce kind) => kind == Allreduce.HalvingDoubling ? "halving_doubling" : kind.ToString().ToLowerInvariant();
                // The exchanges alternate on the same silos, so the machine's drift falls on each.
                for (int round = 0; round < rounds; round++)
                    foreach (var allreduce in kinds)
                    {
                        var spec = TrialBenchmarks.Spec(model, n, steps + Warmup, batch);
                        spec = spec with { Parallel = spec.Parallel with { Allreduce = allreduce } };
                        var trialId = $"scaling-{probe.Parameters.Count}-{n}-{allreduce}-{round}";
                        var before = await LinkBytesAsync();
                        var (status, metrics) = await silo.RunAsync(trialId, spec);
                        var after = await LinkBytesAsync();
                        int stepsRun = metrics.Steps.Count;
                        var sent = after.Zip(before, (a, b) => (a.Sent - b.Sent) / (double)stepsRun).ToArray();
                        var received = after.Zip(before, (a, b) => (a.Received - b.Received) / (double)stepsRun).ToArray();
                        var measured = metrics.Steps.Where(s => s.Step > Warmup && s.Step < stepsRun).ToList();
                        exchangeMs[allreduce].Add(measured.Average(s => s.StepSeconds - s.ComputeSeconds) * 1000);
                        stepMs[allreduce].Add(measured.Average(s => s.StepSeconds) * 1000);
                        computeMs[allreduce].Add(measured.Average(s => s.ComputeSeconds) * 1000);
                        if (round > 0) continue;
                        var name = Name(allreduce);
                        // A silo's busiest direction is what its links each way carry (one per partner, or its hub links).
                        double busiest = sent.Zip(received, Math.Max).Max();
                        result[$"{name}_exchange"] = status.Exchange;
                        result[$"{name}_sent_per_step_by_silo"] = string.Join(" ", sent.Select(b => Math.Round(b)));
                        result[$"{name}_received_per_step_by_silo"] = string.Join(" ", received.Select(b => Math.Round(b)));
                        result[$"{name}_busiest_bytes_per_step"] = Math.Round(busiest);
                        result[$"{name}_bytes_vs_ring_bound"] = Math.Round(busiest / ringBound, 3);
                    }
                // Medians over the rounds: the first trial on fresh silo processes runs slow (the star's most).
                foreach (var allreduce in kinds)
                {
                    var name = Name(allreduce);
                    result[$"{name}_step_ms"] = Math.Round(Median(stepMs[allreduce]), 2);
                    result[$"{name}_compute_ms"] = Math.Round(Median(computeMs[allreduce]), 2);
                    result[$"{name}_step_ms_by_round"] = string.Join(" ", stepMs[allreduce].Select(x => Math.Round(x, 1)));
                }
                // On 2 cores the star's hub sends the mean while the first workers already compute, so its compute swells
                // with work the exchange causes. The exchange's cost: step time less the lowest compute (the same work).
                double baseline = kinds.Min(k => Median(computeMs[k]));
                double starCost = Median(stepMs[Allreduce.Star]) - baseline;
                result["star_exchange_cost_ms"] = Math.Round(starCost, 2);
                foreach (var allreduce in kinds.Skip(1))
                {
                    var name = Name(allreduce);
                    double cost = Median(stepMs[allreduce]) - baseline;
                    result[$"{name}_exchange_cost_ms"] = Math.Round(cost, 2);
                    result[$"{name}_vs_star_exchange_cost"] = Math.Round(cost / starCost, 3);
                    result[$"{name}_vs_star_step"] = Math.Round(Median(stepMs[allreduce]) / Median(stepMs[Allreduce.Star]), 3);
                    result[$"{name}_exchange_ms"] = Math.Round(Median(exchangeMs[allreduce]), 2);
                    result[$"{name}_vs_star_exchange"] = Math.Round(Median(exchangeMs[allreduce]) / Median(exchangeMs[Allreduce.Star]), 3);
                }
                result["star_exchange_ms"] = Math.Round(Median(exchangeMs[Allreduce.Star]), 2);
                result["exchange_ms_by_round"] = string.Join(" | ", Enumerable.Range(0, rounds).Select(r => string.Join(" ", kinds.Select(k => $"{Name(k)} {exchangeMs[k][r]:F1}"))));
                // The bar: bytes per link within 1.1 of the ring bound.
                result["ratio"] = Math.Round(result["ring_bytes_vs_ring_bound"]!.GetValue<double>(), 3);
                return result;
            });
    }

    /// <summary>
    /// Several workers per silo: 4 workers over 2 silos (this one and a silo process, 2 each), the 1M-parameter model,
    /// star, flat ring and hierarchical ring alternating. Per step: the bytes the busier silo's links send, and step
    /// and compute time; ratio = hierarchical step time / star's.
    /// </summary>
    public static string ExchangeHierarchical()
    {
        return BenchmarkSilo.Measure(async silo =>
        {
            await silo.AddSiloProcessesAsync(1);
            const int n = 4, steps = 60, batch = 8, rounds = 3;
            var kinds = new[] { Allreduce.Star, Allreduce.Ring, Allreduce.Hierarchical };
            var stepMs = kinds.ToDictionary(k => k, _ => new List<double>());
            var computeMs = kinds.ToDictionary(k => k, _ => new List<double>());
            var sentPerStep = new Dictionary<Allreduce, double>();
            var exchange = new Dictionary<Allreduce, string?>();
            for (int round = 0; round < rounds; round++)
                foreach (var kind in kinds)
                {
                    var spec = Spec(MillionModel, n, steps + Warmup, batch);
                    spec = spec with { Parallel = spec.Parallel with { Allreduce = kind } };
                    var (here, there) = ((await BenchmarkSilo.LinkBytesAsync(0)).Sent, (await BenchmarkSilo.LinkBytesAsync(1)).Sent);
                    var (status, metrics) = await silo.RunAsync($"hierarchical-{kind}-{round}", spec);
                    long sent = Math.Max((await BenchmarkSilo.LinkBytesAsync(0)).Sent - here, (await BenchmarkSilo.LinkBytesAsync(1)).Sent - there);
                    var measured = metrics.Steps.Where(s => s.Step > Warmup && s.Step < metrics.Steps.Count).ToList();
                    stepMs[kind].Add(measured.Average(s => s.StepSeconds) * 1000);
                    computeMs[kind].Add(measured.Average(s => s.ComputeSeconds) * 1000);
                    sentPerStep[kind] = sent / (double)metrics.Steps.Count;
                    exchange[kind] = status.Exchange;
                }
            long gradient = 4L * 1_057_566;
            var line = new JsonObject { ["case"] = "exchange-hierarchical", ["workers"] = n, ["silos"] = 2, ["gradient_bytes"] = gradient };
            foreach (var kind in kinds)
            {
                var name = kind.ToString().ToLowerInvariant();
                line[$"{name}_exchange"] = exchange[kind];
                line[$"{name}_busier_silo_sent_per_step"] = Math.Round(sentPerStep[kind]);
                line[$"{name}_sent_in_gradients"] = Math.Round(sentPerStep[kind] / gradient, 3);
                line[$"{name}_step_ms"] = Math.Round(Median(stepMs[kind]), 2);
                line[$"{name}_compute_ms"] = Math.Round(Median(computeMs[kind]), 2);
                line[$"{name}_step_ms_rounds"] = string.Join(" ", stepMs[kind].Select(x => Math.Round(x, 1)));
            }
            line["ratio"] = Math.Round(Median(stepMs[Allreduce.Hierarchical]) / Median(stepMs[Allreduce.Star]), 3);
            return line;
        });
    }

    /// <summary>
    /// The workers' allreduces alone, without Orleans or other processes: N replicas' threads in this process reduce
    /// a gradient over loopback links, around a ring and by halving and doubling, alternating round by round; median
    /// milliseconds per allreduce, against one link frame of the whole gradient.
    /// </summary>
    public static IEnumerable<string> AllreduceLoopback()
    {
        const int rounds = 31;
        foreach (int n in new[] { 2, 4, 8 })
            foreach (int count in new[] { 16_384, 262_144, 1_057_566 })
            {
                var kinds = new[] { "ring", "halving-doubling" };
                var built = kinds.Select(kind => LoopbackAllreduces(kind, n)).ToArray();
                var gradients = Enumerable.Range(0, n).Select(r => Enumerable.Range(0, count).Select(i => (float)((i % 97) * 1e-3 + r)).ToArray()).ToArray();
                var times = kinds.Select(_ => new List<double>()).ToArray();
                for (int round = 0; round < rounds; round++)
                    for (int k = 0; k < kinds.Length; k++)
                    {
                        var allreduces = built[k].Allreduces;
                        var clock = Stopwatch.StartNew();
                        var threads = Enumerable.Range(0, n).Select(r => new Thread(() => allreduces[r].Reduce(gradients[r], round, ClipScope.PerWorker, ClipMode.Norm, 1.0))).ToArray();
                        foreach (var t in threads) t.Start();
                        foreach (var t in threads) t.Join();
                        times[k].Add(clock.Elapsed.TotalMilliseconds);
                    }
                foreach (var (allreduces, links) in built)
                {
                    foreach (var a in allreduces) a.Dispose();
                    foreach (var link in links) link.Dispose();
                }
                double ring = Median(times[0]), halving = Median(times[1]);
                yield return new JsonObject
                {
                    ["case"] = "allreduce-loopback",
                    ["workers"] = n,
                    ["params"] = count,
                    ["ring_ms"] = Math.Round(ring, 3),
                    ["halving_doubling_ms"] = Math.Round(halving, 3),
                    ["one_frame_ms"] = Math.Round(LoopbackMilliseconds(count * 4L, link: true), 3),
                    ["ratio"] = Math.Round(halving / ring, 3),
                }.ToJsonString();
            }
    }

    /// <summary>N allreduces of one kind wired over fresh loopback links (the ring's next and previous, or every halving-doubling partner).</summary>
    static (Distributed.Grains.Training.IGradientAllreduce[] Allreduces, List<Distributed.Grains.Training.GradientLink> Links) LoopbackAllreduces(string kind, int n)
    {
        using var listener = new System.Net.Sockets.Socket(System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Tcp);
        listener.Bind(new System.Net.IPEndPoint(System.Net.IPAddress.Loopback, 0));
        listener.Listen(n);
        var links = new List<Distributed.Grains.Training.GradientLink>();
        (Distributed.Grains.Training.GradientLink, Distributed.Grains.Training.GradientLink) Pair()
        {
            var client = new System.Net.Sockets.Socket(System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Tcp) { NoDelay = true };
            client.Connect(listener.LocalEndPoint!);
            var server = listener.Accept();
            server.NoDelay = true;
            var ends = (new Distributed.Grains.Training.GradientLink(client, new byte[32], new byte[16], coordinator: true),
                new Distributed.Grains.Training.GradientLink(server, new byte[32], new byte[16], coordinator: false));
            links.Add(ends.Item1);
            links.Add(ends.Item2);
            return ends;
        }
        if (kind == "ring")
        {
            var next = new Distributed.Grains.Training.GradientLink[n];
            var previous = new Distributed.Grains.Training.GradientLink[n];
            for (int r = 0; r < n; r++) (next[r], previous[(r + 1) % n]) = Pair();
            return (Enumerable.Range(0, n).Select(r => (Distributed.Grains.Training.IGradientAllreduce)new Distributed.Grains.Training.RingAllreduce(r, n, n, next[r], previous[r])).ToArray(), links);
        }
        var partners = Enumerable.Range(0, n).Select(_ => new Dictionary<int, Distributed.Grains.Training.GradientLink>()).ToArray();
        for (int p = 0; p < n; p++)
            foreach (int q in Distributed.Grains.Training.HalvingDoublingAllreduce.Partners(p, n).Where(q => q > p))
                (partners[p][q], partners[q][p]) = Pair();
        return (Enumerable.Range(0, n).Select(p => (Distributed.Grains.Training.IGradientAllreduce)new Distributed.Grains.Training.HalvingDoublingAllreduce(p, n, n, partners[p])).ToArray(), links);
    }

    /// <summary>Median time for one frame from a worker-side blocking send to a coordinator-side async receive on loopback.</summary>
    static double LoopbackMilliseconds(long bytes, bool link)
    {
        using var listener = new System.Net.Sockets.Socket(System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Tcp);
        listener.Bind(new System.Net.IPEndPoint(System.Net.IPAddress.Loopback, 0));
        listener.Listen(1);
        using var client = new System.Net.Sockets.Socket(System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Tcp) { NoDelay = true };
        client.Connect(listener.LocalEndPoint!);
        using var server = listener.Accept();
        var token = new byte[32];
        var challenge = new byte[16];
        using var sender = new Distributed.Grains.Training.GradientLink(server, token, challenge, coordinator: false);
        using var receiver = new Distributed.Grains.Training.GradientLink(client, token, challenge, coordinator: true);
        var payload = new byte[bytes];
        var into = new byte[bytes];
        var times = new List<double>();
        for (int round = 0; round < 21; round++)
        {
            var clock = Stopwatch.StartNew();
            var sending = Task.Run(() =>
            {
                if (link) sender.Send(round, payload);
                else for (var rest = payload.AsSpan(); !rest.IsEmpty;) rest = rest[server.Send(rest)..];
            });
            if (link) receiver.ReceiveAsync(round, into, "bench", default).GetAwaiter().GetResult();
            else for (var rest = into.AsMemory(); !rest.IsEmpty;) rest = rest[client.ReceiveAsync(rest, System.Net.Sockets.SocketFlags.None).AsTask().GetAwaiter().GetResult()..];
            sending.Wait();
            times.Add(clock.Elapsed.TotalMilliseconds);
        }
        return Median(times);
    }

    /// <summary>Median time for one core to tag a link frame of a gradient this size (GMAC, AES-128-GCM over associated data, as the link does).</summary>
    static double TagMilliseconds(long bytes)
    {
        var payload = new byte[bytes];
        var tag = new byte[16];
        using var cipher = new System.Security.Cryptography.AesGcm(new byte[16], 16);
        var times = new List<double>();
        for (int round = 0; round < 21; round++)
        {
            var clock = Stopwatch.StartNew();
            cipher.Encrypt(new byte[12], ReadOnlySpan<byte>.Empty, Span<byte>.Empty, tag, payload);
            times.Add(clock.Elapsed.TotalMilliseconds);
        }
        return Median(times);
    }

    public static string Memory()
    {
        return BenchmarkSilo.Measure(async silo =>
        {
            const int steps = 5000, settle = 500;
            long atSettle = 0, atEnd = 0, lastStep = 0;
            var clock = Stopwatch.StartNew();
            // Sampled while training, so the final checkpoint and evaluation are not counted as growth.
            var (_, metrics) = await silo.RunAsync("memory", Spec(PeerModel, 1, steps, batch: 32), status =>
            {
                if (atSettle == 0 && status.Step >= settle) atSettle = ResidentBytes();
                if (status.Step >= settle && status.Step < steps)
                {
                    atEnd = ResidentBytes();
                    lastStep = status.Step;
                }
            });
            return new JsonObject
            {
                ["case"] = "memory-5000-steps",
                ["steps"] = steps,
                ["rss_mb_at_step_500"] = Math.Round(atSettle / 1048576.0, 1),
                ["rss_mb_at_last_sample"] = Math.Round(atEnd / 1048576.0, 1),
                ["last_sample_step"] = lastStep,
                ["growth"] = Math.Round((double)atEnd / atSettle - 1, 4),
                ["seconds"] = Math.Round(clock.Elapsed.TotalSeconds, 1),
                ["samples_per_s"] = Math.Round(metrics.Steps.Count * 32 / metrics.Steps.Sum(s => s.StepSeconds), 1),
            };
        });
    }

    static long ResidentBytes()
    {
        using var self = Process.GetCurrentProcess();
        self.Refresh();
        return self.WorkingSet64;
    }

}
