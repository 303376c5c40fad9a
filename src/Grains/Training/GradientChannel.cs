using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using Distributed.Grains.Hosting;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Orleans.Runtime;

namespace Distributed.Grains.Training;

/// <summary>
/// A direct TCP link between a coordinator and a worker in another silo, for the gradient bytes only (Orleans still
/// carries every request and reply). Orleans copies a multi-MB buffer several times on its way between processes;
/// here the worker sends straight from its flat gradient and receives straight into it.
/// <para>
/// Who may attach: the silo opens with a fresh challenge, and the coordinator answers with an HMAC of it under the
/// run's token (handed to the workers through Orleans), so the token never crosses this link and a recorded greeting
/// does not replay. Every frame carries GMAC tags under a key derived from the token, the challenge and the
/// direction: a frame that was altered, replayed from another step or connection, or reflected back is refused.
/// </para>
/// </summary>
public static class GradientChannel
{
    /// <summary>Bytes of a run's link token.</summary>
    public const int TokenBytes = 32;
    public const int ChallengeBytes = 16;
    const int ProofBytes = 32;
    const int HelloBytes = 12 + ProofBytes;

    /// <summary>The coordinator's end: connects to a worker's silo, names the replica it wants and proves it drives that run.</summary>
    public static async Task<GradientLink> ConnectAsync(string endpoint, string workerKey, long runId, byte[] token, CancellationToken cancel)
    {
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            await socket.ConnectAsync(IPEndPoint.Parse(endpoint), cancel);
            var challenge = new byte[ChallengeBytes];
            await GradientLink.ReceiveAllAsync(socket, challenge, cancel);
            await GradientLink.SendAllAsync(socket, Hello(workerKey, runId, token, challenge), cancel);
            return new GradientLink(socket, token, challenge, coordinator: true);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    const string RingPrefix = "ring:";

    /// <summary>What a ring worker's greeting names: the next replica's key, marked so that it attaches as that replica's previous worker, not its coordinator.</summary>
    public static string RingKey(string workerKey) => RingPrefix + workerKey;

    /// <summary>True when a greeting's key comes from the previous worker of a ring (<see cref="RingKey"/>).</summary>
    public static bool IsRing(string greetingKey) => greetingKey.StartsWith(RingPrefix, StringComparison.Ordinal);

    const string PartnerPrefix = "pair:";

    /// <summary>
    /// What a halving-doubling worker's greeting names: the partner replica's key, marked with the position of the
    /// worker that connects, so that it attaches as that partner's link.
    /// </summary>
    public static string PartnerKey(string workerKey, int fromPosition) => $"{PartnerPrefix}{fromPosition}:{workerKey}";

    /// <summary>The position a partner's greeting comes from (<see cref="PartnerKey"/>), or null for any other greeting.</summary>
    public static int? PartnerFrom(string greetingKey)
    {
        if (!greetingKey.StartsWith(PartnerPrefix, StringComparison.Ordinal)) return null;
        int colon = greetingKey.IndexOf(':', PartnerPrefix.Length);
        return colon > 0 && int.TryParse(greetingKey.AsSpan(PartnerPrefix.Length, colon - PartnerPrefix.Length), System.Globalization.NumberStyles.None,
            System.Globalization.CultureInfo.InvariantCulture, out int position) ? position : null;
    }

    /// <summary>The replica a greeting's key names, ring or partner mark or not.</summary>
    public static string ReplicaOf(string greetingKey) =>
        IsRing(greetingKey) ? greetingKey[RingPrefix.Length..]
        : PartnerFrom(greetingKey) is not null ? greetingKey[(greetingKey.IndexOf(':', PartnerPrefix.Length) + 1)..]
        : greetingKey;

    /// <summary>The greeting: the key's length, the run id, the proof, then the replica's key.</summary>
    public static byte[] Hello(string workerKey, long runId, byte[] token, byte[] challenge)
    {
        if (token.Length != TokenBytes) throw new ArgumentException($"a link token is {TokenBytes} bytes", nameof(token));
        var key = Encoding.UTF8.GetBytes(workerKey);
        var hello = new byte[HelloBytes + key.Length];
        BinaryPrimitives.WriteInt32LittleEndian(hello, key.Length);
        BinaryPrimitives.WriteInt64LittleEndian(hello.AsSpan(4), runId);
        Proof(token, challenge, runId, key).CopyTo(hello, 12);
        key.CopyTo(hello, HelloBytes);
        return hello;
    }

    /// <summary>What only a holder of the run's token can answer to this connection's challenge.</summary>
    public static byte[] Proof(byte[] token, ReadOnlySpan<byte> challenge, long runId, ReadOnlySpan<byte> workerKey)
    {
        using var hmac = IncrementalHash.CreateHMAC(HashAlgorithmName.SHA256, token);
        hmac.AppendData("distributed gradient link hello"u8);
        hmac.AppendData(challenge);
        Span<byte> run = stackalloc byte[8];
        BinaryPrimitives.WriteInt64LittleEndian(run, runId);
        hmac.AppendData(run);
        hmac.AppendData(workerKey);
        return hmac.GetHashAndReset();
    }

    internal sealed record Greeting(string Key, long RunId, byte[] Proof, byte[] Challenge)
    {
        /// <summary>True when <paramref name="token"/> answers this greeting (compared in constant time).</summary>
        public bool Proves(byte[] token) =>
            CryptographicOperations.FixedTimeEquals(Proof, GradientChannel.Proof(token, Challenge, RunId, Encoding.UTF8.GetBytes(Key)));
    }

    internal static async Task<Greeting> GreetAsync(Socket socket, CancellationToken cancel)
    {
        var challenge = RandomNumberGenerator.GetBytes(ChallengeBytes);
        await GradientLink.SendAllAsync(socket, challenge, cancel);
        var fixedPart = new byte[HelloBytes];
        await GradientLink.ReceiveAllAsync(socket, fixedPart, cancel);
        int length = BinaryPrimitives.ReadInt32LittleEndian(fixedPart);
        if (length is < 1 or > 4096) throw new IOException("gradient channel: bad greeting");
        var key = new byte[length];
        await GradientLink.ReceiveAllAsync(socket, key, cancel);
        return new Greeting(Encoding.UTF8.GetString(key), BinaryPrimitives.ReadInt64LittleEndian(fixedPart.AsSpan(4)), fixedPart[12..HelloBytes], challenge);
    }
}

/// <summary>
/// One attached gradient link: frames of (magic, step) and the payload in pieces, each followed by its GMAC tag
/// (AES-128-GCM over the piece as associated data), in step order both ways. Each direction has its own key and a
/// frame counter in every nonce, so a nonce never repeats on a connection and a piece cannot be replayed, reordered
/// or moved to another frame. Tags are computed and checked on the cores while the socket moves other pieces: a
/// piece goes out as soon as its tag is ready, and one is checked while the next arrives. Authenticated, not
/// encrypted: encrypting as well cost the two-process exchange 3.5 more points of step time on a 2-core machine
/// (docs/security.md).
/// </summary>
public sealed class GradientLink : IDisposable
{
    const int Magic = 0x47524144; // "GRAD"
    public const int HeaderBytes = 12;
    public const int TagBytes = 16;
    // Small enough that the first piece's tag and the last piece's check add little to a frame; each stays in cache.
    const int Piece = 256 * 1024;
    // One cipher per lane each way (AesGcm is not thread-safe): a lane tags or checks its pieces in order.
    readonly AesGcm[] sending;
    readonly AesGcm[] receiving;
    long sent, received;
    static long sentBytes, receivedBytes;

