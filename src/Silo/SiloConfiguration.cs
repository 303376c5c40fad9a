using System.Collections;
using System.ComponentModel;
using System.Globalization;
using System.Reflection;
using System.Text;
using System.Text.RegularExpressions;
using Distributed.Grains.Hosting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace Distributed.Silo;

/// <summary>
/// A silo's settings, read as .NET hosts read configuration: a JSON settings file (--settings FILE), then DISTRIBUTED_*
/// environment variables, then the command line, each overriding the one before; bound to <see cref="SiloHostOptions"/>
/// and <see cref="TrainingSiloOptions"/> and validated before anything starts. A setting has one name, its property's:
/// the settings file's key is that name (siloPort), and the command line (--silo-port) and environment
/// (DISTRIBUTED_SILO_PORT) spell it by rule, so no table of names can drift from the options.
/// </summary>
public static partial class SiloConfiguration
{
    /// <summary>One setting: its name, where it is bound, and its spellings on the command line and in the environment.</summary>
    public sealed record Setting(PropertyInfo Property, object Defaults)
    {
        public string Name => char.ToLowerInvariant(Property.Name[0]) + Property.Name[1..];
        public string Option => "--" + string.Join('-', Words(Property.Name)).ToLowerInvariant();
        public string Variable => "DISTRIBUTED_" + string.Join('_', Words(Property.Name)).ToUpperInvariant();
        public string Description => Property.GetCustomAttribute<DescriptionAttribute>()?.Description ?? "";
        public Type Type => Nullable.GetUnderlyingType(Property.PropertyType) ?? Property.PropertyType;
        /// <summary>Read only from the environment or the settings file, never from the command line.</summary>
        public bool Secret => Property.GetCustomAttribute<PasswordPropertyTextAttribute>()?.Password == true;
        public string? Default => Property.GetValue(Defaults) switch
        {
            null => null,
            bool on => on ? "true" : "false",
            var value => Convert.ToString(value, CultureInfo.InvariantCulture),
        };
    }

    /// <summary>Every setting: the host's, then the training options'.</summary>
    public static readonly IReadOnlyList<Setting> Settings =
    [
        .. Of(new SiloHostOptions()),
        .. Of(new TrainingSiloOptions { DataDir = ".distributed" }),
    ];

    static IEnumerable<Setting> Of(object defaults) => defaults.GetType()
        .GetProperties(BindingFlags.Public | BindingFlags.Instance)
        .Where(p => p.CanWrite && p.GetCustomAttribute<DescriptionAttribute>() is not null)
        .Select(p => new Setting(p, defaults));

    const string SettingsFileOption = "--settings";

    /// <summary>What was read: the configuration and the options bound from it, or the problems, each naming its setting and source.</summary>
    public sealed record Reading(IConfiguration Configuration, SiloHostOptions Host, TrainingSiloOptions Training, IReadOnlyList<string> Problems,
        IReadOnlyDictionary<string, string> Sources)
    {
        /// <summary>How a message names a setting: silo.dataDir (--data-dir), or the variable or file it came from.</summary>
        public string Named(string name) => $"silo.{name} ({Sources.GetValueOrDefault(name, Settings.Single(s => s.Name == name).Option)})";
    }

    public static Reading Read(string[] args, IDictionary environment)
    {
        var problems = new List<string>();
        var sources = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        var commandLine = new Dictionary<string, string?>(StringComparer.OrdinalIgnoreCase);
        string? settingsFile = null;
        for (int i = 0; i < args.Length; i++)
        {
            var (option, inline) = args[i].Split('=', 2) is [var o, var v] ? (o, v) : (args[i], null);
            var setting = Settings.FirstOrDefault(s => s.Option == option);
            if (setting is null && option != SettingsFileOption)
            {
                problems.Add($"unknown argument '{args[i]}'");
                continue;
            }
            var value = inline ?? (i + 1 < args.Length && !args[i + 1].StartsWith("--", StringComparison.Ordinal) ? args[++i] : null);
            if (value is null) problems.Add($"{option}: needs a value");
            else if (setting is null) settingsFile = value;
            else if (setting.Secret)
                problems.Add($"{option}: a secret on the command line is visible to every process on the machine; set {setting.Variable} or put {setting.Name} in the {SettingsFileOption} file");
            else
            {
                commandLine[setting.Name] = value;
                sources[setting.Name] = setting.Option;
            }
        }

        var fromEnvironment = new Dictionary<string, string?>(StringComparer.OrdinalIgnoreCase);
        foreach (var setting in Settings)
            if (environment[setting.Variable] is string text)
            {
                fromEnvironment[setting.Name] = text;
                sources.TryAdd(setting.Name, setting.Variable);
            }

        var builder = new ConfigurationBuilder();
        if (settingsFile is not null)
        {
            var path = Path.GetFullPath(settingsFile);
            if (!File.Exists(path)) problems.Add($"{SettingsFileOption}: no such file {path}");
            else
            {
                builder.AddJsonFile(path, optional: false, reloadOnChange: false);
                foreach (var key in KeysOf(path, problems))
                    if (Settings.All(s => !s.Name.Equals(key, StringComparison.OrdinalIgnoreCase))) problems.Add($"{settingsFile}: unknown setting '{key}'");
                    else sources.TryAdd(key, settingsFile);
            }
        }
        builder.AddInMemoryCollection(fromEnvironment).AddInMemoryCollection(commandLine);
        IConfiguration configuration;
        try
        {
            configuration = builder.Build();
        }
        catch (Exception e) when (e is InvalidDataException or FormatException or IOException)
        {
            problems.Add($"{settingsFile}: {e.GetBaseException().Message}");
            configuration = new ConfigurationBuilder().Build();
        }

        // Every value converts to its setting's type before binding, so each bad one is named rather than the first thrown.
        foreach (var setting in Settings)
            if (configuration[setting.Name] is { } text && !Converts(setting.Type, text))
                problems.Add($"silo.{setting.Name} ({sources.GetValueOrDefault(setting.Name, setting.Option)}): '{text}' is not {Kind(setting.Type)}");
        if (problems.Count > 0) return new(configuration, new(), new(), problems, sources);

        var host = configuration.Get<SiloHostOptions>() ?? new();
        var training = configuration.Get<TrainingSiloOptions>() ?? new();
        var validation = new SiloOptionsValidation(environment);
        var reading = new Reading(configuration, host, training, problems, sources);
        problems.AddRange(validation.Problems(host).Concat(validation.Problems(training))
            .Select(p => NamePattern().Replace(p, m => Settings.Any(s => s.Name == m.Groups[1].Value) ? reading.Named(m.Groups[1].Value) + ":" : m.Value, 1)));
        return reading;
    }

