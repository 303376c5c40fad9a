using Distributed.Grains.Abstractions;
using System.Buffers;
using System.Buffers.Binary;
using System.IO.Pipelines;
using System.Reflection;
using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orleans.Configuration;
using Orleans.Connections.Security;
using Orleans.Runtime.Messaging;
using Orleans.Serialization;
using Orleans.Serialization.Buffers;

namespace Distributed.Grains.Access;

/// <summary>
/// Sits on the gateway listener, after TLS, in front of Orleans. Orleans takes a client's word for who sends each
/// message, so a client could pass its calls off as a grain's and reach internal methods; here every request must
/// name as its sender the client id the connection opened with, or the connection is closed. The connection's
/// caller (its certificate's subject and role) is recorded cluster-wide before Orleans sees the connection, so the
/// <see cref="ClientSurfaceFilter"/> of whichever silo runs a called grain knows who called.
/// <para>
/// It reads Orleans' frames (a length-prefixed preamble, then messages of header and body lengths, header, body),
/// which are not a public contract: <c>AccessTests</c> pins them for the Orleans version in use. A frame is held
/// whole before it goes on, so its declared lengths are bounded here by the same limits Orleans applies.
/// </para>
/// </summary>
public sealed class ClientGate(IServiceProvider services, IOptions<SiloMessagingOptions> messaging, ILogger<ClientGate> log) : IConnectionMiddleware
{
    /// <summary>How often a connected client's record is written again (a silo holding it may have left).</summary>
    public static readonly TimeSpan Refresh = TimeSpan.FromSeconds(10);
    const int MaxPreambleBytes = 1024;
    const int Request = 1, OneWay = 3;
    static readonly Type PreambleType = typeof(IConnectionMiddleware).Assembly.GetType("Orleans.Runtime.Messaging.ConnectionPreamble", throwOnError: true)!;
    static readonly Type PreambleSerializer = typeof(Serializer<>).MakeGenericType(PreambleType);
    static readonly MethodInfo DeserializePreamble = PreambleSerializer.GetMethod("Deserialize", [typeof(ReadOnlySequence<byte>)])!;
    static readonly PropertyInfo NodeIdentity = PreambleType.GetProperty("NodeIdentity", BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Instance)!;

    public async Task OnConnectionAsync(ConnectionContext connection, ConnectionDelegate next)
    {
        var certificate = connection.Features.Get<ITlsConnectionFeature>()?.RemoteCertificate;
        var caller = certificate is null ? Caller.Anonymous : ClusterCertificates.CallerOf(certificate);
        if (caller is null)
        {
            // TLS admitted it, so this is a silo's certificate on the gateway: not a client.
            log.LogWarning("Gateway connection from {Remote} refused: certificate {Subject} names no client role", connection.RemoteEndPoint, certificate!.Subject);
            connection.Abort(new ConnectionAbortedException("not a client certificate"));
            return;
        }
        var original = connection.Transport;
        var checkedInput = new Pipe();
        connection.Transport = new DuplexPipe(checkedInput.Reader, original.Output);
        using var stop = new CancellationTokenSource();
        var pump = PumpAsync(original.Input, checkedInput.Writer, connection, caller, stop.Token);
        try
        {
            await next(connection);
        }
        finally
        {
            stop.Cancel();
            original.Input.CancelPendingRead();
            await pump;
            connection.Transport = original;
        }
    }

