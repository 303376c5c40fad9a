namespace Distributed.Grains.Storage;

/// <summary>FNV-1a of a string's UTF-16 units: the same on every silo and every run (string.GetHashCode is not).</summary>
public static class KeyHash
{
    public static int Of(string text)
    {
        uint hash = 2166136261;
        foreach (char c in text)
        {
            hash ^= c;
            hash *= 16777619;
        }
        return (int)hash;
    }
}