    /// <summary>Registers both options bound from <paramref name="configuration"/>, validated when the host starts.</summary>
    public static IServiceCollection AddSiloOptions(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddSingleton<SiloOptionsValidation>(_ => new(Environment.GetEnvironmentVariables()));
        services.AddSingleton<IValidateOptions<SiloHostOptions>>(s => s.GetRequiredService<SiloOptionsValidation>());
        services.AddSingleton<IValidateOptions<TrainingSiloOptions>>(s => s.GetRequiredService<SiloOptionsValidation>());
        services.AddOptions<SiloHostOptions>().Bind(configuration).ValidateOnStart();
        services.AddOptions<TrainingSiloOptions>().Bind(configuration).ValidateOnStart();
        return services;
    }

    public static string Usage()
    {
        var text = new StringBuilder();
        text.AppendLine("usage: Distributed.Silo [--settings FILE.json] [--SETTING VALUE ...]");
        text.AppendLine("  each setting comes from the settings file (its name as the key), the environment (DISTRIBUTED_...) or the");
        text.AppendLine("  command line, the later overriding the earlier:");
        foreach (var s in Settings)
        {
            text.AppendLine($"  {s.Option} VALUE, {s.Variable}, \"{s.Name}\"{(s.Default is { } d ? $" (default {d})" : "")}");
            text.AppendLine($"      {s.Description}");
        }
        return text.ToString().TrimEnd();
    }

    static IEnumerable<string> Words(string name) => WordPattern().Matches(name).Select(m => m.Value);

    static bool Converts(Type type, string text)
    {
        try
        {
            _ = TypeDescriptor.GetConverter(type).ConvertFromInvariantString(text);
            return true;
        }
        catch (Exception e) when (e is FormatException or ArgumentException or NotSupportedException or OverflowException)
        {
            return false;
        }
    }

    static string Kind(Type type) =>
        type == typeof(int) ? "a whole number"
        : type == typeof(bool) ? "true or false"
        : type == typeof(ByteSize) ? "a size (bytes, or a number with KiB, MiB, GiB, TiB)"
        : type == typeof(TimeSpan) ? "a duration (d.hh:mm:ss)"
        : $"a {type.Name}";

    /// <summary>Top-level keys of a JSON settings file, or a problem naming the file when it is not a JSON object.</summary>
    static IEnumerable<string> KeysOf(string path, List<string> problems)
    {
        try
        {
            using var document = System.Text.Json.JsonDocument.Parse(File.ReadAllText(path));
            if (document.RootElement.ValueKind == System.Text.Json.JsonValueKind.Object)
                return document.RootElement.EnumerateObject().Select(p => p.Name).ToList();
            problems.Add($"{path}: must be a JSON object of settings");
        }
        catch (System.Text.Json.JsonException e)
        {
            problems.Add($"{path}: not JSON ({e.Message})");
        }
        return [];
    }

    [GeneratedRegex("[A-Z][a-z0-9]*|[a-z0-9]+")]
    private static partial Regex WordPattern();

    [GeneratedRegex(@"^silo\.(\w+):")]
    private static partial Regex NamePattern();
}

/// <summary>The one check of a silo's settings: by <see cref="SiloConfiguration.Read"/> before the host is built, and by ValidateOnStart.</summary>
public sealed class SiloOptionsValidation(IDictionary environment) : IValidateOptions<SiloHostOptions>, IValidateOptions<TrainingSiloOptions>
{
    public IReadOnlyList<string> Problems(SiloHostOptions options)
    {
        var problems = options.Validate().ToList();
        // A fact about where the process runs, not about the values: read from its environment.
        if (options.Kubernetes && (environment["KUBERNETES_SERVICE_HOST"] is not string || !File.Exists(SiloHostOptions.ServiceAccountToken)))
            problems.Add($"silo.kubernetes: this process is not in a Kubernetes pod with a service account token " +
                         $"(KUBERNETES_SERVICE_HOST, {SiloHostOptions.ServiceAccountToken}); the silo reads its cluster's pods through the API");
        return problems;
    }

    public IReadOnlyList<string> Problems(TrainingSiloOptions options) => options.Validate("silo");

    public ValidateOptionsResult Validate(string? name, SiloHostOptions options) => Result(Problems(options));
    public ValidateOptionsResult Validate(string? name, TrainingSiloOptions options) => Result(Problems(options));

    static ValidateOptionsResult Result(IReadOnlyList<string> problems) =>
        problems.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(problems);
}