    async Task PumpAsync(PipeReader input, PipeWriter output, ConnectionContext connection, Caller caller, CancellationToken stop)
    {
        GrainId? client = null;
        // A response's sender is one of this client's own objects: its key starts with the client's.
        string clientKey = "";
        int maxHeader = messaging.Value.MaxMessageHeaderSize, maxBody = messaging.Value.MaxMessageBodySize;
        Task refreshing = Task.CompletedTask;
        Exception? refusal = null;
        try
        {
            while (true)
            {
                var read = await input.ReadAsync();
                if (read.IsCanceled) break;
                var buffer = read.Buffer;
                while (true)
                {
                    long frame;
                    if (client is null)
                    {
                        if (buffer.Length < 4) break;
                        int length = Int32At(buffer, 0);
                        if (length is <= 0 or > MaxPreambleBytes) throw new InvalidDataException("bad preamble");
                        if (buffer.Length < 4 + length) break;
                        var id = PreambleIdentity(buffer.Slice(4, length));
                        // A silo's own hosted client is trusted as the silo; no connection may claim to be it.
                        if (!id.IsClient() || ClientSurfaceFilter.IsHostedClient(id)) throw new InvalidDataException($"'{id}' is not a client id");
                        client = id;
                        clientKey = id.Key.ToString()!;
                        // Recorded before Orleans reads the preamble, so no call of this client can arrive first.
                        await RecordAsync(id, caller);
                        refreshing = RefreshAsync(id, caller, stop);
                        log.LogInformation("Client {Client} connected from {Remote} as {Subject} ({Role})", id, connection.RemoteEndPoint, caller.Subject, caller.Role);
                        frame = 4 + length;
                    }
                    else
                    {
                        if (buffer.Length < 8) break;
                        int headerLength = Int32At(buffer, 0), bodyLength = Int32At(buffer, 4);
                        if (headerLength <= 0 || headerLength > maxHeader || bodyLength < 0 || bodyLength > maxBody)
                            throw new InvalidDataException($"a frame declares a {headerLength}-byte header and a {bodyLength}-byte body (at most {maxHeader} and {maxBody})");
                        frame = 8L + headerLength + bodyLength;
                        if (buffer.Length < frame) break;
                        var (direction, sender) = Header(buffer.Slice(8, headerLength));
                        // Requests must come from the connection's own client; a response answers one of its own objects.
                        bool own = direction is Request or OneWay
                            ? sender == client.Value
                            : sender.IsClient() && sender.Key.ToString()!.StartsWith(clientKey, StringComparison.Ordinal);
                        if (!own) throw new InvalidDataException($"a message claims to come from {sender}");
                    }
                    foreach (var segment in buffer.Slice(0, frame)) output.Write(segment.Span);
                    buffer = buffer.Slice(frame);
                }
                input.AdvanceTo(buffer.Start, buffer.End);
                var flushed = await output.FlushAsync();
                if (read.IsCompleted || flushed.IsCompleted) break;
            }
        }
        catch (Exception e) when (e is InvalidDataException or FormatException or ArgumentException or InvalidOperationException or TargetInvocationException)
        {
            refusal = e;
            log.LogWarning("Gateway connection {Client} from {Remote} ({Subject}) closed: {Reason}", client, connection.RemoteEndPoint, caller.Subject, e.Message);
            connection.Abort(new ConnectionAbortedException(e.Message));
        }
        catch (Exception e) when (e is ConnectionResetException or ConnectionAbortedException or OperationCanceledException or IOException)
        {
        }
        finally
        {
            await output.CompleteAsync(refusal);
            await refreshing;
        }
    }

    async Task RefreshAsync(GrainId client, Caller caller, CancellationToken stop)
    {
        try
        {
            while (true)
            {
                await Task.Delay(Refresh, stop);
                try
                {
                    await RecordAsync(client, caller);
                }
                catch (Exception e) when (e is not OperationCanceledException)
                {
                    log.LogWarning(e, "Could not refresh the record of client {Client}", client);
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    Task RecordAsync(GrainId client, Caller caller) => services.GetRequiredService<IGrainFactory>().GetGrain<ICallerGrain>(client.ToString()).SetAsync(caller);

    static int Int32At(ReadOnlySequence<byte> buffer, long offset)
    {
        Span<byte> bytes = stackalloc byte[4];
        buffer.Slice(offset, 4).CopyTo(bytes);
        return BinaryPrimitives.ReadInt32LittleEndian(bytes);
    }

    /// <summary>A message header starts with the packed flags (direction in bits 16..19), the correlation id and the sending grain.</summary>
    static (int Direction, GrainId Sender) Header(ReadOnlySequence<byte> header)
    {
        var reader = Reader.Create(header.ToArray(), null!);
        uint packed = reader.ReadUInt32();
        reader.ReadInt64();
        var type = IdSpanCodec.ReadRaw(ref reader);
        var key = IdSpanCodec.ReadRaw(ref reader);
        return ((int)((packed & 0xF0000) >> 16), new GrainId(new GrainType(type), key));
    }

    GrainId PreambleIdentity(ReadOnlySequence<byte> payload)
    {
        var preamble = DeserializePreamble.Invoke(services.GetRequiredService(PreambleSerializer), [payload])!;
        return (GrainId)NodeIdentity.GetValue(preamble)!;
    }

    sealed class DuplexPipe(PipeReader input, PipeWriter output) : IDuplexPipe
    {
        public PipeReader Input => input;
        public PipeWriter Output => output;
    }
}
