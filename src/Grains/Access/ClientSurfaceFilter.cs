using System.Collections.Concurrent;
using System.Reflection;
using Distributed.Grains.Abstractions;
using Microsoft.Extensions.Logging;

namespace Distributed.Grains.Access;

/// <summary>
/// Every silo's check on calls from clients: a client reaches only methods marked <see cref="ClientCallAttribute"/>,
/// and only those its role allows; anything else (workers, coordinators, trial reports, dataset parts) is refused and
/// logged. Grains and silos calling each other pass untouched. The caller's subject rides along in the request
/// context, set here so a client cannot name itself, and the sweep it submits records it.
/// </summary>
public sealed class ClientSurfaceFilter(IGrainFactory grains, ILogger<ClientSurfaceFilter> log) : IIncomingGrainCallFilter
{
    // Orleans' own calls a client makes on connecting: the cluster's type manifest.
    static readonly HashSet<string> OrleansClientCalls = ["IClusterManifestSystemTarget"];
    static readonly TimeSpan Remember = TimeSpan.FromSeconds(10);
    readonly ConcurrentDictionary<GrainId, (Caller Caller, DateTime Until)> known = new();

    /// <summary>A silo's own in-process client (the embedded client's, a silo's startup tasks): the silo itself.</summary>
    public static bool IsHostedClient(GrainId id) => id.IsClient() && id.Key.ToString()!.StartsWith("hosted-", StringComparison.Ordinal);

    public async Task Invoke(IIncomingGrainCallContext context)
    {
        if (context.SourceId is { } source && source.IsClient() && !IsHostedClient(source))
        {
            if (context.InterfaceMethod?.GetCustomAttribute<ClientCallAttribute>() is { } rule)
            {
                var caller = await CallerAsync(source);
                if (caller is null) Refuse(context, source, null, "the gateway has no record of this client; connect again");
                else if (caller.Role < rule.Role)
                    Refuse(context, source, caller, $"{caller.Subject} holds the {Name(caller.Role)} role; {Called(context)} needs {Name(rule.Role)}");
                else RequestContext.Set(Caller.SubjectKey, caller.Subject);
            }
            else if (!OrleansClientCalls.Contains(context.InterfaceMethod?.DeclaringType?.Name ?? ""))
            {
                Refuse(context, source, await CallerAsync(source), $"{Called(context)} is internal to the cluster and not open to clients");
            }
        }
        await context.Invoke();
    }

    void Refuse(IIncomingGrainCallContext context, GrainId source, Caller? caller, string reason)
    {
        log.LogWarning("Refused {Call} on {Target} from client {Client} ({Subject}): {Reason}",
            Called(context), context.TargetId, source, caller?.Subject ?? "unknown", reason);
        throw new UnauthorizedAccessException($"refused: {reason}");
    }

    async Task<Caller?> CallerAsync(GrainId client)
    {
        if (known.TryGetValue(client, out var entry) && entry.Until > DateTime.UtcNow) return entry.Caller;
        var record = grains.GetGrain<ICallerGrain>(client.ToString());
        var caller = await record.GetAsync();
        // A record lost with its silo is written again by the client's gateway within a refresh: wait for it, not refuse.
        for (var until = DateTime.UtcNow + ClientGate.Refresh + TimeSpan.FromSeconds(5); caller is null && DateTime.UtcNow < until;)
        {
            await Task.Delay(500);
            caller = await record.GetAsync();
        }
        if (caller is null) return null;
        // Every client command connects as a new client: forget the ones whose entries ran out, or this only grows.
        if (known.Count >= 256) foreach (var (id, old) in known) if (old.Until <= DateTime.UtcNow) known.TryRemove(id, out _);
        known[client] = (caller, DateTime.UtcNow + Remember);
        return caller;
    }

    static string Called(IIncomingGrainCallContext context) => $"{context.InterfaceMethod?.DeclaringType?.Name ?? context.InterfaceName}.{context.MethodName}";

    static string Name(ClientRole role) => role.ToString().ToLowerInvariant();
}
