using Distributed.Grains.Abstractions.Storage;
using Distributed.Grains.Abstractions.Training;
using Distributed.Grains.Hosting;
using Distributed.Models.Training;
using Distributed.Grains.Storage;

namespace Distributed.Grains.Training;

/// <summary>
/// Decodes inputs with trials' checkpoints, on its own thread (TorchSharp stays off the Orleans scheduler). The
/// last few loaded models are kept, so asking one trial again and again loads its checkpoint once.
/// </summary>
public sealed class Predictor(IArtifactStore store, TrainingSiloOptions options) : IDisposable
{
    const int Kept = 2;
    readonly ReplicaThread thread = new("predictor", options.TorchThreads);
    readonly List<(string Path, Trainer Trainer)> loaded = [];

    public async Task<TrialPrediction> PredictAsync(string checkpointPath, string input, int beamWidth)
    {
        if (string.IsNullOrWhiteSpace(input)) throw new ArgumentException("input: must not be empty");
        if (beamWidth is < 1 or > 64) throw new ArgumentException("beam: must be 1..64");
        byte[]? bytes = null;
        if (!IsLoaded(checkpointPath))
            bytes = await store.ReadAsync(checkpointPath) ?? throw new InvalidOperationException($"checkpoint {checkpointPath} is missing from the artifact store");
        return await thread.Run(() =>
        {
            var trainer = Load(checkpointPath, bytes);
            var t = trainer.TranslateWithAttention(input, beamWidth);
            return new TrialPrediction(t.Output, t.SourceTokens, t.OutputTokens, t.Attention, trainer.Step, checkpointPath);
        });
    }

    bool IsLoaded(string path)
    {
        lock (loaded) return loaded.Any(l => l.Path == path);
    }

    Trainer Load(string path, byte[]? bytes)
    {
        lock (loaded)
        {
            int index = loaded.FindIndex(l => l.Path == path);
            if (index >= 0) return loaded[index].Trainer;
        }
        if (bytes is null) throw new InvalidOperationException($"checkpoint {path} was not read");
        if (Checkpoint.Problem(bytes) is { } problem) throw new InvalidOperationException($"checkpoint {path} {problem}; the trial's next checkpoint replaces it");
        var trainer = Trainer.Load(new MemoryStream(bytes));
        lock (loaded)
        {
            loaded.Add((path, trainer));
            if (loaded.Count > Kept)
            {
                loaded[0].Trainer.Dispose();
                loaded.RemoveAt(0);
            }
        }
        return trainer;
    }

    public void Dispose() => thread.Dispose();
}