    /// <summary>Bytes this process's links sent: what `exchange-scaling` reads off each silo.</summary>
    public static long SentBytes => Interlocked.Read(ref sentBytes);

    /// <summary>Bytes this process's links received.</summary>
    public static long ReceivedBytes => Interlocked.Read(ref receivedBytes);

    internal GradientLink(Socket socket, byte[] token, byte[] challenge, bool coordinator)
    {
        Socket = socket;
        var toWorker = HKDF.DeriveKey(HashAlgorithmName.SHA256, token, 16, challenge, "coordinator to worker"u8.ToArray());
        var toCoordinator = HKDF.DeriveKey(HashAlgorithmName.SHA256, token, 16, challenge, "worker to coordinator"u8.ToArray());
        int lanes = Math.Clamp(Environment.ProcessorCount, 1, 4);
        sending = Enumerable.Range(0, lanes).Select(_ => new AesGcm(coordinator ? toWorker : toCoordinator, TagBytes)).ToArray();
        receiving = Enumerable.Range(0, lanes).Select(_ => new AesGcm(coordinator ? toCoordinator : toWorker, TagBytes)).ToArray();
    }

    public Socket Socket { get; }

    /// <summary>Bytes on the wire for one frame of <paramref name="payloadBytes"/>.</summary>
    public static long FrameBytes(long payloadBytes) => HeaderBytes + payloadBytes + Pieces(payloadBytes) * (long)TagBytes;

