using System.Xml.Linq;

namespace Distributed.Sweeps.Tests;

// The shape a newcomer reads in docs/architecture.md, held by the project files themselves.
public class DependencyGraphTests
{
    static readonly Dictionary<string, string[]> Allowed = new()
    {
        ["Options"] = [],
        ["Models"] = ["Options"],
        ["Grains.Abstractions"] = ["Options"],
        ["Sweeps"] = ["Grains.Abstractions"],
        ["Grains"] = ["Grains.Abstractions", "Models", "Sweeps"],
        ["Dashboard"] = ["Sweeps"],
        ["Silo"] = ["Dashboard", "Grains"],
        ["Client"] = ["Dashboard", "Grains.Abstractions", "Models", "Silo", "Sweeps"],
    };

    static string Root()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "Distributed.sln"))) return dir.FullName;
        throw new InvalidOperationException("not inside the repository");
    }

    static XDocument Project(string name) => XDocument.Load(Path.Combine(Root(), "src", name, $"Distributed.{name}.csproj"));

    static string[] References(string name, string kind) =>
        Project(name).Descendants(kind).Select(e => e.Attribute("Include")!.Value).ToArray();

    static string[] ProjectsReferenced(string name) =>
        References(name, "ProjectReference").Select(p => Path.GetFileNameWithoutExtension(p)["Distributed.".Length..]).Order().ToArray();

    [Fact]
    public void The_source_projects_reference_only_what_the_architecture_allows()
    {
        var found = Directory.GetDirectories(Path.Combine(Root(), "src")).Select(Path.GetFileName).Where(n => File.Exists(Path.Combine(Root(), "src", n!, $"Distributed.{n}.csproj"))).Order();
        Assert.Equal(Allowed.Keys.Order(), found);
        foreach (var (project, allowed) in Allowed) Assert.Equal(allowed.Order(), ProjectsReferenced(project));
    }

    [Fact]
    public void The_model_library_does_not_see_the_contracts_and_the_contracts_do_not_read_yaml()
    {
        Assert.DoesNotContain("Grains.Abstractions", ProjectsReferenced("Models"));
        Assert.DoesNotContain("YamlDotNet", References("Grains.Abstractions", "PackageReference"));
        Assert.DoesNotContain("YamlDotNet", References("Options", "PackageReference"));
        // Only TorchSharp's projects carry libtorch's 500 MB: the model library and what hosts it.
        Assert.DoesNotContain("TorchSharp", References("Grains.Abstractions", "PackageReference"));
        Assert.DoesNotContain("TorchSharp", References("Sweeps", "PackageReference"));
        // The web dashboard reads the cluster through the contracts only: no grain code, no model, no libtorch.
        Assert.Empty(References("Dashboard", "PackageReference"));
    }
}
