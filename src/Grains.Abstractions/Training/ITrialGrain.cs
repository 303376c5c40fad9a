using Orleans.Concurrency;
using Distributed.Grains.Abstractions;
namespace Distributed.Grains.Abstractions.Training;

/// <summary>
/// One training run, keyed by its trial id. It owns the run's spec, state, metric history and checkpoints,
/// starts a coordinator, and resumes from the last checkpoint when the coordinator is lost.
/// </summary>
[Alias("ITrialGrain")]
public interface ITrialGrain : IGrainWithStringKey
{
    /// <summary>Validates and starts the trial. Starting again with the same spec returns its status; another spec is refused.</summary>
    [ClientCall(ClientRole.Operator)] [Alias("Start")] Task<TrialStatus> StartAsync(TrialSpec spec);
    /// <summary>Starts the trial as part of a sweep, which hears of each new evaluation at once (to stop it early in time).</summary>
    /// <param name="holdAtPause">PBT: at each pause the replicas stay loaded, so members copying this one take their state from them.</param>
    [Alias("StartInSweep")] Task<TrialStatus> StartInSweepAsync(TrialSpec spec, string sweepId, long? pauseAt, bool holdAtPause = false);
    /// <summary>Carries a paused trial on from its checkpoint, to <paramref name="pauseAt"/> or (null) to the end.</summary>
    [Alias("Resume")] Task<TrialStatus> ResumeAsync(long? pauseAt);
    /// <summary>
    /// PBT: a trial paused at <see cref="TrialExploit.Step"/> takes the state of another trial paused there (weights,
    /// optimizer, data position) and goes on with <see cref="TrialExploit.Spec"/>, its explored options. Asking again
    /// once it has is answered with its status.
    /// </summary>
    [Alias("Exploit")] Task<TrialStatus> ExploitAsync(TrialExploit exploit);
    /// <summary>Interleaves: answered while the trial waits on a silo that just died, and two trials exploiting each other never wait on each other.</summary>
    [ClientCall(ClientRole.Reader)] [AlwaysInterleave, Alias("GetStatus")] Task<TrialStatus> GetStatusAsync();
    [ClientCall(ClientRole.Reader)] [Alias("GetSpec")] Task<TrialSpec?> GetSpecAsync();
    /// <summary>Step metrics after <paramref name="afterStep"/> (use -1 for all) and every evaluation after it.</summary>
    [ClientCall(ClientRole.Reader)] [Alias("GetMetrics")] Task<TrialMetrics> GetMetricsAsync(long afterStep);
    /// <summary>Stops a running trial; what it produced is kept.</summary>
    [ClientCall(ClientRole.Operator)] [Alias("Cancel")] Task<TrialStatus> CancelAsync();
    /// <summary>Ends a running or paused trial as stopped early (a sweep's stopping rule), keeping what it produced.</summary>
    [Alias("StopEarly")] Task<TrialStatus> StopEarlyAsync(string reason);
    /// <summary>Decodes <paramref name="input"/> with the trial's latest checkpoint (greedy, or beam search when the width is above 1).</summary>
    [ClientCall(ClientRole.Reader)] [Alias("Predict")] Task<TrialPrediction> PredictAsync(string input, int beamWidth);
    /// <summary>Progress from this trial's coordinator; true when the trial took it, false for a report of an older run (ignored).</summary>
    [Alias("Report")] Task<bool> ReportAsync(TrialReport report);
    /// <summary>Every evaluation after <paramref name="afterStep"/>, without the step metrics: what a sweep judges on.</summary>
    [ClientCall(ClientRole.Reader)] [Alias("GetEvaluations")] Task<IReadOnlyList<EvaluationMetrics>> GetEvaluationsAsync(long afterStep);
    /// <summary>
    /// Deletes the trial's record and every artifact under trials/&lt;id&gt;/ (checkpoints, metric segments, result);
    /// refused while it runs or waits at a rung. Returns how many artifacts went.
    /// </summary>
    [Alias("Delete")] Task<int> DeleteAsync();
    /// <summary>Deletes files in the trial's metrics folder that its record does not name and that are older than the silo's orphan age.</summary>
    [Alias("DropOrphanSegments")] Task<int> DropOrphanSegmentsAsync();
}

