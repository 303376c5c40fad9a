using System.Collections.Concurrent;
using System.Diagnostics.Metrics;

namespace Distributed.Grains.Telemetry;

/// <summary>
/// The project's own instruments, in the meter <see cref="Name"/>: what training does on this silo (counters a
/// scraper turns into rates: steps/s, samples/s, the exchange's share of step time) and what the sweeps living here
/// wait for. The silo's Prometheus endpoint and OTLP exporter read them; nothing here needs either.
/// </summary>
public static class TrainingMeter
{
    public const string Name = "Distributed";
    static readonly Meter meter = new(Name);

    public static readonly Counter<long> Steps = meter.CreateCounter<long>("distributed.trial.steps", "{step}", "Optimizer steps computed, by trial (steps computed again after a recovery count again)");
    public static readonly Counter<long> Samples = meter.CreateCounter<long>("distributed.trial.samples", "{sample}", "Training examples consumed, by trial");
    public static readonly Counter<double> StepTime = meter.CreateCounter<double>("distributed.trial.step.time", "s", "Wall time of the steps, by trial");
    public static readonly Counter<double> ExchangeTime = meter.CreateCounter<double>("distributed.trial.exchange.time", "s", "Step time not spent computing (the gradient exchange and its waits), by trial");
    public static readonly Counter<long> Evaluations = meter.CreateCounter<long>("distributed.trial.evaluations", "{evaluation}", "Validation evaluations, by trial");
    public static readonly Counter<long> Recoveries = meter.CreateCounter<long>("distributed.trial.recoveries", "{recovery}", "Runs resumed from a checkpoint after a lost worker or coordinator, by trial");
    public static readonly UpDownCounter<int> ReplicasDemanded = meter.CreateUpDownCounter<int>("distributed.replicas.demanded", "{replica}",
        "Replicas the running trials coordinated here need, loaded or waiting for room: what the autoscaler divides by replicas per silo");
    public static readonly UpDownCounter<int> WaitingForRoom = meter.CreateUpDownCounter<int>("distributed.trials.waiting", "{trial}",
        "Trials whose replicas no silo has room for now (memory budgets): the work a scale-out would start");
    public static readonly Counter<long> OverlappedSteps = meter.CreateCounter<long>("distributed.exchange.overlapped.steps", "{step}",
        "Worker steps whose decoder gradients began their allreduce while the encoder's backward still ran, by trial");
    public static readonly Counter<long> CheckpointBytes = meter.CreateCounter<long>("distributed.checkpoint.bytes", "By", "Checkpoint bytes written to the artifact store");

    // Read only through its callback: the links count their bytes themselves (one interlocked add per write or read).
    static readonly ObservableCounter<long> LinkBytes = meter.CreateObservableCounter("distributed.gradient.link.bytes",
        () => new[]
        {
            new Measurement<long>(Training.GradientLink.SentBytes, new KeyValuePair<string, object?>("direction", "sent")),
            new Measurement<long>(Training.GradientLink.ReceivedBytes, new KeyValuePair<string, object?>("direction", "received")),
        }, "By", "Bytes this silo's direct gradient links sent and received, by direction");

    // Sweep id -> its trials by state, as its grain last saw them; only sweeps active on this silo.
    static readonly ConcurrentDictionary<string, IReadOnlyDictionary<string, int>> sweeps = new();

    // Held so the gauge lives with the meter; it is read only through its callback.
    static readonly ObservableGauge<int> SweepTrials = meter.CreateObservableGauge("distributed.sweep.trials", Observe, "{trial}",
        "Trials of each running sweep on this silo by state: queued (waiting for a slot), running, paused");

    static IEnumerable<Measurement<int>> Observe() =>
        sweeps.SelectMany(sweep => sweep.Value.Select(state =>
            new Measurement<int>(state.Value, new KeyValuePair<string, object?>("sweep", sweep.Key), new KeyValuePair<string, object?>("state", state.Key))));

    /// <summary>
    /// Creates every instrument now: they are static fields, made on first use, and a silo that only holds workers
    /// never counts a step, yet its link bytes must show from the first scrape.
    /// </summary>
    public static void Create() => System.Runtime.CompilerServices.RuntimeHelpers.RunClassConstructor(typeof(TrainingMeter).TypeHandle);

    /// <summary>A running sweep's trials by state (every state in <paramref name="states"/> is reported, zeros too).</summary>
    public static void Publish(string sweepId, IReadOnlyDictionary<string, int> states) => sweeps[sweepId] = states;

    /// <summary>The sweep ended or left this silo: its series go.</summary>
    public static void Forget(string sweepId) => sweeps.TryRemove(sweepId, out _);

    public static KeyValuePair<string, object?> Trial(string trialId) => new("trial", trialId);
}
