using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Nodes;
using Distributed.Models;
using Distributed.Models.Data;
using Distributed.Models.Training;
using Distributed.Options;

namespace Distributed.Benchmarks;

/// <summary>The cases. Ratios are measured in one run against the PyTorch peer on the same configuration.</summary>
public static class BenchmarkCases
{
    const int Length = 10, Batch = 64, Steps = 300, Warmup = 20;

    // The peer's configuration: emb 64, hidden 128, 1 layer, reverse 10 digits, batch 64, Adam 1e-3, clip 1.0, one thread.
    static readonly ModelOptions PeerModel = new() { EmbeddingSize = 64, HiddenSize = 128, Attention = AttentionKind.Additive };

    public static readonly IReadOnlyList<BenchmarkCase> All =
    [
        new("step-vs-pytorch", "samples/s of our fused training step vs PyTorch's, additive attention (target >= 1.5)",
            () => VersusPeer("step-vs-pytorch", PeerModel, "--attention additive")),
        new("stepwise-recurrent-dropout-vs-pytorch", "our step-by-step cell path (recurrent dropout 0.1) vs PyTorch's fused LSTM (target >= 1.0)",
            () => VersusPeer("stepwise-recurrent-dropout-vs-pytorch", PeerModel with { RecurrentDropout = 0.1 }, "--attention additive")),
        new("stepwise-layer-norm-vs-pytorch", "our step-by-step cell path (layer norm) vs PyTorch's fused LSTM (target >= 1.0)",
            () => VersusPeer("stepwise-layer-norm-vs-pytorch", PeerModel with { LayerNorm = true }, "--attention additive")),
        new("config-matrix-vs-pytorch", "samples/s for every (cell, layers, bidirectional, attention) a study of the guide's factors runs, vs PyTorch's same configuration; one line each, medians of 3 alternating rounds (target >= 1.5 on every line)",
            ConfigMatrix),
        new("comparison-study-vs-pytorch", "samples/s for the model of samples/comparison-study.yaml (LSTM, emb 32, hidden 64, additive) at 1, 2 and 3 layers, uni- and bidirectional, vs PyTorch's same shape; medians of 3 alternating rounds (target >= 1.5 on every line)",
            ComparisonStudy),
        new("no-attention-vs-pytorch", "samples/s without attention (fused decoder too) vs PyTorch's",
            () => VersusPeer("no-attention-vs-pytorch", PeerModel with { Attention = AttentionKind.None }, "--attention none")),
        new("grains-one-worker-vs-raw", "one worker through the grains vs the model library's raw loop, same data (target >= 0.95)",
            TrialBenchmarks.OneWorkerVersusRaw),
        new("dashboard-metrics-on-vs-off", "one worker (a one-trial sweep) with the silo's metrics scraped every second and the web dashboard streaming the sweep, vs neither (target >= 0.98: cost <= 2%)",
            TrialBenchmarks.DashboardAndMetricsOnVersusOff),
        new("grains-two-workers-vs-one", "2 workers vs 1, one thread each, and PyTorch DDP's own 2-vs-1 ratio (target >= 1.8 and above DDP)",
            TrialBenchmarks.TwoWorkersVersusOne),
        new("exchange-one-silo", "share of step time in the gradient exchange, ~1M parameters, 2 workers, one silo (target <= 0.05)",
            () => TrialBenchmarks.Exchange(twoProcesses: false)),
        new("exchange-scaling", "N = 2, 4, 8 workers in as many silo processes, 1M-parameter model, star and ring alternating: the busiest link direction's bytes per step against the ring bound 2(N-1)/N·S (ratio), and exchange time ring against star (one line per N)",
            () => string.Join('\n', TrialBenchmarks.ExchangeScaling())),
        new("exchange-hierarchical", "4 workers over 2 silos (2 each), 1M parameters: star, flat ring and hierarchical ring alternating; bytes the busier silo sends per step, step time; ratio = hierarchical / star step time",
            TrialBenchmarks.ExchangeHierarchical),
        new("allreduce-loopback", "the workers' allreduces alone: N = 2, 4, 8 replica threads in one process reduce 16K, 256K and 1M parameters over loopback links, ring and halving-doubling alternating; ratio = halving-doubling / ring ms per allreduce",
            () => string.Join('\n', TrialBenchmarks.AllreduceLoopback())),
        new("exchange-two-silo-processes", "the same across two silo processes on loopback (target <= 0.15)",
            () => TrialBenchmarks.Exchange(twoProcesses: true)),
        new("exchange-overlap", "2 workers in two silo processes, ring, per-worker clipping by norm and global clipping (one line each): the decoder's gradients averaged while the encoder's backward runs, against after it; ratio = overlapped / plain step time",
            () => string.Join('\n', TrialBenchmarks.ExchangeOverlap())),
        new("memory-5000-steps", "resident size growth from step 500 to step 5000 of one trial (target < 0.05)",
            TrialBenchmarks.Memory),
        new("sweep-wall-time", "16 short trials, 2 at once: sweep wall time / (sum of trial times / 2) (target <= 1.10)",
            SweepBenchmarks.WallTime),
        new("asha-vs-grid", "the quick-start grid run to the end, then replayed through its ASHA rule: keeps the best, steps used / grid's steps (target <= 0.40)",
            SweepBenchmarks.AshaVersusGrid),
        new("trial-record-100k-steps", "bytes a 100k-step trial writes for its record, checkpoint every 100: sealed segments / whole history (ratio)",
            RecordBenchmarks.HundredThousandSteps),
        new("sweep-record-10k-evaluations", "a 10,000-evaluation sweep's record and bytes written per minute: summary written on change / every evaluation written every second (ratio)",
            RecordBenchmarks.TenThousandEvaluationSweep),
        new("tpe-vs-random", "median best validation token accuracy after 16/32/64 trials over 10 search seeds, 5 options; ratio = TPE at 32 / random at 64 (target >= 1)",
            SearchBenchmarks.TpeVersusRandom),
        new("pbt-exploit", "PBT: copying a member's state (~1M parameters) straight from its held replicas vs through its checkpoint in the store, one silo and across two processes; ratio = store / workers across processes",
            PbtBenchmarks.Exploit),
        new("pbt-vs-fixed-schedules", "PBT (population 8: teacher forcing ratio and learning rate) vs the grid of four teacher-forcing schedules x two learning rates, same total steps, date normalisation, 10 seeds: median best test exact match; ratio = PBT / grid (target >= 1)",
            PbtScheduleBenchmarks.PbtVersusFixedSchedules),
    ];