/// <summary>A PBT exploit as the trial that copies sees it: whose state, at which step, its new spec, and where it pauses next.</summary>
[GenerateSerializer, Immutable, Alias("TrialExploit")]
public sealed record TrialExploit(
    [property: Id(0)] string FromTrialId,
    [property: Id(1)] long Step,
    [property: Id(2)] TrialSpec Spec,
    [property: Id(3)] long? PauseAt)
{
    /// <summary>Take the source's checkpoint from the artifact store even when its replicas still hold the state (to compare the two).</summary>
    [Id(4)] public bool ThroughStore { get; init; }
}

/// <summary>What a coordinator tells its trial: new metrics, a checkpoint, a restart, or the end.</summary>
[GenerateSerializer, Immutable, Alias("TrialReport")]
public sealed record TrialReport
{
    [Id(0)] public long RunId { get; init; }
    [Id(1)] public IReadOnlyList<StepMetrics> Steps { get; init; } = [];
    [Id(2)] public IReadOnlyList<EvaluationMetrics> Evaluations { get; init; } = [];
    /// <summary>A checkpoint of the replicas after this many steps was written to <see cref="CheckpointPath"/>.</summary>
    [Id(3)] public long? CheckpointStep { get; init; }
    [Id(4)] public string? CheckpointPath { get; init; }
    /// <summary>The coordinator lost a worker and went back to this step; later metrics are void.</summary>
    [Id(5)] public long? RestartedFrom { get; init; }
    /// <summary>Set when the run ended: completed, diverged or failed.</summary>
    [Id(6)] public TrialState? Outcome { get; init; }
    [Id(7)] public string? Reason { get; init; }
    /// <summary>A new best checkpoint by schedule.selectBy; once the trial took it, the older one may go.</summary>
    [Id(8)] public BestCheckpoint? Best { get; init; }
    /// <summary>With a completed outcome: the best checkpoint on the test split.</summary>
    [Id(9)] public TestResult? Test { get; init; }
    /// <summary>PBT: this run began by taking another trial's state; how, and how long it took.</summary>
    [Id(10)] public ExploitTiming? Exploit { get; init; }
    /// <summary>The run waits: no silo has room for a replica now (why). The trial shows it until <see cref="RoomFound"/>.</summary>
    [Id(11)] public string? WaitingForRoom { get; init; }
    [Id(12)] public bool RoomFound { get; init; }
    /// <summary>How this run's workers average their gradients: "star", "ring", "halving-doubling", "hierarchical" or "hierarchical halving-doubling"; null for one worker.</summary>
    [Id(13)] public string? Exchange { get; init; }
}

/// <summary>
/// A PBT copy as it happened: at <see cref="Step"/> the trial took <see cref="FromTrialId"/>'s state, <see cref="Via"/>
/// "workers" (straight from its replicas) or "store" (its checkpoint), in <see cref="Seconds"/> until every replica held it.
/// </summary>
[GenerateSerializer, Immutable, Alias("ExploitTiming")]
public sealed record ExploitTiming(
    [property: Id(0)] long Step,
    [property: Id(1)] string FromTrialId,
    [property: Id(2)] string Via,
    [property: Id(3)] double Seconds)
{
    /// <summary>Of <see cref="Seconds"/>, the time the slowest replica spent getting the state's bytes (the rest builds the model from them).</summary>
    [Id(4)] public double CopySeconds { get; init; }
}

/// <summary>A trial's checkpoint applied to one input: output, tokens, and attention[output step][source position].</summary>
[GenerateSerializer, Immutable, Alias("TrialPrediction")]
public sealed record TrialPrediction(
    [property: Id(0)] string Output,
    [property: Id(1)] IReadOnlyList<string> SourceTokens,
    [property: Id(2)] IReadOnlyList<string> OutputTokens,
    [property: Id(3)] IReadOnlyList<float[]> Attention,
    [property: Id(4)] long Step,
    [property: Id(5)] string CheckpointPath);
