namespace Distributed.Models.Data;

/// <summary>
/// A fixed mapping between tokens and ids. Ids 0-3 are the special tokens; the rest follow in the
/// order they were given or, from <see cref="Build"/>, by descending frequency.
/// </summary>
public sealed class Vocabulary
{
    /// <summary>Padding id, ignored by the loss.</summary>
    public const int Pad = 0;
    /// <summary>Begin-of-sequence id, the decoder's first input.</summary>
    public const int Bos = 1;
    /// <summary>End-of-sequence id, where decoding stops.</summary>
    public const int Eos = 2;
    /// <summary>Id of every token the vocabulary does not know.</summary>
    public const int Unk = 3;

    /// <summary>Text of <see cref="Pad"/>.</summary>
    public const string PadToken = "<pad>";
    /// <summary>Text of <see cref="Bos"/>.</summary>
    public const string BosToken = "<bos>";
    /// <summary>Text of <see cref="Eos"/>.</summary>
    public const string EosToken = "<eos>";
    /// <summary>Text of <see cref="Unk"/>.</summary>
    public const string UnkToken = "<unk>";

    private const int FormatVersion = 1;
    private static readonly string[] Specials = [PadToken, BosToken, EosToken, UnkToken];

    private readonly string[] _tokens;
    private readonly Dictionary<string, int> _ids;

    private Vocabulary(string[] tokens, Dictionary<string, int> ids)
    {
        _tokens = tokens;
        _ids = ids;
    }

    /// <summary>Number of ids, specials included.</summary>
    public int Count => _tokens.Length;

    /// <summary>Every token by id, the four specials first.</summary>
    public IReadOnlyList<string> Tokens => _tokens;

    /// <summary>
    /// Counts tokens over <paramref name="sequences"/> and keeps those seen at least <paramref name="minFrequency"/>
    /// times, most frequent first, ties in ordinal order. <paramref name="maxSize"/> caps the number of kept
    /// tokens besides the four specials. Tokens spelled like a special are not counted (they already have an id).
    /// </summary>
    public static Vocabulary Build(IEnumerable<IReadOnlyList<string>> sequences, int minFrequency = 1, int? maxSize = null)
    {
        ArgumentNullException.ThrowIfNull(sequences);
        ArgumentOutOfRangeException.ThrowIfLessThan(minFrequency, 1);
        if (maxSize is < 0) throw new ArgumentOutOfRangeException(nameof(maxSize), maxSize, "must not be negative");

        var counts = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var sequence in sequences)
        {
            foreach (var token in sequence)
            {
                if (Array.IndexOf(Specials, token) >= 0) continue;
                counts[token] = counts.GetValueOrDefault(token) + 1;
            }
        }

        var kept = counts
            .Where(c => c.Value >= minFrequency)
            .OrderByDescending(c => c.Value)
            .ThenBy(c => c.Key, StringComparer.Ordinal)
            .Select(c => c.Key);
        if (maxSize is int cap) kept = kept.Take(cap);
        return FromTokens(kept);
    }

    /// <summary>A vocabulary of the four specials followed by <paramref name="tokens"/> in the given order.</summary>
    /// <exception cref="ArgumentException">A token appears twice or repeats a special.</exception>
    public static Vocabulary FromTokens(IEnumerable<string> tokens)
    {
        ArgumentNullException.ThrowIfNull(tokens);
        var all = new List<string>(Specials);
        var ids = new Dictionary<string, int>(StringComparer.Ordinal);
        for (var i = 0; i < Specials.Length; i++) ids.Add(Specials[i], i);
        foreach (var token in tokens)
        {
            ArgumentNullException.ThrowIfNull(token, nameof(tokens));
            if (!ids.TryAdd(token, all.Count))
                throw new ArgumentException($"duplicate token \"{token}\" in vocabulary", nameof(tokens));
            all.Add(token);
        }
        return new Vocabulary([.. all], ids);
    }

    /// <summary>The id of <paramref name="token"/>, or <see cref="Unk"/> when it is not in the vocabulary.</summary>
    public int Id(string token) => _ids.TryGetValue(token, out var id) ? id : Unk;

    /// <summary>The token with id <paramref name="id"/>.</summary>
    public string Token(int id)
    {
        if ((uint)id >= (uint)_tokens.Length)
            throw new ArgumentOutOfRangeException(nameof(id), id, $"not an id of this vocabulary (0..{_tokens.Length - 1})");
        return _tokens[id];
    }

    /// <summary>The ids of <paramref name="tokens"/>; adds no <see cref="Bos"/> or <see cref="Eos"/>.</summary>
    public int[] Encode(IReadOnlyList<string> tokens)
    {
        ArgumentNullException.ThrowIfNull(tokens);
        var ids = new int[tokens.Count];
        for (var i = 0; i < ids.Length; i++) ids[i] = Id(tokens[i]);
        return ids;
    }

    /// <summary>Tokens of a decoder output: stops at the first <see cref="Eos"/>, skips <see cref="Pad"/> and <see cref="Bos"/>.</summary>
    public string[] Decode(IEnumerable<int> ids)
    {
        ArgumentNullException.ThrowIfNull(ids);
        var tokens = new List<string>();
        foreach (var id in ids)
        {
            if (id == Eos) break;
            var token = Token(id);
            if (id is Pad or Bos) continue;
            tokens.Add(token);
        }
        return [.. tokens];
    }

    /// <summary>Writes the vocabulary so <see cref="ReadFrom"/> restores it exactly.</summary>
    public void WriteTo(BinaryWriter writer)
    {
        ArgumentNullException.ThrowIfNull(writer);
        writer.Write(FormatVersion);
        writer.Write(_tokens.Length);
        foreach (var token in _tokens) writer.Write(token);
    }

    /// <summary>Reads a vocabulary written by <see cref="WriteTo"/>.</summary>
    /// <exception cref="InvalidDataException">The data is not a vocabulary of this format.</exception>
    public static Vocabulary ReadFrom(BinaryReader reader)
    {
        ArgumentNullException.ThrowIfNull(reader);
        var version = reader.ReadInt32();
        if (version != FormatVersion)
            throw new InvalidDataException($"unsupported vocabulary format version {version} (expected {FormatVersion})");
        var count = reader.ReadInt32();
        if (count < Specials.Length)
            throw new InvalidDataException($"vocabulary holds {count} tokens, fewer than the {Specials.Length} specials");
        for (var i = 0; i < Specials.Length; i++)
        {
            var special = reader.ReadString();
            if (special != Specials[i])
                throw new InvalidDataException($"vocabulary id {i} is \"{special}\", expected \"{Specials[i]}\"");
        }
        var rest = new string[count - Specials.Length];
        for (var i = 0; i < rest.Length; i++) rest[i] = reader.ReadString();
        try
        {
            return FromTokens(rest);
        }
        catch (ArgumentException e)
        {
            throw new InvalidDataException(e.Message, e);
        }
    }
}
