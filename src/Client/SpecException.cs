namespace Distributed.Client;

/// <summary>A spec with problems: each is printed on its own line, and the client exits with code 2.</summary>
public sealed class SpecException(IReadOnlyList<string> problems) : Exception(string.Join(Environment.NewLine, problems))
{
    public IReadOnlyList<string> Problems { get; } = problems;
}
