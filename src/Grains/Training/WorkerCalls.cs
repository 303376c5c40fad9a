namespace Distributed.Grains.Training;

/// <summary>Calls to a trial's workers awaited together: what failed or timed out is named by rank.</summary>
static class WorkerCalls
{
    /// <summary>Awaits every call, or throws naming the workers that did not answer in time or failed.</summary>
    public static async Task<T[]> Within<T>(Task<T>[] calls, TimeSpan timeout, string what, CancellationToken cancel)
    {
        try
        {
            return await Task.WhenAll(calls).WaitAsync(timeout, cancel);
        }
        catch (TimeoutException)
        {
            var late = Enumerable.Range(0, calls.Length).Where(r => !calls[r].IsCompleted);
            throw new TimeoutException($"worker {string.Join(", ", late)} did not {what} within {timeout.TotalSeconds:0.###} s");
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            var failed = Enumerable.Range(0, calls.Length).FirstOrDefault(r => calls[r].IsFaulted);
            throw new InvalidOperationException($"worker {failed} could not {what}: {e.Message}", e);
        }
    }

    public static Task Within(Task[] calls, TimeSpan timeout, string what, CancellationToken cancel) =>
        Within(calls.Select(async c => { await c; return true; }).ToArray(), timeout, what, cancel);
}
