using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Distributed.Grains.Hosting;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Orleans.Runtime;

namespace Distributed.Grains.Training;

/// <summary>
/// A direct TCP link between a coordinator and a worker in another silo, for the gradient bytes only (Orleans still
/// carries every request and reply). Orleans copies a multi-MB buffer several times on its way between processes;
/// here the worker sends straight from its flat gradient and receives straight into it. Frames are a fixed header
/// (magic, step) and exactly one gradient's bytes, in step order both ways.
/// </summary>
public static class GradientChannel
{
    const int Magic = 0x47524144; // "GRAD"
    public const int HeaderBytes = 12;
    /// <summary>Bytes of a run's link token.</summary>
    public const int TokenBytes = 32;
    const int HelloBytes = 12 + TokenBytes;

    public static void WriteHeader(Span<byte> header, long step)
    {
        BinaryPrimitives.WriteInt32LittleEndian(header, Magic);
        BinaryPrimitives.WriteInt64LittleEndian(header[4..], step);
    }

    public static void CheckHeader(ReadOnlySpan<byte> header, long step, string from)
    {
        if (BinaryPrimitives.ReadInt32LittleEndian(header) != Magic) throw new IOException($"gradient channel from {from}: bad frame");
        long got = BinaryPrimitives.ReadInt64LittleEndian(header[4..]);
        if (got != step) throw new IOException($"gradient channel from {from}: frame of step {got}, expected step {step}");
    }

    /// <summary>Blocking send of a whole frame (the worker's side, on its replica thread).</summary>
    public static void Send(Socket socket, long step, ReadOnlySpan<byte> payload)
    {
        Span<byte> header = stackalloc byte[HeaderBytes];
        WriteHeader(header, step);
        SendAll(socket, header);
        SendAll(socket, payload);
    }

    /// <summary>Blocking receive of a whole frame into <paramref name="payload"/> (the worker's side).</summary>
    public static void Receive(Socket socket, long step, Span<byte> payload, string from)
    {
        Span<byte> header = stackalloc byte[HeaderBytes];
        ReceiveAll(socket, header);
        CheckHeader(header, step, from);
        ReceiveAll(socket, payload);
    }

    static void SendAll(Socket socket, ReadOnlySpan<byte> data)
    {
        while (!data.IsEmpty) data = data[socket.Send(data)..];
    }

    static void ReceiveAll(Socket socket, Span<byte> data)
    {
        while (!data.IsEmpty)
        {
            int n = socket.Receive(data);
            if (n == 0) throw new IOException("gradient channel closed by the other side");
            data = data[n..];
        }
    }

    public static async Task SendAsync(Socket socket, long step, ReadOnlyMemory<byte> payload, CancellationToken cancel)
    {
        var header = new byte[HeaderBytes];
        WriteHeader(header, step);
        await SendAllAsync(socket, header, cancel);
        await SendAllAsync(socket, payload, cancel);
    }

    public static async Task ReceiveAsync(Socket socket, long step, Memory<byte> payload, string from, CancellationToken cancel)
    {
        var header = new byte[HeaderBytes];
        await ReceiveAllAsync(socket, header, cancel);
        CheckHeader(header, step, from);
        await ReceiveAllAsync(socket, payload, cancel);
    }

    static async Task SendAllAsync(Socket socket, ReadOnlyMemory<byte> data, CancellationToken cancel)
    {
        while (!data.IsEmpty) data = data[await socket.SendAsync(data, SocketFlags.None, cancel)..];
    }

    static async Task ReceiveAllAsync(Socket socket, Memory<byte> data, CancellationToken cancel)
    {
        while (!data.IsEmpty)
        {
            int n = await socket.ReceiveAsync(data, SocketFlags.None, cancel);
            if (n == 0) throw new IOException("gradient channel closed by the other side");
            data = data[n..];
        }
    }

    /// <summary>The coordinator's end: connects to a worker's silo, names the replica it wants and proves it drives that run.</summary>
    public static async Task<Socket> ConnectAsync(string endpoint, string workerKey, long runId, byte[] token, CancellationToken cancel)
    {
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            await socket.ConnectAsync(IPEndPoint.Parse(endpoint), cancel);
            await SendAllAsync(socket, Hello(workerKey, runId, token), cancel);
            return socket;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>The greeting: the key's length, the run id, the run's token, then the replica's key.</summary>
    public static byte[] Hello(string workerKey, long runId, byte[] token)
    {
        if (token.Length != TokenBytes) throw new ArgumentException($"a link token is {TokenBytes} bytes", nameof(token));
        var key = Encoding.UTF8.GetBytes(workerKey);
        var hello = new byte[HelloBytes + key.Length];
        BinaryPrimitives.WriteInt32LittleEndian(hello, key.Length);
        BinaryPrimitives.WriteInt64LittleEndian(hello.AsSpan(4), runId);
        token.CopyTo(hello, 12);
        key.CopyTo(hello, HelloBytes);
        return hello;
    }

    internal static async Task<(string Key, long RunId, byte[] Token)> ReadHelloAsync(Socket socket, CancellationToken cancel)
    {
        var fixedPart = new byte[HelloBytes];
        await ReceiveAllAsync(socket, fixedPart, cancel);
        int length = BinaryPrimitives.ReadInt32LittleEndian(fixedPart);
        if (length is < 1 or > 4096) throw new IOException("gradient channel: bad greeting");
        var key = new byte[length];
        await ReceiveAllAsync(socket, key, cancel);
        return (Encoding.UTF8.GetString(key), BinaryPrimitives.ReadInt64LittleEndian(fixedPart.AsSpan(4)), fixedPart[12..HelloBytes]);
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
            var (key, runId, token) = await GradientChannel.ReadHelloAsync(socket, stopping).WaitAsync(TimeSpan.FromSeconds(10), stopping);
            if (replicas.Find(key) is { } replica && replica.Attach(socket, runId, token)) return;
            // Dropped: a link that does not prove its run never replaces the one attached.
            log.LogWarning("Gradient channel for {Worker} run {Run} from {Remote} refused: no such replica here, or not its run's token", key, runId, socket.RemoteEndPoint);
        }
        catch (Exception e)
        {
            log.LogWarning(e, "Gradient channel greeting failed");
        }
        socket.Dispose();
    }
}
