using System.Diagnostics;
using System.IO.Compression;
using System.Xml.Linq;
using Sling.Tests.Support;

namespace Sling.Tests;

public class PackageTests
{
    static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir != null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "Sling.slnx"))) return dir.FullName;
        throw new InvalidOperationException("Sling.slnx not found above the test binaries");
    }

    static (int Code, string Output) Run(string file, string arguments, string directory)
    {
        using var p = Process.Start(new ProcessStartInfo(file, arguments)
        {
            WorkingDirectory = directory, RedirectStandardOutput = true, RedirectStandardError = true,
        })!;
        var stderr = p.StandardError.ReadToEndAsync();
        string stdout = p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        return (p.ExitCode, stdout + stderr.Result);
    }

    [Fact]
    public void TheLibraryPacksWithItsReadmeDocumentationAndAVersionPerCommit()
    {
        string root = RepositoryRoot();
        using var output = new TempDirectory();
        var (code, log) = Run("dotnet", $"pack src/Sling/Sling.csproj -c Release --no-build -o \"{output.Path}\"", root);
        Assert.True(code == 0, log);
        string package = Assert.Single(Directory.GetFiles(output.Path, "Sling.*.nupkg"));
        using var zip = ZipFile.OpenRead(package);
        var names = zip.Entries.Select(e => e.FullName).ToHashSet();
        Assert.Contains("lib/net10.0/Sling.dll", names);
        Assert.Contains("lib/net10.0/Sling.xml", names);
        Assert.Contains("README.md", names);

        using var nuspecStream = zip.Entries.Single(e => e.FullName.EndsWith(".nuspec", StringComparison.Ordinal)).Open();
        var nuspec = XDocument.Load(nuspecStream);
        string Value(string name) => nuspec.Descendants().First(e => e.Name.LocalName == name).Value;
        Assert.Equal("Sling", Value("id"));
        Assert.Equal("README.md", Value("readme"));
        Assert.Contains(nuspec.Descendants().Where(e => e.Name.LocalName == "dependency"), d => (string?)d.Attribute("id") == "Microsoft.Extensions.AI.Abstractions");
        // 0.3.<number of commits>: every commit is a new version.
        var (gitCode, count) = Run("git", "rev-list --count HEAD", root);
        if (gitCode == 0) Assert.Equal($"0.3.{count.Trim()}", Value("version"));

        using var readme = new StreamReader(zip.GetEntry("README.md")!.Open());
        Assert.Contains("SlingModel.Load", readme.ReadToEnd());
        using var docs = zip.GetEntry("lib/net10.0/Sling.xml")!.Open();
        Assert.Contains(XDocument.Load(docs).Descendants("member"), m => (string?)m.Attribute("name") == "T:Sling.SlingModel");
    }
}
