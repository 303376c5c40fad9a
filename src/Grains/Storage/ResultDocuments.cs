using System.Text;
using System.Text.Json;
using Distributed.Grains.Abstractions.Storage;
using Distributed.Grains.Abstractions.Sweeps;
using Distributed.Grains.Abstractions.Training;
using Microsoft.Extensions.Logging;
using Distributed.Sweeps;

namespace Distributed.Grains.Storage;

/// <summary>
/// What a finished trial or sweep produced, as documents in the artifact store (a directory, or Blob storage), so
/// results can be read with storage tools alone, without the cluster running: trials/&lt;id&gt;/result.json,
/// sweeps/&lt;id&gt;/results.json (every trial with its metric history) and sweeps/&lt;id&gt;/results.csv.
/// </summary>
public static class ResultDocuments
{

    public static Task WriteTrialAsync(IArtifactStore store, TrialStatus status, TrialSpec spec, Func<Task<TrialMetrics>> metrics, ILogger log) =>
        BestEffortAsync(log, status.TrialId, async () =>
        {
            var history = await metrics();
            await store.WriteAsync(ArtifactPaths.TrialResult(status.TrialId),
                JsonSerializer.SerializeToUtf8Bytes(new { Status = status, Spec = spec, history.Steps, history.Evaluations }, SweepReport.Json));
        });

    public static Task WriteSweepAsync(IArtifactStore store, IGrainFactory grains, SweepStatus status, ILogger log) =>
        BestEffortAsync(log, status.SweepId, async () =>
        {
            var histories = await SweepReport.HistoriesAsync(status, grains);
            await store.WriteAsync(ArtifactPaths.SweepJson(status.SweepId), Encoding.UTF8.GetBytes(SweepReport.ToJson(status, histories)));
            await store.WriteAsync(ArtifactPaths.SweepCsv(status.SweepId), Encoding.UTF8.GetBytes(SweepReport.Csv(status)));
        });

    // The durable record in grain state stays the source of truth (the client's export reads it); a document that
    // could not be written is logged, and never fails the trial or sweep it describes.
    static async Task BestEffortAsync(ILogger log, string id, Func<Task> write)
    {
        try
        {
            await write();
        }
        catch (Exception e)
        {
            log.LogWarning(e, "Result documents of {Id} were not written", id);
        }
    }
}