    /// <summary>How many pieces a frame of <paramref name="payloadBytes"/> travels in, each tagged and checked on its own.</summary>
    public static int Pieces(long payloadBytes) => (int)((payloadBytes + Piece - 1) / Piece);

    static byte[] Header(long step)
    {
        var header = new byte[HeaderBytes];
        BinaryPrimitives.WriteInt32LittleEndian(header, Magic);
        BinaryPrimitives.WriteInt64LittleEndian(header.AsSpan(4), step);
        return header;
    }

    static void CheckHeader(ReadOnlySpan<byte> header, long step, string from)
    {
        if (BinaryPrimitives.ReadInt32LittleEndian(header) != Magic) throw new IOException($"gradient channel from {from}: bad frame");
        long got = BinaryPrimitives.ReadInt64LittleEndian(header[4..]);
        if (got != step) throw new IOException($"gradient channel from {from}: frame of step {got}, expected step {step}");
    }

    static void Nonce(Span<byte> nonce, long frame, int piece)
    {
        BinaryPrimitives.WriteInt64LittleEndian(nonce, frame);
        BinaryPrimitives.WriteInt32LittleEndian(nonce[8..], piece);
    }

    static (int Start, int Length) PieceAt(int index, int total) => (index * Piece, Math.Min(Piece, total - index * Piece));

    /// <summary>
    /// Starts tagging every piece of a frame at <paramref name="data"/> (pinned until every task returned is done):
    /// lane L tags pieces L, L + lanes, ... in order, so piece 0's tag is ready after one piece's work.
    /// </summary>
    unsafe Task[] StartTags(long frame, nint data, int length, byte[] tags)
    {
        int pieces = Pieces(length), lanes = Math.Min(sending.Length, pieces);
        var ready = new Task[pieces];
        for (int lane = 0; lane < lanes; lane++)
        {
            var cipher = sending[lane];
            var previous = Task.CompletedTask;
            for (int index = lane; index < pieces; index += lanes)
            {
                int i = index;
                previous = ready[i] = previous.ContinueWith(_ =>
                {
                    var (start, count) = PieceAt(i, length);
                    Span<byte> nonce = stackalloc byte[12];
                    Nonce(nonce, frame, i);
                    cipher.Encrypt(nonce, ReadOnlySpan<byte>.Empty, Span<byte>.Empty, tags.AsSpan(i * TagBytes, TagBytes),
                        new ReadOnlySpan<byte>((byte*)data + start, count));
                }, CancellationToken.None, TaskContinuationOptions.None, TaskScheduler.Default);
            }
        }
        return ready;
    }

    /// <summary>Queues the check of one received piece on its lane, after that lane's earlier pieces; a failure stays with the lane.</summary>
    unsafe void QueueCheck(Task[] lanes, long frame, int index, nint data, int length, byte[] tags, string from)
    {
        int lane = index % lanes.Length;
        var cipher = receiving[lane];
        lanes[lane] = lanes[lane].ContinueWith(previous =>
        {
            previous.GetAwaiter().GetResult();
            var (start, count) = PieceAt(index, length);
            Span<byte> nonce = stackalloc byte[12];
            Nonce(nonce, frame, index);
            try
            {
                cipher.Decrypt(nonce, ReadOnlySpan<byte>.Empty, tags.AsSpan(index * TagBytes, TagBytes), Span<byte>.Empty,
                    new ReadOnlySpan<byte>((byte*)data + start, count));
            }
            catch (AuthenticationTagMismatchException)
            {
                throw new IOException($"gradient channel from {from}: a frame failed its authentication tag");
            }
        }, CancellationToken.None, TaskContinuationOptions.None, TaskScheduler.Default);
    }

    Task[] CheckLanes(int length)
    {
        var lanes = new Task[Math.Min(receiving.Length, Math.Max(1, Pieces(length)))];
        Array.Fill(lanes, Task.CompletedTask);
        return lanes;
    }