    static string VersusPeer(string name, ModelOptions model, string peerArguments)
    {
        var ours = Throughput(model);
        var (peer, problem) = PytorchPeer.Run($"--emb {model.EmbeddingSize} --hidden {model.HiddenSize} --len {Length} --batch {Batch} " +
                                              $"--steps {Steps} --warmup {Warmup} --threads 1 --workers 1 {peerArguments}");
        var line = new JsonObject
        {
            ["case"] = name,
            ["samples_per_s"] = ours.SamplesPerSecond,
            ["steps_per_s"] = ours.StepsPerSecond,
            ["params"] = ours.Parameters,
            ["loss_first"] = ours.LossFirst,
            ["loss_last"] = ours.LossLast,
        };
        if (peer is null)
        {
            line["peer"] = problem;
        }
        else
        {
            double peerSamples = peer["samples_per_s"]!.GetValue<double>();
            line["pytorch_samples_per_s"] = peerSamples;
            line["pytorch_params"] = peer["params"]!.GetValue<long>();
            line["pytorch_impl"] = peer["impl"]!.GetValue<string>();
            line["ratio"] = Math.Round(ours.SamplesPerSecond / peerSamples, 3);
        }
        return line.ToJsonString();
    }

    /// <summary>
    /// One line per configuration: ours and the peer alternate for three rounds in this run, and each side's median
    /// is compared. Residual connections off, as the peer's stacked nn.LSTM/nn.GRU has none.
    /// </summary>
    static string ConfigMatrix()
    {
        // CONFIG_MATRIX_CELLS=gru (comma-separated) measures some cells only, while working on them.
        var cells = (Environment.GetEnvironmentVariable("CONFIG_MATRIX_CELLS") ?? "lstm,gru").Split(',')
            .Select(c => Enum.Parse<CellKind>(c.Trim(), ignoreCase: true));
        return Matrix("config-matrix-vs-pytorch", PeerModel, cells, [1, 2], [AttentionKind.None, AttentionKind.Additive]);
    }

