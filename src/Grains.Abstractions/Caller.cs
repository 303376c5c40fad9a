namespace Distributed.Grains.Abstractions;

/// <summary>Who a connected client is: its certificate's subject and the role the certificate grants.</summary>
[GenerateSerializer, Immutable, Alias("Caller")]
public sealed record Caller([property: Id(0)] string Subject, [property: Id(1)] ClientRole Role)
{
    /// <summary>A client of a cluster without TLS: nobody is authenticated, and such a cluster listens on loopback only.</summary>
    public static readonly Caller Anonymous = new("anonymous (no TLS)", ClientRole.Operator);

    /// <summary>May change things (submit, cancel, delete, upload): what an operator's certificate grants.</summary>
    public bool MayAct => Role >= ClientRole.Operator;

    /// <summary>The request-context key under which a client's grain call carries its subject (set by the silo, never by the client).</summary>
    public const string SubjectKey = "distributed.caller";
}
