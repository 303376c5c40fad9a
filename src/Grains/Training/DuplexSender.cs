namespace Distributed.Grains.Training;

/// <summary>
/// Sends on its own thread while the replica thread receives, for the allreduces whose workers all send before they
/// receive (sequential sends would fill both sockets and stall). A blocked pool thread would starve the tag and check
/// tasks the links queue there, hence a thread of its own.
/// </summary>
sealed class DuplexSender : IDisposable
{
    readonly Thread thread;
    readonly SemaphoreSlim queued = new(0);
    readonly ManualResetEventSlim done = new(false);
    Action? send;
    Exception? failed;
    volatile bool disposed;

    public DuplexSender(string name)
    {
        thread = new Thread(Loop) { IsBackground = true, Name = name };
        thread.Start();
    }

    /// <summary>
    /// Runs <paramref name="sending"/> over <paramref name="to"/> while <paramref name="receiving"/> runs here; when the
    /// receive fails the link is closed, so the send ends now and the memory it reads unpins before this throws.
    /// </summary>
    public void Exchange(GradientLink to, Action sending, Action receiving)
    {
        ObjectDisposedException.ThrowIf(disposed, this);
        failed = null;
        done.Reset();
        send = sending;
        queued.Release();
        try
        {
            receiving();
        }
        catch
        {
            to.Abort();
            done.Wait();
            throw;
        }
        done.Wait();
        if (failed is { } e) System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(e);
    }

    void Loop()
    {
        while (true)
        {
            queued.Wait();
            if (disposed)
            {
                // A send queued just before the allreduce was dropped must not leave its receiver waiting.
                failed = new ObjectDisposedException(nameof(DuplexSender));
                done.Set();
                return;
            }
            try
            {
                send!();
            }
            catch (Exception e)
            {
                failed = e;
            }
            done.Set();
        }
    }

    /// <summary>Ends the thread (the links are the exchange's to close).</summary>
    public void Dispose()
    {
        disposed = true;
        queued.Release();
    }
}
