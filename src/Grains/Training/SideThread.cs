namespace Distributed.Grains.Training;

/// <summary>
/// One piece of work at a time on a thread of its own, started here and waited for later: a blocked pool thread
/// would starve the tag and check tasks the links queue there, hence a thread, not the pool.
/// </summary>
sealed class SideThread : IDisposable
{
    readonly Thread thread;
    readonly SemaphoreSlim queued = new(0);
    readonly ManualResetEventSlim done = new(true);
    Action? work;
    Exception? failed;
    volatile bool disposed;

    public SideThread(string name)
    {
        thread = new Thread(Loop) { IsBackground = true, Name = name };
        thread.Start();
    }

    /// <summary>Starts <paramref name="action"/> on the thread; the last work must have been waited for.</summary>
    public void Start(Action action)
    {
        ObjectDisposedException.ThrowIf(disposed, this);
        if (!done.IsSet) throw new InvalidOperationException($"{thread.Name} is still busy");
        failed = null;
        done.Reset();
        work = action;
        queued.Release();
    }

    /// <summary>Waits for the work started last (at once when none is running); its failure is thrown here unless told not to.</summary>
    public void Wait(bool rethrow = true)
    {
        done.Wait();
        if (rethrow && failed is { } e)
        {
            failed = null;
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(e);
        }
    }

    void Loop()
    {
        while (true)
        {
            queued.Wait();
            if (disposed)
            {
                // Work queued just before the thread was dropped must not leave its waiter waiting.
                failed = new ObjectDisposedException(thread.Name);
                done.Set();
                return;
            }
            try
            {
                work!();
            }
            catch (Exception e)
            {
                failed = e;
            }
            work = null;
            done.Set();
        }
    }

    /// <summary>Ends the thread once its current work is done.</summary>
    public void Dispose()
    {
        disposed = true;
        queued.Release();
    }
}

/// <summary>
/// Sends on its own thread while the replica thread receives, for the allreduces whose workers all send before they
/// receive (sequential sends would fill both sockets and stall).
/// </summary>
sealed class DuplexSender(string name) : IDisposable
{
    readonly SideThread sending = new(name);

    /// <summary>
    /// Runs <paramref name="send"/> over <paramref name="to"/> while <paramref name="receive"/> runs here; when the
    /// receive fails the link is closed, so the send ends now and the memory it reads unpins before this throws.
    /// </summary>
    public void Exchange(GradientLink to, Action send, Action receive)
    {
        sending.Start(send);
        try
        {
            receive();
        }
        catch
        {
            to.Abort();
            sending.Wait(rethrow: false);
            throw;
        }
        sending.Wait();
    }

    public void Dispose() => sending.Dispose();
}
