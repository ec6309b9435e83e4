using System.CommandLine;
using Sling.Server;

namespace Sling.Cli;

/// <summary>`sling serve`: the OpenAI-compatible server with continuous batching and a chat page.</summary>
internal static class ServeCommand
{
    public static Command Create(TextWriter stdout, TextWriter stderr)
    {
        var modelOptions = new ModelOptions();
        var defaults = new ServerOptions();
        var host = new Option<string>("--host") { Description = "Address to listen on (127.0.0.1 keeps the server on this machine; 0.0.0.0 opens it to the network)", DefaultValueFactory = _ => defaults.Host };
        var port = new Option<int>("--port") { Description = "Port to listen on; 0 picks a free one", DefaultValueFactory = _ => defaults.Port };
        var apiKey = new Option<string?>("--api-key") { Description = "Require Authorization: Bearer KEY on /v1 requests (default: $SLING_API_KEY, else none)" };
        var parallel = new Option<int>("--parallel", "-np") { Description = "Sequences generated at once, batched together", DefaultValueFactory = _ => defaults.Parallel };
        var context = new Option<int>("--context", "-c") { Description = "Positions (prompt + answer) per sequence; the KV cache holds parallel × context", DefaultValueFactory = _ => defaults.Context };
        var queue = new Option<int>("--queue") { Description = "Requests that may wait for a free sequence before the server answers 429", DefaultValueFactory = _ => defaults.QueueLimit };
        var kvBudget = new Option<double?>("--kv-budget") { Description = "MiB of KV cache shared by all sequences in blocks of 32 positions (default: parallel × context)" };
        var hint = new Option<string?>("--hint") { Description = "latency: one sequence at a time, all cores on it; throughput: 8 sequences batched (as OpenVINO's PERFORMANCE_HINT); --parallel overrides" };
        var maxTokens = new Option<int>("--max-tokens-limit") { Description = "Most tokens one request may generate (and the default)", DefaultValueFactory = _ => defaults.MaxTokensLimit };
        var command = new Command("serve", "Serve the model over an OpenAI-compatible HTTP API, with a chat page at /")
        {
            host, port, apiKey, parallel, context, queue, maxTokens, hint, kvBudget,
        };
        modelOptions.AddTo(command);
        command.SetAction(async (parse, cancellationToken) =>
        {
            var options = new ServerOptions
            {
                Host = parse.GetValue(host)!,
                Port = parse.GetValue(port),
                ApiKey = parse.GetValue(apiKey) ?? NullIfEmpty(Environment.GetEnvironmentVariable("SLING_API_KEY")),
                Parallel = parse.GetResult(parallel) is { Implicit: false } ? parse.GetValue(parallel) : parse.GetValue(hint) switch
                {
                    null => parse.GetValue(parallel),
                    "latency" => 1,
                    "throughput" => 8,
                    var other => throw new SlingException($"--hint {other}: expected latency or throughput"),
                },
                Context = parse.GetValue(context),
                QueueLimit = parse.GetValue(queue),
                MaxTokensLimit = parse.GetValue(maxTokens),
                KvBudgetBytes = parse.GetValue(kvBudget) is double mib ? (long)(mib * 1048576) : null,
            };
            if (!System.Net.IPAddress.TryParse(options.Host == "localhost" ? "127.0.0.1" : options.Host, out _))
                throw new SlingException($"--host {options.Host}: expected an IP address such as 127.0.0.1 or 0.0.0.0");
            using var model = modelOptions.Load(parse, stderr);
            await using var server = await SlingServer.StartAsync(model, options, line => stderr.WriteLine(line), cancellationToken);
            stderr.WriteLine($"serving {model.Source} at {server.BaseAddress} (chat page at /, API at /v1) | {options.Parallel} sequences of up to {server.Context} positions, " +
                             $"KV cache {server.CacheBytesWhenFull / 1048576.0:F1} MiB in blocks of 32 | threads {model.Threads}{(options.ApiKey is null ? "" : " | API key required")}");
            stdout.Flush();
            // SIGTERM and Ctrl-C stop the host: running answers end, connections close, exit code 0.
            await server.WaitForShutdownAsync(CancellationToken.None);
            stderr.WriteLine("server stopped");
            return 0;
        });
        return command;
    }

    static string? NullIfEmpty(string? s) => string.IsNullOrEmpty(s) ? null : s;
}
