using System.CommandLine;
using System.Text;

namespace Sling.Cli;

/// <summary>
/// `sling chat`: an interactive conversation with the model's chat template, streamed, the turns kept
/// in the KV cache. One message per line (end a line with \ to continue it); /reset, /system TEXT,
/// /exit. Ctrl-C stops the current answer. Reads stdin when it is not a terminal, so it can be scripted:
/// answers go to stdout, one per message; notes and speed to stderr.
/// </summary>
internal static class ChatCommand
{
    const string Commands = "/reset (forget the conversation), /system TEXT (set the system message), /exit";

    public static Command Create(TextWriter stdout, TextWriter stderr, TextReader stdin)
    {
        var modelOptions = new ModelOptions();
        var sampling = new SamplingOptions(defaultMaxTokens: 1024, maxTokensHelp: "Maximum tokens per answer");
        var system = new Option<string?>("--system") { Description = "System message that starts the conversation" };
        var quiet = new Option<bool>("--quiet", "-q") { Description = "No speed line after each answer" };
        var command = new Command("chat", "Chat with a model (its own chat template; the conversation stays in the cache)") { system, quiet };
        modelOptions.AddTo(command);
        sampling.AddTo(command);
        command.SetAction(parse =>
        {
            using var model = modelOptions.Load(parse, stderr);
            var options = sampling.Build(parse, model.DefaultOptions, out _);
            var session = model.StartChat(options, parse.GetValue(system));
            session.Notice = note => stderr.WriteLine($"note: {note}");
            if (!model.HasChatTemplate) stderr.WriteLine("note: the model has no chat template; using a plain \"role: text\" format");

            bool terminal = ReferenceEquals(stdin, Console.In) && !Console.IsInputRedirected;
            if (terminal) stderr.WriteLine($"Chatting with {model.Source}. {Commands}. Ctrl-C stops an answer.");
            CancellationTokenSource? answering = null;
            ConsoleCancelEventHandler onCtrlC = (_, e) =>
            {
                if (Volatile.Read(ref answering) is not { } current) return; // at the prompt: Ctrl-C ends the program
                e.Cancel = true;
                current.Cancel();
            };
            if (terminal) Console.CancelKeyPress += onCtrlC;
            using var output = new StreamingOutput(stdout);
            try
            {
                while (!output.Closed)
                {
                    if (terminal) stdout.Write("> ");
                    string? message = ReadMessage(stdin);
                    if (message is null) break;
                    string trimmed = message.Trim();
                    if (trimmed.Length == 0) continue;
                    if (trimmed is "/exit" or "/quit" or "/bye") break;
                    if (trimmed == "/reset")
                    {
                        session.Reset();
                        stderr.WriteLine("note: conversation cleared");
                        continue;
                    }
                    if (trimmed == "/system" || trimmed.StartsWith("/system ", StringComparison.Ordinal))
                    {
                        string text = trimmed["/system".Length..].Trim();
                        session.SetSystem(text.Length == 0 ? null : text);
                        stderr.WriteLine(text.Length == 0 ? "note: system message removed" : "note: system message set");
                        continue;
                    }
                    if (trimmed.StartsWith('/') && !trimmed.StartsWith("//", StringComparison.Ordinal))
                    {
                        stderr.WriteLine($"note: unknown command {trimmed.Split(' ')[0]}; {Commands}");
                        continue;
                    }
                    using var turn = CancellationTokenSource.CreateLinkedTokenSource(output.ReaderGone);
                    Volatile.Write(ref answering, turn);
                    try
                    {
                        var result = session.Send(message, output.Write, turn.Token);
                        output.Write(Environment.NewLine);
                        if (!parse.GetValue(quiet)) stderr.WriteLine(RunCommand.Statistics(result));
                    }
                    finally
                    {
                        Volatile.Write(ref answering, null);
                    }
                }
            }
            finally
            {
                if (terminal) Console.CancelKeyPress -= onCtrlC;
            }
            return 0;
        });
        return command;
    }

    /// <summary>One message: a line, or several when each but the last ends with a backslash.</summary>
    static string? ReadMessage(TextReader input)
    {
        var text = new StringBuilder();
        while (input.ReadLine() is { } line)
        {
            if (!line.EndsWith('\\')) return text.Append(line).ToString();
            text.Append(line, 0, line.Length - 1).Append('\n');
        }
        return text.Length > 0 ? text.ToString() : null;
    }
}
