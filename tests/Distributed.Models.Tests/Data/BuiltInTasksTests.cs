using System.Globalization;
using System.Numerics;
using System.Text.RegularExpressions;
using Distributed.Models.Data;
using Distributed.Options;

namespace Distributed.Models.Tests.Data;

public sealed class BuiltInTasksTests
{
    public static TheoryData<BuiltInTaskKind> AllKinds => new(Enum.GetValues<BuiltInTaskKind>());

    [Theory]
    [MemberData(nameof(AllKinds))]
    public void Same_seed_gives_same_data_and_different_seed_differs(BuiltInTaskKind kind)
    {
        var first = BuiltInTasks.Generate(kind, 200, 2, 8, seed: 5);
        var again = BuiltInTasks.Generate(kind, 200, 2, 8, seed: 5);
        var other = BuiltInTasks.Generate(kind, 200, 2, 8, seed: 6);
        Assert.Equal(first, again);
        Assert.NotEqual(first, other);
        Assert.Equal(200, first.Count);
    }

    [Fact]
    public void Copy_reverse_and_sort_targets_are_right()
    {
        foreach (var pair in BuiltInTasks.Generate(BuiltInTaskKind.Copy, 300, 1, 12, 1))
            Assert.Equal(pair.Source, pair.Target);

        foreach (var pair in BuiltInTasks.Generate(BuiltInTaskKind.Reverse, 300, 1, 12, 1))
        {
            for (var i = 0; i < pair.Source.Length; i++) Assert.Equal(pair.Source[i], pair.Target[^(i + 1)]);
            Assert.Equal(pair.Source.Length, pair.Target.Length);
        }

        foreach (var pair in BuiltInTasks.Generate(BuiltInTaskKind.Sort, 300, 1, 12, 1))
        {
            // Sorted digits are a run of 0s, then 1s, ... with the same count of each digit as the source.
            var expected = string.Concat(Enumerable.Range(0, 10).Select(d => new string((char)('0' + d), pair.Source.Count(c => c == '0' + d))));
            Assert.Equal(expected, pair.Target);
        }
    }

    [Theory]
    [InlineData(BuiltInTaskKind.Copy)]
    [InlineData(BuiltInTaskKind.Reverse)]
    [InlineData(BuiltInTaskKind.Sort)]
    public void Digit_strings_cover_every_length_in_range(BuiltInTaskKind kind)
    {
        var pairs = BuiltInTasks.Generate(kind, 1000, 3, 7, 2);
        Assert.All(pairs, p => Assert.Matches("^[0-9]{3,7}$", p.Source));
        Assert.Equal([3, 4, 5, 6, 7], pairs.Select(p => p.Source.Length).Distinct().Order());
        Assert.Equal(10, pairs.SelectMany(p => p.Source).Distinct().Count());
    }

    [Fact]
    public void Addition_targets_are_the_sums()
    {
        var pairs = BuiltInTasks.Generate(BuiltInTaskKind.Addition, 2000, 1, 18, 3);
        var operandLengths = new HashSet<int>();
        foreach (var pair in pairs)
        {
            var match = Regex.Match(pair.Source, "^(0|[1-9][0-9]*)\\+(0|[1-9][0-9]*)$");
            Assert.True(match.Success, pair.Source);
            var left = match.Groups[1].Value;
            var right = match.Groups[2].Value;
            operandLengths.Add(left.Length);
            operandLengths.Add(right.Length);
            // 18-digit operands sum below 2·10^18, inside long.
            Assert.Equal((long.Parse(left, CultureInfo.InvariantCulture) + long.Parse(right, CultureInfo.InvariantCulture)).ToString(CultureInfo.InvariantCulture), pair.Target);
        }
        Assert.Equal(Enumerable.Range(1, 18), operandLengths.Order());
    }

    [Fact]
    public void Addition_handles_operands_longer_than_a_long()
    {
        foreach (var pair in BuiltInTasks.Generate(BuiltInTaskKind.Addition, 200, 30, 40, 4))
        {
            var parts = pair.Source.Split('+');
            Assert.InRange(parts[0].Length, 30, 40);
            Assert.InRange(parts[1].Length, 30, 40);
            Assert.Equal((BigInteger.Parse(parts[0], CultureInfo.InvariantCulture) + BigInteger.Parse(parts[1], CultureInfo.InvariantCulture)).ToString(CultureInfo.InvariantCulture), pair.Target);
        }
    }

    [Fact]
    public void Single_digit_addition_includes_zero_and_carries()
    {
        var pairs = BuiltInTasks.Generate(BuiltInTaskKind.Addition, 500, 1, 1, 8);
        Assert.Contains(pairs, p => p.Source.StartsWith("0+", StringComparison.Ordinal));
        Assert.Contains(pairs, p => p.Target.Length == 2);
        Assert.Contains(new TextPair("9+9", "18"), pairs);
    }

