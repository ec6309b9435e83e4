using System.CommandLine;

namespace Sling.Cli;

/// <summary>The `sling` command tree. Run with explicit writers so tests can drive it in-process.</summary>
public static class SlingCommandLine
{
    public static int Run(string[] args, TextWriter stdout, TextWriter stderr)
    {
        var root = new RootCommand("Sling: run small language models on your CPU, privately and offline.")
        {
            RunCommand.Create(stdout, stderr),
            InfoCommand.Create(stdout),
            QuantizeCommand.Create(stdout, stderr),
            EvaluationCommands.Perplexity(stdout, stderr),
            EvaluationCommands.Compare(stdout, stderr),
            BenchCommand.Create(stdout, stderr),
            ExportCommand.Create(stdout, stderr),
        };
        var config = new InvocationConfiguration { Output = stdout, Error = stderr, EnableDefaultExceptionHandler = false };
        try
        {
            // No response files: a prompt such as "@Lily said hi" is text, not a file to read arguments from.
            return root.Parse(args, new ParserConfiguration { ResponseFileTokenReplacer = null }).Invoke(config);
        }
        catch (SlingException e)
        {
            stderr.WriteLine($"error: {e.Message}");
            return 1;
        }
        catch (Exception e)
        {
            // Not the user's fault, but still no stack trace: one line that says what broke.
            stderr.WriteLine($"error: internal error ({e.GetType().Name}): {e.Message}");
            return 70;
        }
    }
}
