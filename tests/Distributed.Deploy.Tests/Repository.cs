namespace Distributed.Deploy.Tests;

static class Repository
{
    /// <summary>The checkout these tests run from (the folder holding Distributed.sln).</summary>
    public static string Root { get; } = Find();

    static string Find()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "Distributed.sln"))) return dir.FullName;
        throw new InvalidOperationException("repository root not found");
    }
}
