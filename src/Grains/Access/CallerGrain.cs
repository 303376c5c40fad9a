using Distributed.Grains.Abstractions;

namespace Distributed.Grains.Access;

/// <summary>
/// The cluster-wide record of one connected client (keyed by its client id), written by the gateway it connected
/// to and read by the silo that runs the grain it calls, which may be another one. Kept in memory: the gateway
/// writes it again while the connection lasts, so a silo lost with it is covered within a refresh.
/// </summary>
[Alias("ICallerGrain")]
public interface ICallerGrain : IGrainWithStringKey
{
    [Alias("Set")] Task SetAsync(Caller caller);
    [Alias("Get")] Task<Caller?> GetAsync();
}

public sealed class CallerGrain : Grain, ICallerGrain
{
    Caller? caller;

    public Task SetAsync(Caller value)
    {
        caller = value;
        // Lives as long as its connection refreshes it, and a little longer.
        DelayDeactivation(ClientGate.Refresh * 3);
        return Task.CompletedTask;
    }

    public Task<Caller?> GetAsync() => Task.FromResult(caller);
}
