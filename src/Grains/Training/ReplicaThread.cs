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

    /// <summary>Threads not ended yet: the process lets their torch work stop before it exits.</summary>
    static readonly ConcurrentDictionary<ReplicaThread, bool> Live = new();
    static volatile bool exiting;

    // libtorch's and MKL's static destructors run as the process exits; a replica still inside a torch op then (a
    // silo stopped or lost while its trials ran) crashed the process. Exit waits for the op in hand and skips the rest.
    static ReplicaThread() => AppDomain.CurrentDomain.ProcessExit += (_, _) => StopAll(TimeSpan.FromSeconds(10));

    public ReplicaThread(string name, int torchThreads)
    {
        Live[this] = true;
        thread = new Thread(() =>
        {
            try
            {
                TorchSharp.torch.set_num_threads(torchThreads);
                foreach (var item in work.GetConsumingEnumerable())
                    if (!exiting) item();
            }
            finally
            {
                Live.TryRemove(this, out _);
            }
        })
        { IsBackground = true, Name = name };
        thread.Start();
    }

    /// <summary>Ends every replica thread: each finishes the job in hand, queued ones are dropped.</summary>
    static void StopAll(TimeSpan wait)
    {
        exiting = true;
        var threads = Live.Keys.ToList();
        foreach (var t in threads) t.work.CompleteAdding();
        var deadline = DateTime.UtcNow + wait;
        foreach (var t in threads)
        {
            var left = deadline - DateTime.UtcNow;
            if (left <= TimeSpan.Zero || !t.thread.Join(left)) break;
        }
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