    // The test's own reading of every format: a shape to recognise it and .NET patterns to parse it back.
    // ParseExact checks that a weekday name matches the date.
    private static readonly (string Name, Regex Shape, string[] Patterns)[] DateReadings =
    [
        ("d MMM yyyy", new(@"^\d{1,2} [A-Z][a-z]{2} \d{4}$"), ["d MMM yyyy"]),
        ("MMMM d, yyyy", new(@"^[A-Z][a-z]+ \d{1,2}, \d{4}$"), ["MMMM d, yyyy"]),
        ("dd/MM/yyyy", new(@"^\d{2}/(0\d|1[0-2])/\d{4}$"), ["dd/MM/yyyy"]),
        ("dddd, d MMMM yyyy", new(@"^[A-Z][a-z]+day, \d{1,2} [A-Z][a-z]+ \d{4}$"), ["dddd, d MMMM yyyy"]),
        ("yyyy/MM/dd", new(@"^\d{4}/\d{2}/\d{2}$"), ["yyyy/MM/dd"]),
        ("MMM d yyyy", new(@"^[A-Z][a-z]{2} \d{1,2} \d{4}$"), ["MMM d yyyy"]),
        ("dd.MM.yyyy", new(@"^\d{2}\.\d{2}\.\d{4}$"), ["dd.MM.yyyy"]),
        ("the dth of MMMM yyyy", new(@"^the \d{1,2}(st|nd|rd|th) of [A-Z][a-z]+ \d{4}$"),
            ["'the' d'st of' MMMM yyyy", "'the' d'nd of' MMMM yyyy", "'the' d'rd of' MMMM yyyy", "'the' d'th of' MMMM yyyy"]),
        ("ddd d MMM yyyy", new(@"^[A-Z][a-z]{2} \d{1,2} [A-Z][a-z]{2} \d{4}$"), ["ddd d MMM yyyy"]),
        ("dd-MMM-yyyy", new(@"^\d{2}-[A-Z][a-z]{2}-\d{4}$"), ["dd-MMM-yyyy"]),
        ("MMMM d, yyyy upper", new(@"^[A-Z]+ \d{1,2}, \d{4}$"), ["MMMM d, yyyy"]),
        // Month first only when the day is over 12, so "05/11/2026" always means 5 November.
        ("MM/dd/yyyy", new(@"^\d{2}/(1[3-9]|[23]\d)/\d{4}$"), ["MM/dd/yyyy"]),
        ("d MMMM yyyy", new(@"^\d{1,2} [A-Z][a-z]+ \d{4}$"), ["d MMMM yyyy"]),
        ("dddd, MMMM d, yyyy", new(@"^[A-Z][a-z]+day, [A-Z][a-z]+ \d{1,2}, \d{4}$"), ["dddd, MMMM d, yyyy"]),
        ("MMMM dth, yyyy", new(@"^[A-Z][a-z]+ \d{1,2}(st|nd|rd|th), \d{4}$"),
            ["MMMM d'st', yyyy", "MMMM d'nd', yyyy", "MMMM d'rd', yyyy", "MMMM d'th', yyyy"]),
        ("yyyyMMdd", new(@"^\d{8}$"), ["yyyyMMdd"]),
    ];

    [Fact]
    public void Every_date_parses_back_to_its_target_and_every_format_appears()
    {
        Assert.True(BuiltInTasks.DateFormatCount >= 12);
        Assert.Equal(DateReadings.Length, BuiltInTasks.DateFormatCount);

        var seen = new int[DateReadings.Length];
        var years = new HashSet<int>();
        foreach (var pair in BuiltInTasks.Generate(BuiltInTaskKind.DateNormalisation, 2000, 1, 1, 10))
        {
            var reading = Array.FindIndex(DateReadings, r => r.Shape.IsMatch(pair.Source));
            Assert.True(reading >= 0, $"no known format reads \"{pair.Source}\"");
            seen[reading]++;

            var parsed = DateTime.ParseExact(pair.Source, DateReadings[reading].Patterns, CultureInfo.InvariantCulture, DateTimeStyles.None);
            Assert.Equal(parsed.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture), pair.Target);
            Assert.InRange(parsed.Year, 1900, 2099);
            years.Add(parsed.Year);

            var ordinal = Regex.Match(pair.Source, @"\b(\d{1,2})(st|nd|rd|th)\b");
            if (ordinal.Success) Assert.Equal(EnglishOrdinalSuffix(int.Parse(ordinal.Groups[1].Value, CultureInfo.InvariantCulture)), ordinal.Groups[2].Value);
        }