    /// <summary>
    /// The model of samples/comparison-study.yaml (LSTM, emb 32, hidden 64, additive attention) at each depth and
    /// direction its grid expands to, against the peer's same shape. The peer has no dropout or scheduled sampling,
    /// the grid's other two factors: ours with dropout 0.3, and with it and teacher probability 0.5, are timed in the
    /// same rounds and set against the peer without them (which only flatters the peer).
    /// </summary>
    static string ComparisonStudy() =>
        Matrix("comparison-study-vs-pytorch", new ModelOptions { EmbeddingSize = 32, HiddenSize = 64, Attention = AttentionKind.Additive },
            [CellKind.Lstm], [1, 2, 3], [AttentionKind.Additive],
            [new("dropout", m => m with { Dropout = 0.3 }, 1.0), new("dropout_sampling", m => m with { Dropout = 0.3 }, 0.5)]);

    /// <summary>A variant of each line's model timed alongside it: its name, the change, the teacher probability.</summary>
    sealed record Variant(string Name, Func<ModelOptions, ModelOptions> Change, double Teacher);

    static string Matrix(string caseName, ModelOptions shape, IEnumerable<CellKind> cells, int[] depths, AttentionKind[] attentions,
        Variant[]? variants = null)
    {
        variants ??= [];
        var lines = new List<string>();
        foreach (var cell in cells)
            foreach (var layers in depths)
                foreach (var bidirectional in new[] { false, true })
                    foreach (var attention in attentions)
                    {
                        // CONFIG_MATRIX_ONLY=lstm-2-bidir-none (comma-separated) measures those lines only.
                        var name = $"{cell.ToString().ToLowerInvariant()}-{layers}-{(bidirectional ? "bidir" : "uni")}-{attention.ToString().ToLowerInvariant()}";
                        if (Environment.GetEnvironmentVariable("CONFIG_MATRIX_ONLY") is { } only && !only.Split(',').Contains(name)) continue;
                        var model = shape with { Cell = cell, Layers = layers, Bidirectional = bidirectional, Attention = attention, Residual = false };
                        var arguments = $"--emb {model.EmbeddingSize} --hidden {model.HiddenSize} --len {Length} --batch {Batch} --steps {Steps} --warmup {Warmup} " +
                                        $"--threads 1 --workers 1 --cell {cell.ToString().ToLowerInvariant()} --layers {layers} --bidir {(bidirectional ? 1 : 0)} " +
                                        $"--attention {(attention == AttentionKind.None ? "none" : "additive")}";
                        var ours = new List<double>();
                        var theirs = new List<double>();
                        var varied = variants.ToDictionary(v => v.Name, _ => new List<double>());
                        string? problem = null;
                        long? peerParameters = null;
                        int parameters = 0;
                        // CONFIG_MATRIX_ROUNDS=5 takes more rounds (default three), for a steadier median on a noisy machine.
                        for (int round = 0; round < Rounds; round++)
                        {
                            var measured = Throughput(model);
                            ours.Add(measured.SamplesPerSecond);
                            parameters = measured.Parameters;
                            foreach (var v in variants) varied[v.Name].Add(Throughput(v.Change(model), v.Teacher).SamplesPerSecond);
                            // CONFIG_MATRIX_PEER=off times our side only, for comparing two builds of ours.
                            if (Environment.GetEnvironmentVariable("CONFIG_MATRIX_PEER") == "off") continue;
                            var (peer, why) = PytorchPeer.Run(arguments);
                            if (peer is null) problem = why;
                            else
                            {
                                theirs.Add(peer["samples_per_s"]!.GetValue<double>());
                                peerParameters = peer["params"]!.GetValue<long>();
                            }
                        }
                        var line = new JsonObject
                        {
                            ["case"] = caseName,
                            ["cell"] = cell.ToString().ToLowerInvariant(),
                            ["layers"] = layers,
                            ["bidirectional"] = bidirectional,
                            ["attention"] = attention.ToString().ToLowerInvariant(),
                            ["emb"] = model.EmbeddingSize,
                            ["hidden"] = model.HiddenSize,
                            ["params"] = parameters,
                            ["samples_per_s"] = Median(ours),
                            ["rounds"] = string.Join(" ", ours),
                        };
                        if (theirs.Count == 0) line["peer"] = problem ?? "off";
                        else
                        {
                            line["pytorch_params"] = peerParameters;
                            line["pytorch_samples_per_s"] = Median(theirs);
                            line["pytorch_rounds"] = string.Join(" ", theirs);
                            line["ratio"] = Math.Round(Median(ours) / Median(theirs), 3);
                        }
                        foreach (var v in variants)
                        {
                            line[$"{v.Name}_samples_per_s"] = Median(varied[v.Name]);
                            if (theirs.Count > 0) line[$"{v.Name}_ratio"] = Math.Round(Median(varied[v.Name]) / Median(theirs), 3);
                        }
                        lines.Add(line.ToJsonString());
                    }
        return string.Join(Environment.NewLine, lines);
    }

