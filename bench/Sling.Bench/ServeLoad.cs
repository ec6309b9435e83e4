using System.Diagnostics;
using System.Text;
using System.Text.Json;
using Sling.Server;

namespace Sling.Bench;

/// <summary>
/// Load generator for `sling serve`: starts the server in-process on 127.0.0.1 with the model, then
/// for each client count runs that many clients, each sending streaming chat requests one after
/// another (a bounded number each, within a time limit), and prints aggregate generated tokens/s and
/// the time to first token (p50, p99).
/// </summary>
internal static class ServeLoad
{
    public static async Task RunAsync(string modelPath, int[] clientCounts, int requestsPerClient, int maxTokens, int parallel, int threads, TimeSpan limit)
    {
        using var model = SlingModel.Load(modelPath, new Sling.Models.LoadOptions { Threads = threads });
        await using var server = await SlingServer.StartAsync(model, new ServerOptions
        {
            Host = "127.0.0.1", Port = 0, Parallel = parallel, Context = 1024, QueueLimit = 256,
        });
        using var http = new HttpClient { BaseAddress = server.BaseAddress, Timeout = TimeSpan.FromMinutes(10) };
        Console.WriteLine($"model {modelPath} | server {server.BaseAddress} | parallel {parallel} | {maxTokens} tokens per answer | {requestsPerClient} requests per client | threads {model.Threads}");
        await OneRequest(http, "warm-up", maxTokens, CancellationToken.None);
        double? single = null;
        foreach (int clients in clientCounts)
        {
            using var deadline = new CancellationTokenSource(limit);
            var firstTokens = new List<double>();
            long generated = 0;
            int done = 0;
            var clock = Stopwatch.StartNew();
            await Task.WhenAll(Enumerable.Range(0, clients).Select(async c =>
            {
                for (int r = 0; r < requestsPerClient && !deadline.IsCancellationRequested; r++)
                {
                    var (ttft, tokens) = await OneRequest(http, $"Story {c}-{r}: once upon a time", maxTokens, deadline.Token);
                    lock (firstTokens)
                    {
                        firstTokens.Add(ttft);
                        generated += tokens;
                        done++;
                    }
                }
            }));
            double seconds = clock.Elapsed.TotalSeconds, rate = generated / seconds;
            single ??= rate;
            firstTokens.Sort();
            Console.WriteLine($"{clients,2} clients: {done} requests, {generated} tokens in {seconds:F1} s = {rate:F1} tok/s in all ({rate / single.Value:F2}× one client) | " +
                              $"first token p50 {Percentile(firstTokens, 0.5) * 1000:F0} ms, p99 {Percentile(firstTokens, 0.99) * 1000:F0} ms");
        }
    }

    static double Percentile(List<double> sorted, double p) =>
        sorted.Count == 0 ? double.NaN : sorted[Math.Min(sorted.Count - 1, (int)Math.Ceiling(p * sorted.Count) - 1)];

    static async Task<(double FirstToken, int Tokens)> OneRequest(HttpClient http, string question, int maxTokens, CancellationToken cancellationToken)
    {
        string body = JsonSerializer.Serialize(new
        {
            messages = new[] { new { role = "user", content = question } }, max_tokens = maxTokens, temperature = 0.8, seed = 1,
            stream = true, stream_options = new { include_usage = true },
        });
        var clock = Stopwatch.StartNew();
        using var request = new HttpRequestMessage(HttpMethod.Post, "v1/chat/completions") { Content = new StringContent(body, Encoding.UTF8, "application/json") };
        using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken);
        response.EnsureSuccessStatusCode();
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(cancellationToken));
        double first = double.NaN;
        int tokens = 0;
        while (await reader.ReadLineAsync(cancellationToken) is { } line)
        {
            if (!line.StartsWith("data: ", StringComparison.Ordinal) || line == "data: [DONE]") continue;
            using var chunk = JsonDocument.Parse(line["data: ".Length..]);
            if (chunk.RootElement.TryGetProperty("usage", out var usage) && usage.ValueKind == JsonValueKind.Object)
                tokens = usage.GetProperty("completion_tokens").GetInt32();
            else if (double.IsNaN(first) && chunk.RootElement.GetProperty("choices")[0].GetProperty("delta").TryGetProperty("content", out var c) && c.GetString()!.Length > 0)
                first = clock.Elapsed.TotalSeconds;
        }
        return (first, tokens);
    }
}

/// <summary>The scheduler alone (no HTTP): the same requests straight into the batching loop.</summary>
internal static class SchedulerLoad
{
    public static void Run(string modelPath, int[] counts, int maxTokens, int threads)
    {
        using var model = SlingModel.Load(modelPath, new Sling.Models.LoadOptions { Threads = threads });
        foreach (int n in counts)
        {
            var metrics = new ServerMetrics();
            using var scheduler = new SequenceScheduler(model, new ServerOptions { Parallel = Math.Max(n, 1), Context = 1024, QueueLimit = 256, BatchTokens = 128 }, metrics);
            var requests = Enumerable.Range(0, n).Select(i => new GenerationRequest(
                model.Format.Encode([Sling.Chat.ChatMessage.User($"Story {i}: once upon a time")]),
                model.DefaultOptions with { Temperature = 0.8f, MaxTokens = maxTokens, AddBos = false, Seed = (ulong)i },
                new HashSet<int>(), CancellationToken.None)).ToList();
            var clock = Stopwatch.StartNew();
            foreach (var r in requests) scheduler.TryEnqueue(r);
            Task.WaitAll(requests.Select(r => r.Done.Task).ToArray());
            int generated = requests.Sum(r => r.Done.Task.Result.GeneratedTokens);
            Console.WriteLine($"{n} sequences: {generated} tokens in {clock.Elapsed.TotalSeconds:F1} s = {generated / clock.Elapsed.TotalSeconds:F1} tok/s (prompts included)");
        }
    }
}
