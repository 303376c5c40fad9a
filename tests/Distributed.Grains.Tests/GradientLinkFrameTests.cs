using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using Distributed.Grains.Training;

namespace Distributed.Grains.Tests;

// A frame on the direct gradient link is accepted only whole and unaltered, in its step, in its direction and on its
// connection: what someone on the network path could otherwise do to the averaged gradients.
public class GradientLinkFrameTests
{
    /// <summary>Two ends of one loopback connection; writing raw bytes to one end's socket makes the other read them.</summary>
    static async Task<(GradientLink Coordinator, GradientLink Worker)> PairAsync(byte[] token, byte[]? challenge = null)
    {
        using var listener = new Socket(SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen(1);
        var client = new Socket(SocketType.Stream, ProtocolType.Tcp);
        await client.ConnectAsync(listener.LocalEndPoint!);
        var server = await listener.AcceptAsync();
        challenge ??= RandomNumberGenerator.GetBytes(GradientChannel.ChallengeBytes);
        return (new GradientLink(client, token, challenge, coordinator: true), new GradientLink(server, token, challenge, coordinator: false));
    }

    /// <summary>Sends one frame and captures its bytes at the other end, unparsed.</summary>
    static async Task<byte[]> RecordAsync(GradientLink sender, GradientLink receiver, long step, byte[] payload)
    {
        var frame = new byte[GradientLink.FrameBytes(payload.Length)];
        var sent = sender.SendAsync(step, payload, default);
        for (int at = 0; at < frame.Length;) at += await receiver.Socket.ReceiveAsync(frame.AsMemory(at), SocketFlags.None);
        await sent;
        return frame;
    }

    static readonly byte[] Token = RandomNumberGenerator.GetBytes(GradientChannel.TokenBytes);
    static readonly byte[] Challenge = RandomNumberGenerator.GetBytes(GradientChannel.ChallengeBytes);
    static readonly byte[] Payload = RandomNumberGenerator.GetBytes(600_000);

    [Fact]
    public async Task Frames_arrive_whole_both_ways_step_after_step()
    {
        var (coordinator, worker) = await PairAsync(Token);
        using var _ = coordinator;
        using var __ = worker;
        for (long step = 1; step <= 3; step++)
        {
            var sent = coordinator.SendAsync(step, Payload, default);
            var got = new byte[Payload.Length];
            worker.Receive(step, got, "the coordinator");
            await sent;
            Assert.Equal(Payload, got);
            var echo = Task.Run(() => worker.Send(step, got));
            var back = new byte[Payload.Length];
            await coordinator.ReceiveAsync(step, back, "worker 0", default);
            await echo;
            Assert.Equal(Payload, back);
        }
    }

    [Fact]
    public async Task An_altered_byte_fails_the_tag()
    {
        var (recorder, sink) = await PairAsync(Token, Challenge);
        var frame = await RecordAsync(recorder, sink, 5, Payload);
        frame[GradientLink.HeaderBytes + 300_000] ^= 1;
        var (coordinator, worker) = await PairAsync(Token, Challenge);
        // Not awaited first: the frame is larger than the socket buffers, so it goes while the other end reads.
        var sending = coordinator.Socket.SendAsync(frame);
        var error = Assert.Throws<IOException>(() => worker.Receive(5, new byte[Payload.Length], "the coordinator"));
        await sending;
        Assert.Contains("authentication tag", error.Message);
    }

    [Fact]
    public async Task A_recorded_frame_is_refused_reflected_on_another_connection_or_forged_without_the_token()
    {
        var (recorder, sink) = await PairAsync(Token, Challenge);
        var frame = await RecordAsync(recorder, sink, 7, Payload);

        // Unaltered on its own connection's keys it passes: the refusals below are about direction, connection, token.
        var (coordinator, worker) = await PairAsync(Token, Challenge);
        var sending = coordinator.Socket.SendAsync(frame);
        worker.Receive(7, new byte[Payload.Length], "the coordinator");
        await sending;

        // Reflected: the coordinator's own frame sent back to it as if the worker sent it.
        var reflecting = worker.Socket.SendAsync(frame);
        await Assert.ThrowsAsync<IOException>(() => coordinator.ReceiveAsync(7, new byte[Payload.Length], "worker 0", default));
        await reflecting;

        // Replayed on a connection that issued another challenge.
        var (otherCoordinator, otherWorker) = await PairAsync(Token);
        sending = otherCoordinator.Socket.SendAsync(frame);
        Assert.Throws<IOException>(() => otherWorker.Receive(7, new byte[Payload.Length], "the coordinator"));
        await sending;

        // Forged by someone who saw the challenge but does not hold the token.
        var (forger, forgerSink) = await PairAsync(RandomNumberGenerator.GetBytes(GradientChannel.TokenBytes), Challenge);
        var forged = await RecordAsync(forger, forgerSink, 7, Payload);
        var (victimCoordinator, victimWorker) = await PairAsync(Token, Challenge);
        sending = victimCoordinator.Socket.SendAsync(forged);
        Assert.Throws<IOException>(() => victimWorker.Receive(7, new byte[Payload.Length], "the coordinator"));
        await sending;
    }

    [Fact]
    public void A_greeting_proves_the_token_only_for_its_own_challenge_run_and_replica()
    {
        var hello = GradientChannel.Proof(Token, Challenge, 3, "t/0"u8);
        Assert.True(new GradientChannel.Greeting("t/0", 3, hello, Challenge).Proves(Token));
        Assert.False(new GradientChannel.Greeting("t/0", 3, hello, Challenge).Proves(RandomNumberGenerator.GetBytes(GradientChannel.TokenBytes)));
        Assert.False(new GradientChannel.Greeting("t/0", 4, hello, Challenge).Proves(Token));
        Assert.False(new GradientChannel.Greeting("t/1", 3, hello, Challenge).Proves(Token));
        Assert.False(new GradientChannel.Greeting("t/0", 3, hello, RandomNumberGenerator.GetBytes(GradientChannel.ChallengeBytes)).Proves(Token));
    }
}
