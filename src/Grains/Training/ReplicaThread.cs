using System.Collections.Concurrent;

namespace Distributed.Grains.Training;

/// <summary>
/// A dedicated thread for one replica's TorchSharp work. It keeps that work off the Orleans scheduler, gives each
/// replica its own torch thread setting, and keeps thread-static dispose scopes on one thread.
/// </summary>
public sealed class ReplicaThread : IDisposable
{
    readonly BlockingCollection<Action> work = new();
    readonly Thread thread;

    public ReplicaThread(string name, int torchThreads)
    {
        thread = new Thread(() =>
        {
            TorchSharp.torch.set_num_threads(torchThreads);
            foreach (var item in work.GetConsumingEnumerable()) item();
        })
        { IsBackground = true, Name = name };
        thread.Start();
    }

    /// <summary>Runs <paramref name="job"/> on this thread; the task completes off the thread so grain code never runs here.</summary>
    public Task<T> Run<T>(Func<T> job)
    {
        var done = new TaskCompletionSource<T>(TaskCreationOptions.RunContinuationsAsynchronously);
        try
        {
            work.Add(() =>
            {
                try
                {
                    done.SetResult(job());
                }
                catch (Exception e)
                {
                    done.SetException(e);
                }
            });
        }
        catch (InvalidOperationException)
        {
            done.SetException(new ObjectDisposedException(thread.Name, "the replica was released"));
        }
        return done.Task;
    }

    public Task Run(Action job) => Run(() =>
    {
        job();
        return true;
    });

    /// <summary>Lets queued work finish, then ends the thread.</summary>
    public void Dispose() => work.CompleteAdding();
}
