namespace Distributed.Models.Data;

/// <summary>One parallel example: the text to read and the text to produce.</summary>
public sealed record TextPair(string Source, string Target);
