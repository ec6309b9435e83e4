namespace Sling.Tests.Cli;

/// <summary>Runs the `sling` command line in-process and captures what it prints.</summary>
public static class CliRunner
{
    public sealed record Result(int ExitCode, string Stdout, string Stderr);

    public static Result Run(params string[] args) => RunWithInput(null, args);

    /// <summary>Runs with <paramref name="stdin"/> as the standard input (not a terminal).</summary>
    public static Result RunWithInput(string? stdin, params string[] args)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        int code = Sling.Cli.SlingCommandLine.Run(args, stdout, stderr, stdin is null ? null : new StringReader(stdin));
        return new Result(code, stdout.ToString(), stderr.ToString());
    }

    /// <summary>A user error: non-zero exit, one line on stderr starting "error:", no stack trace.</summary>
    public static string AssertCleanFailure(Result r)
    {
        Assert.NotEqual(0, r.ExitCode);
        var lines = r.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Single(lines);
        Assert.StartsWith("error: ", lines[0]);
        Assert.DoesNotContain("   at ", r.Stderr);
        Assert.DoesNotContain("internal error", r.Stderr);
        return lines[0];
    }
}
