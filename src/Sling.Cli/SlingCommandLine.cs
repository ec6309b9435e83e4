using System.CommandLine;
using System.CommandLine.Help;

namespace Sling.Cli;

/// <summary>The `sling` command tree. Run with explicit writers so tests can drive it in-process.</summary>
public static class SlingCommandLine
{
    public static int Run(string[] args, TextWriter stdout, TextWriter stderr, TextReader? stdin = null)
    {
        // Named `sling` (as the installed tool is), not after the process that hosts it.
        var root = new Command("sling", "Sling: run small language models on your CPU, privately and offline.")
        {
            new HelpOption(),
            new VersionOption(),
            RunCommand.Create(stdout, stderr, stdin ?? Console.In),
            ChatCommand.Create(stdout, stderr, stdin ?? Console.In),
            TemplateCommand.Create(stdout),
            ServeCommand.Create(stdout, stderr),
            DownloadCommand.Create(stdout, stderr),
            CacheCommand.Create(stdout),
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
            var parsed = root.Parse(args, new ParserConfiguration { ResponseFileTokenReplacer = null });
            if (parsed.Errors.Count > 0)
            {
                // One line, in words, and where to look; not the whole help and .NET type names.
                string command = parsed.CommandResult.Command == root ? "sling" : $"sling {parsed.CommandResult.Command.Name}";
                stderr.WriteLine($"error: {Friendly(parsed.Errors[0].Message)} (see '{command} --help')");
                return 1;
            }
            return parsed.Invoke(config);
        }
        catch (Tokenization.TokenizerNotFoundException e)
        {
            stderr.WriteLine($"error: {e.Message} with --tokenizer PATH");
            return 1;
        }
        catch (SlingException e)
        {
            stderr.WriteLine($"error: {e.Message}");
            return 1;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // The file system said no (a path under a file, no permission, a full disk): the user's to fix.
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

    private static string Friendly(string message) => System.Text.RegularExpressions.Regex.Replace(message,
        @"as expected type '(System\.Nullable`1\[)?System\.(\w+)\]?'",
        m => m.Groups[2].Value switch
        {
            "Int32" or "Int64" => "as a whole number",
            "UInt32" or "UInt64" => "as a whole number of 0 or more",
            "Single" or "Double" => "as a number",
            "Boolean" => "as true or false",
            var other => $"as {other.ToLowerInvariant()}",
        });
}