    /// <summary>Waits for work that still reads a frame's memory, whatever became of it: the memory is unpinned next.</summary>
    static void Settle(Task[] work)
    {
        try { Task.WaitAll(work); } catch (AggregateException) { }
    }

    static async Task SettleAsync(Task[] work)
    {
        try { await Task.WhenAll(work); } catch (Exception) { }
    }

    /// <summary>Blocking send of a whole frame (the worker's side, on its replica thread).</summary>
    public unsafe void Send(long step, ReadOnlySpan<byte> payload)
    {
        long frame = sent++;
        var tags = new byte[Pieces(payload.Length) * TagBytes];
        fixed (byte* data = payload)
        {
            var ready = StartTags(frame, (nint)data, payload.Length, tags);
            try
            {
                SendAll(Header(step));
                for (int index = 0; index < ready.Length; index++)
                {
                    ready[index].GetAwaiter().GetResult();
                    var (start, length) = PieceAt(index, payload.Length);
                    SendAll(payload.Slice(start, length));
                    SendAll(tags.AsSpan(index * TagBytes, TagBytes));
                }
            }
            finally
            {
                Settle(ready);
            }
        }
    }

    /// <summary>Blocking receive of a whole frame into <paramref name="payload"/> (the worker's side).</summary>
    public unsafe void Receive(long step, Span<byte> payload, string from)
    {
        var header = new byte[HeaderBytes];
        ReceiveAll(header);
        CheckHeader(header, step, from);
        long frame = received++;
        var tags = new byte[Pieces(payload.Length) * TagBytes];
        var checks = CheckLanes(payload.Length);
        fixed (byte* data = payload)
        {
            try
            {
                for (int index = 0; index < Pieces(payload.Length); index++)
                {
                    var (start, length) = PieceAt(index, payload.Length);
                    ReceiveAll(payload.Slice(start, length));
                    ReceiveAll(tags.AsSpan(index * TagBytes, TagBytes));
                    QueueCheck(checks, frame, index, (nint)data, payload.Length, tags, from);
                }
            }
            finally
            {
                Settle(checks);
            }
        }
        foreach (var lane in checks) lane.GetAwaiter().GetResult();
    }

    void SendAll(ReadOnlySpan<byte> data)
    {
        Interlocked.Add(ref sentBytes, data.Length);
        while (!data.IsEmpty) data = data[Socket.Send(data)..];
    }

    void ReceiveAll(Span<byte> data)
    {
        Interlocked.Add(ref receivedBytes, data.Length);
        while (!data.IsEmpty)
        {
            int n = Socket.Receive(data);
            if (n == 0) throw new IOException("gradient channel closed by the other side");
            data = data[n..];
        }
    }

    public async Task SendAsync(long step, ReadOnlyMemory<byte> payload, CancellationToken cancel)
    {
        long frame = sent++;
        var tags = new byte[Pieces(payload.Length) * TagBytes];
        using var pin = payload.Pin();
        var ready = Start(pin);
        try
        {
            await SendAllAsync(Socket, Header(step), cancel);
            for (int index = 0; index < ready.Length; index++)
            {
                await ready[index];
                var (start, length) = PieceAt(index, payload.Length);
                await SendAllAsync(Socket, payload.Slice(start, length), cancel);
                await SendAllAsync(Socket, tags.AsMemory(index * TagBytes, TagBytes), cancel);
            }
        }
        finally
        {
            await SettleAsync(ready);
        }

        unsafe Task[] Start(System.Buffers.MemoryHandle pinned) => StartTags(frame, (nint)pinned.Pointer, payload.Length, tags);
    }

    public async Task ReceiveAsync(long step, Memory<byte> payload, string from, CancellationToken cancel)
    {
        var header = new byte[HeaderBytes];
        await ReceiveAllAsync(Socket, header, cancel);
        CheckHeader(header, step, from);
        long frame = received++;
        var tags = new byte[Pieces(payload.Length) * TagBytes];
        var checks = CheckLanes(payload.Length);
        using var pin = payload.Pin();
        try
        {
            for (int index = 0; index < Pieces(payload.Length); index++)
            {
                var (start, length) = PieceAt(index, payload.Length);
                await ReceiveAllAsync(Socket, payload.Slice(start, length), cancel);
                await ReceiveAllAsync(Socket, tags.AsMemory(index * TagBytes, TagBytes), cancel);
                Queue(index, pin);
            }
        }
        finally
        {
            await SettleAsync(checks);
        }
        await Task.WhenAll(checks);

        unsafe void Queue(int index, System.Buffers.MemoryHandle pinned) => QueueCheck(checks, frame, index, (nint)pinned.Pointer, payload.Length, tags, from);
    }

