using Spectre.Console;

namespace Sling.Cli;

/// <summary>Spectre.Console consoles bound to the command's own writers (so tests can capture them).</summary>
internal static class Consoles
{
    public static IAnsiConsole For(TextWriter writer) => AnsiConsole.Create(new AnsiConsoleSettings
    {
        Out = new AnsiConsoleOutput(writer),
        Ansi = writer == Console.Out || writer == Console.Error ? AnsiSupport.Detect : AnsiSupport.No,
        Interactive = writer == Console.Error ? InteractionSupport.Detect : InteractionSupport.No,
    });

    /// <summary>True when a write failed because the reader closed the pipe (EPIPE), as `| head` does.</summary>
    public static bool IsClosedPipe(IOException e) => (e.HResult & 0xFFFF) == 32 || e.Message.Contains("Broken pipe", StringComparison.OrdinalIgnoreCase);

    /// <summary>Runs <paramref name="work"/> with a progress bar on <paramref name="writer"/> (drawn only on a terminal).</summary>
    public static T WithProgress<T>(TextWriter writer, string title, Func<Action<double, string>, T> work)
    {
        var console = For(writer);
        if (!console.Profile.Capabilities.Interactive) return work((_, _) => { });
        return console.Progress()
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn())
            .Start(ctx =>
            {
                var task = ctx.AddTask(title, maxValue: 1.0);
                var result = work((fraction, label) =>
                {
                    task.Value = fraction;
                    if (label.Length > 0) task.Description = $"{title}: {Markup.Escape(label)}";
                });
                task.Value = 1.0;
                task.Description = title;
                return result;
            });
    }

    /// <summary>
    /// Runs <paramref name="work"/> with Hub options whose downloads show one progress bar per file on
    /// <paramref name="writer"/> (on a terminal; elsewhere one line per file fetched).
    /// </summary>
    public static T WithDownloads<T>(TextWriter writer, string model, Func<Hub.HubOptions, T> work)
    {
        var hub = Hub.HubOptions.FromEnvironment() with { Log = line => writer.WriteLine(line) };
        var console = For(writer);
        // Progress bars only when something may download (a Hub id, not offline).
        if (!console.Profile.Capabilities.Interactive || hub.Offline || !Hub.HubModelId.TryParse(model, out _)) return work(hub);
        return console.Progress()
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new DownloadedColumn(), new TransferSpeedColumn())
            .Start(ctx =>
            {
                var tasks = new Dictionary<string, ProgressTask>();
                return work(hub with
                {
                    Log = null,
                    Progress = (file, done, total) =>
                    {
                        if (!tasks.TryGetValue(file, out var task))
                            tasks[file] = task = ctx.AddTask(Markup.Escape(file), maxValue: total ?? Math.Max(done, 1));
                        if (total is long t) task.MaxValue = t;
                        task.Value = done;
                    },
                });
            });
    }
}
