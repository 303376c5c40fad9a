using System.Globalization;
using Distributed.Options;

namespace Distributed.Models.Data;

/// <summary>Generates the built-in tasks. All of them are meant for <see cref="TokenizationKind.Character"/> tokenisation.</summary>
public static class BuiltInTasks
{
    private static readonly DateOnly FirstDate = new(1900, 1, 1);
    private static readonly DateOnly LastDate = new(2099, 12, 31);

    // Each format renders a date; the month-first numeric one is only usable when the day cannot be read as a month.
    private static readonly DateFormat[] DateFormats =
    [
        new(d => Render(d, "d MMM yyyy")),                       // 25 Nov 2026
        new(d => Render(d, "MMMM d, yyyy")),                     // November 25, 2026
        new(d => Render(d, "dd/MM/yyyy")),                       // 25/11/2026
        new(d => Render(d, "dddd, d MMMM yyyy")),                // Wednesday, 25 November 2026
        new(d => Render(d, "yyyy/MM/dd")),                       // 2026/11/25
        new(d => Render(d, "MMM d yyyy")),                       // Nov 25 2026
        new(d => Render(d, "dd.MM.yyyy")),                       // 25.11.2026
        new(d => $"the {Ordinal(d.Day)} of {Render(d, "MMMM yyyy")}"), // the 25th of November 2026
        new(d => Render(d, "ddd d MMM yyyy")),                   // Wed 25 Nov 2026
        new(d => Render(d, "dd-MMM-yyyy")),                      // 25-Nov-2026
        new(d => Render(d, "MMMM d, yyyy").ToUpperInvariant()),  // NOVEMBER 25, 2026
        new(d => Render(d, "MM/dd/yyyy"), d => d.Day > 12),      // 11/25/2026
        new(d => Render(d, "d MMMM yyyy")),                      // 25 November 2026
        new(d => Render(d, "dddd, MMMM d, yyyy")),               // Wednesday, November 25, 2026
        new(d => $"{Render(d, "MMMM")} {Ordinal(d.Day)}, {d.Year}"), // November 25th, 2026
        new(d => Render(d, "yyyyMMdd")),                         // 20261125
    ];

    /// <summary>Number of human date formats <see cref="BuiltInTaskKind.DateNormalisation"/> draws from.</summary>
    internal static int DateFormatCount => DateFormats.Length;

    /// <summary>
    /// <paramref name="count"/> examples of <paramref name="kind"/>, the same for the same seed. Digit strings
    /// (and each addition operand) have a length uniform in [<paramref name="minLength"/>, <paramref name="maxLength"/>];
    /// dates ignore the lengths (they are still validated).
    /// </summary>
    public static IReadOnlyList<TextPair> Generate(BuiltInTaskKind kind, int count, int minLength, int maxLength, ulong seed)
    {
        if (!Enum.IsDefined(kind)) throw new ArgumentOutOfRangeException(nameof(kind), kind, "unknown built-in task");
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        ArgumentOutOfRangeException.ThrowIfLessThan(minLength, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxLength, minLength);

        var random = new SeededRandom(seed);
        var pairs = new TextPair[count];
        for (var i = 0; i < count; i++)
        {
            pairs[i] = kind switch
            {
                BuiltInTaskKind.Copy => Copy(random, minLength, maxLength),
                BuiltInTaskKind.Reverse => Reverse(random, minLength, maxLength),
                BuiltInTaskKind.Sort => Sort(random, minLength, maxLength),
                BuiltInTaskKind.Addition => Addition(random, minLength, maxLength),
                _ => Date(random),
            };
        }
        return pairs;
    }

    /// <summary>Renders <paramref name="date"/> in format number <paramref name="format"/>, or null when that format would be ambiguous for it.</summary>
    internal static string? RenderDate(DateOnly date, int format)
    {
        var f = DateFormats[format];
        return f.IsUsable(date) ? f.Render(date) : null;
    }

    private static TextPair Copy(SeededRandom random, int minLength, int maxLength)
    {
        var digits = Digits(random, minLength, maxLength);
        return new TextPair(digits, digits);
    }

    private static TextPair Reverse(SeededRandom random, int minLength, int maxLength)
    {
        var digits = Digits(random, minLength, maxLength);
        var reversed = digits.ToCharArray();
        Array.Reverse(reversed);
        return new TextPair(digits, new string(reversed));
    }

    private static TextPair Sort(SeededRandom random, int minLength, int maxLength)
    {
        var digits = Digits(random, minLength, maxLength);
        var sorted = digits.ToCharArray();
        Array.Sort(sorted);
        return new TextPair(digits, new string(sorted));
    }

    private static TextPair Addition(SeededRandom random, int minLength, int maxLength)
    {
        var left = Number(random, minLength, maxLength);
        var right = Number(random, minLength, maxLength);
        return new TextPair($"{left}+{right}", DecimalSum(left, right));
    }

    private static TextPair Date(SeededRandom random)
    {
        var date = FirstDate.AddDays(random.Next(LastDate.DayNumber - FirstDate.DayNumber + 1));
        DateFormat format;
        do format = DateFormats[random.Next(DateFormats.Length)];
        while (!format.IsUsable(date));
        return new TextPair(format.Render(date), date.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture));
    }

    private static string Digits(SeededRandom random, int minLength, int maxLength)
    {
        var chars = new char[random.Next(minLength, maxLength + 1)];
        for (var i = 0; i < chars.Length; i++) chars[i] = (char)('0' + random.Next(10));
        return new string(chars);
    }

    private static string Number(SeededRandom random, int minLength, int maxLength)
    {
        var chars = new char[random.Next(minLength, maxLength + 1)];
        // A leading zero would make "007" and "7" two spellings of one number.
        chars[0] = (char)('0' + (chars.Length == 1 ? random.Next(10) : random.Next(1, 10)));
        for (var i = 1; i < chars.Length; i++) chars[i] = (char)('0' + random.Next(10));
        return new string(chars);
    }

    // Schoolbook addition, so operands may have any number of digits.
    private static string DecimalSum(string left, string right)
    {
        var sum = new char[Math.Max(left.Length, right.Length) + 1];
        var carry = 0;
        for (int i = left.Length - 1, j = right.Length - 1, k = sum.Length - 1; k >= 0; i--, j--, k--)
        {
            var column = carry + (i >= 0 ? left[i] - '0' : 0) + (j >= 0 ? right[j] - '0' : 0);
            sum[k] = (char)('0' + column % 10);
            carry = column / 10;
        }
        return sum[0] == '0' ? new string(sum, 1, sum.Length - 1) : new string(sum);
    }

    private static string Render(DateOnly date, string pattern) => date.ToString(pattern, CultureInfo.InvariantCulture);

    private static string Ordinal(int day) => day switch
    {
        11 or 12 or 13 => $"{day}th",
        _ when day % 10 == 1 => $"{day}st",
        _ when day % 10 == 2 => $"{day}nd",
        _ when day % 10 == 3 => $"{day}rd",
        _ => $"{day}th",
    };

    private sealed record DateFormat(Func<DateOnly, string> Render, Func<DateOnly, bool>? Usable = null)
    {
        public bool IsUsable(DateOnly date) => Usable?.Invoke(date) ?? true;
    }
}