    internal static async Task SendAllAsync(Socket socket, ReadOnlyMemory<byte> data, CancellationToken cancel)
    {
        Interlocked.Add(ref sentBytes, data.Length);
        while (!data.IsEmpty) data = data[await socket.SendAsync(data, SocketFlags.None, cancel)..];
    }

    internal static async Task ReceiveAllAsync(Socket socket, Memory<byte> data, CancellationToken cancel)
    {
        Interlocked.Add(ref receivedBytes, data.Length);
        while (!data.IsEmpty)
        {
            int n = await socket.ReceiveAsync(data, SocketFlags.None, cancel);
            if (n == 0) throw new IOException("gradient channel closed by the other side");
            data = data[n..];
        }
    }

    /// <summary>A blocking send or receive that waits longer than <paramref name="timeout"/> fails (the worker's side: the exchange's timeout).</summary>
    public void TimeOutAfter(TimeSpan timeout) => Socket.ReceiveTimeout = Socket.SendTimeout = (int)Math.Min(int.MaxValue, timeout.TotalMilliseconds);

    /// <summary>Closes the socket from any thread, so a send or receive blocked on it fails now; the ciphers stay until <see cref="Dispose"/>.</summary>
    public void Abort() => Socket.Dispose();

    public void Dispose()
    {
        Socket.Dispose();
        foreach (var cipher in sending.Concat(receiving)) cipher.Dispose();
    }
}

/// <summary>Accepts coordinators' gradient links on this silo and hands each to the replica it names.</summary>
public sealed class GradientChannelListener(TrainingSiloOptions options, ReplicaHost replicas, ILocalSiloDetails silo,
    ILogger<GradientChannelListener> log) : BackgroundService
{
    readonly TaskCompletionSource<string?> endpoint = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>"address:port" coordinators connect to, or null when the silo runs without direct links.</summary>
    public Task<string?> Endpoint => endpoint.Task;

    protected override async Task ExecuteAsync(CancellationToken stopping)
    {
        if (options.GradientPort < 0)
        {
            endpoint.TrySetResult(null);
            return;
        }
        using var listener = new Socket(SocketType.Stream, ProtocolType.Tcp);
        try
        {
            // The silo's advertised address only, never every interface.
            listener.Bind(new IPEndPoint(silo.SiloAddress.Endpoint.Address, options.GradientPort));
            listener.Listen(64);
        }
        catch (SocketException e)
        {
            log.LogError(e, "Gradient channel port {Port} is not available; gradients to this silo go through Orleans", options.GradientPort);
            endpoint.TrySetResult(null);
            return;
        }
        var port = ((IPEndPoint)listener.LocalEndPoint!).Port;
        endpoint.TrySetResult(new IPEndPoint(silo.SiloAddress.Endpoint.Address, port).ToString());
        while (!stopping.IsCancellationRequested)
        {
            Socket socket;
            try
            {
                socket = await listener.AcceptAsync(stopping);
            }
            catch (OperationCanceledException)
            {
                break;
            }
            _ = AttachAsync(socket, stopping);
        }
    }

    async Task AttachAsync(Socket socket, CancellationToken stopping)
    {
        try
        {
            socket.NoDelay = true;
            var greeting = await GradientChannel.GreetAsync(socket, stopping).WaitAsync(TimeSpan.FromSeconds(10), stopping);
            if (replicas.Find(GradientChannel.ReplicaOf(greeting.Key)) is { } replica && replica.Attach(socket, greeting)) return;
            // Dropped: a link that does not prove its run never replaces the one attached.
            log.LogWarning("Gradient channel for {Worker} run {Run} from {Remote} refused: no such replica here, or not its run's token",
                greeting.Key, greeting.RunId, socket.RemoteEndPoint);
        }
        catch (Exception e)
        {
            log.LogWarning(e, "Gradient channel greeting failed");
        }
        socket.Dispose();
    }
}