    static int Rounds => int.TryParse(Environment.GetEnvironmentVariable("CONFIG_MATRIX_ROUNDS"), out var n) && n > 0 ? n : 3;

    static double Median(List<double> values) => values.Order().ElementAt(values.Count / 2);

    sealed record Measured(double SamplesPerSecond, double StepsPerSecond, int Parameters, double LossFirst, double LossLast);

    static Measured Throughput(ModelOptions model, double teacher = 1.0)
    {
        TorchSharp.torch.set_num_threads(1);
        var vocabularies = new Vocabularies(Digits(), Digits(), TokenizationKind.Character);
        var pairs = BuiltInTasks.Generate(BuiltInTaskKind.Reverse, (Steps + Warmup) * Batch, Length, Length, 42);
        var examples = pairs.Select(p => new EncodedExample(vocabularies.EncodeSource(p.Source), vocabularies.EncodeTarget(p.Target))).ToList();
        var training = new TrainingOptions
        {
            LearningRate = 1e-3, Clip = ClipMode.Norm, ClipThreshold = 1.0, BatchSize = Batch, TeacherForcing = new ScheduledSampling { Initial = teacher },
        };
        using var trainer = new Trainer(model, training, vocabularies, 42);
        double first = 0, last = 0;
        var clock = new Stopwatch();
        for (int step = 0; step < Steps + Warmup; step++)
        {
            if (step == Warmup) clock.Start();
            // Building the batch is inside the timed loop, as the peer draws its batch inside its loop.
            using var batch = TrainingBatch.From(examples.GetRange(step * Batch, Batch));
            var report = trainer.TrainStep(batch);
            if (step == 0) first = report.Loss;
            last = report.Loss;
        }
        clock.Stop();
        double seconds = clock.Elapsed.TotalSeconds;
        return new Measured(Math.Round(Steps * Batch / seconds, 1), Math.Round(Steps / seconds, 3), trainer.Parameters.Count,
            Math.Round(first, 4), Math.Round(last, 4));
    }

    static Vocabulary Digits() => Vocabulary.FromTokens("0123456789".Select(c => c.ToString()));
}