        for (var i = 0; i < seen.Length; i++) Assert.True(seen[i] > 0, $"format {DateReadings[i].Name} never appeared");
        Assert.Contains(years, y => y < 1920);
        Assert.Contains(years, y => y > 2080);
    }

    [Fact]
    public void The_weekday_check_in_the_readings_is_real()
    {
        // 25 November 2026 is a Wednesday, so calling it a Tuesday must not parse.
        Assert.Throws<FormatException>(() => DateTime.ParseExact("Tuesday, 25 November 2026", "dddd, d MMMM yyyy", CultureInfo.InvariantCulture));
    }

    [Fact]
    public void Renders_a_known_date_in_every_format()
    {
        var date = new DateOnly(2026, 11, 25);
        var rendered = Enumerable.Range(0, BuiltInTasks.DateFormatCount).Select(f => BuiltInTasks.RenderDate(date, f)).ToHashSet();
        string?[] expected =
        [
            "25 Nov 2026", "November 25, 2026", "25/11/2026", "Wednesday, 25 November 2026", "2026/11/25",
            "Nov 25 2026", "25.11.2026", "the 25th of November 2026", "Wed 25 Nov 2026", "25-Nov-2026",
            "NOVEMBER 25, 2026", "11/25/2026", "25 November 2026", "Wednesday, November 25, 2026",
            "November 25th, 2026", "20261125",
        ];
        Assert.Equal(expected.ToHashSet(), rendered);
    }

    [Fact]
    public void Renders_small_days_with_ordinals_and_without_month_first_numerics()
    {
        // 1 May 2003 was a Thursday; "05/01/2003" would read as 5 January, so that format is unusable.
        var date = new DateOnly(2003, 5, 1);
        var rendered = Enumerable.Range(0, BuiltInTasks.DateFormatCount).Select(f => BuiltInTasks.RenderDate(date, f)).ToList();
        Assert.Contains(null, rendered);
        Assert.Contains("Thursday, 1 May 2003", rendered);
        Assert.Contains("the 1st of May 2003", rendered);
        Assert.Contains("May 1st, 2003", rendered);
        Assert.Contains("01/05/2003", rendered);
        Assert.DoesNotContain("05/01/2003", rendered);
        Assert.Contains("Thu 1 May 2003", rendered);

        Assert.Contains("the 2nd of January 1900", Renderings(new DateOnly(1900, 1, 2)));
        Assert.Contains("Monday, 1 January 1900", Renderings(new DateOnly(1900, 1, 1)));
        Assert.Contains("Tuesday, 29 February 2000", Renderings(new DateOnly(2000, 2, 29)));
        Assert.Contains("the 23rd of March 2013", Renderings(new DateOnly(2013, 3, 23)));
        Assert.Contains("Saturday, March 23, 2013", Renderings(new DateOnly(2013, 3, 23)));
        Assert.Contains("the 11th of March 2013", Renderings(new DateOnly(2013, 3, 11)));
        Assert.Contains("the 12th of March 2013", Renderings(new DateOnly(2013, 3, 12)));
        Assert.Contains("the 13th of March 2013", Renderings(new DateOnly(2013, 3, 13)));
        Assert.Contains("December 22nd, 1999", Renderings(new DateOnly(1999, 12, 22)));
        Assert.Contains("the 31st of December 2099", Renderings(new DateOnly(2099, 12, 31)));
    }

    [Fact]
    public void Dates_ignore_the_lengths()
    {
        Assert.Equal(
            BuiltInTasks.Generate(BuiltInTaskKind.DateNormalisation, 50, 1, 1, 12),
            BuiltInTasks.Generate(BuiltInTaskKind.DateNormalisation, 50, 5, 40, 12));
    }

    [Fact]
    public void Zero_examples_is_an_empty_list()
    {
        Assert.Empty(BuiltInTasks.Generate(BuiltInTaskKind.Copy, 0, 1, 1, 0));
    }

    [Theory]
    [InlineData(-1, 1, 5, "count")]
    [InlineData(10, 0, 5, "minLength")]
    [InlineData(10, 4, 3, "maxLength")]
    public void Rejects_bad_arguments_naming_them(int count, int minLength, int maxLength, string parameter)
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => BuiltInTasks.Generate(BuiltInTaskKind.Copy, count, minLength, maxLength, 0));
        Assert.Equal(parameter, e.ParamName);
    }

    private static List<string?> Renderings(DateOnly date) =>
        Enumerable.Range(0, BuiltInTasks.DateFormatCount).Select(f => BuiltInTasks.RenderDate(date, f)).ToList();

    private static string EnglishOrdinalSuffix(int day) =>
        (day % 100) is >= 11 and <= 13 ? "th" : (day % 10) switch { 1 => "st", 2 => "nd", 3 => "rd", _ => "th" };
}
