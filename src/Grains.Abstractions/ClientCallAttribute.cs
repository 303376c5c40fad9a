namespace Distributed.Grains.Abstractions;

/// <summary>What a client certificate lets its holder do (its subject's OU names it).</summary>
public enum ClientRole
{
    /// <summary>Queries: status, results, metrics, predictions, plots and exports.</summary>
    Reader = 1,
    /// <summary>Everything a reader may, and submit, cancel, delete and dataset uploads.</summary>
    Operator = 2,
}

/// <summary>
/// Marks a grain method as open to clients holding at least <see cref="Role"/>. A method without it is internal:
/// a call from a client is refused by the silo (Distributed.Grains.Access.ClientSurfaceFilter), whatever it holds.
/// </summary>
[AttributeUsage(AttributeTargets.Method)]
public sealed class ClientCallAttribute(ClientRole role) : Attribute
{
    public ClientRole Role { get; } = role;
}
