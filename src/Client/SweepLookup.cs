using Distributed.Grains.Abstractions.Sweeps;

namespace Distributed.Client;

/// <summary>A sweep by id on the connection, or the usage error a user sees for an unknown one (exit code 2).</summary>
static class SweepLookup
{
    public static async Task<SweepStatus> StatusAsync(Connection connection, string sweepId) =>
        await connection.Grains.GetGrain<ISweepGrain>(sweepId).GetStatusAsync() ?? throw Unknown(connection, sweepId);

    public static UsageException Unknown(Connection connection, string sweepId) =>
        new($"no sweep '{sweepId}' ({connection.Description}); `distributed list` shows them");
}
