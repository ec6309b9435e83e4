using System.ClientModel;
using System.Net;
using System.Text;
using System.Text.Json;
using OpenAI;
using OpenAI.Chat;
using Sling.Server;
using Sling.Tests.Support;
using static Sling.Tests.Cli.CliRunner;

namespace Sling.Tests.Server;

public class ServerTests
{
    const string Stories = SharedData.Stories260K;
    const string Tokenizer = SharedData.Stories260KTokenizer;

    static string Greedy(SlingModel model, string question, int maxTokens) =>
        model.Chat([Sling.Chat.ChatMessage.User(question)], model.DefaultOptions with { Temperature = 0, MaxTokens = maxTokens }).Text;

    [SharedFact(Stories, Tokenizer)]
    public async Task ACompletionIsWhatSlingRunPrints()
    {
        await using var s = await RunningServer.StartAsync();
        var json = await s.PostJsonAsync("v1/completions", new { prompt = "Once upon a time", max_tokens = 60, temperature = 0 });
        var run = Run("run", "-m", RunningServer.ModelPath, "-p", "Once upon a time", "-t", "0", "-n", "60", "--no-echo");
        Assert.Equal(0, run.ExitCode);
        var choice = json.GetProperty("choices")[0];
        Assert.Equal(run.Stdout.TrimEnd('\n'), choice.GetProperty("text").GetString());
        Assert.Equal("length", choice.GetProperty("finish_reason").GetString());
        Assert.Equal("text_completion", json.GetProperty("object").GetString());
        Assert.Equal(60, json.GetProperty("usage").GetProperty("completion_tokens").GetInt32());
        Assert.Equal(s.Model.Tokenizer.Encode("Once upon a time", true).Count, json.GetProperty("usage").GetProperty("prompt_tokens").GetInt32());
    }

    [SharedFact(Stories, Tokenizer)]
    public async Task TheOfficialOpenAiClientChatsAndStreams()
    {
        await using var s = await RunningServer.StartAsync();
        var client = new ChatClient("stories260K", new ApiKeyCredential("unused"), new OpenAIClientOptions { Endpoint = new Uri(s.Server.BaseAddress, "v1") });
        var options = new ChatCompletionOptions { Temperature = 0, MaxOutputTokenCount = 40 };
        string expected = Greedy(s.Model, "Tell me a story.", 40);

        ChatCompletion completion = await client.CompleteChatAsync([new UserChatMessage("Tell me a story.")], options);
        Assert.Equal(expected, completion.Content[0].Text);
        Assert.Equal(ChatFinishReason.Length, completion.FinishReason);
        Assert.Equal(40, completion.Usage.OutputTokenCount);

        var streamed = new StringBuilder();
        ChatFinishReason? finish = null;
        await foreach (var update in client.CompleteChatStreamingAsync([new UserChatMessage("Tell me a story.")], options))
        {
            foreach (var part in update.ContentUpdate) streamed.Append(part.Text);
            finish ??= update.FinishReason;
        }
        Assert.Equal(expected, streamed.ToString());
        Assert.Equal(ChatFinishReason.Length, finish);
    }

    [SharedFact(Stories, Tokenizer)]
    public async Task EightConcurrentStreamsEachGetTheirOwnGreedyAnswer()
    {
        await using var s = await RunningServer.StartAsync(new ServerOptions { Parallel = 4 });
        string[] questions = ["Once upon a time", "The dog ran", "Lily went to the park", "A little bird", "Tom had a red ball",
            "The sun was hot", "Mom baked a cake", "The big tree"];
        var expected = questions.Select(q => Greedy(s.Model, q, 48)).ToArray();
        var answers = await Task.WhenAll(questions.Select(async q =>
        {
            using var response = await s.PostAsync("v1/chat/completions", new
            {
                messages = new[] { new { role = "user", content = q } }, max_tokens = 48, temperature = 0, stream = true,
                stream_options = new { include_usage = true },
            });
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            var chunks = await RunningServer.ReadEventsAsync(response);
            Assert.Equal("assistant", chunks[0].GetProperty("choices")[0].GetProperty("delta").GetProperty("role").GetString());
            Assert.Single(chunks.Select(c => c.GetProperty("id").GetString()).Distinct());
            Assert.Equal(48, chunks[^1].GetProperty("usage").GetProperty("completion_tokens").GetInt32());
            Assert.Equal("length", chunks[^2].GetProperty("choices")[0].GetProperty("finish_reason").GetString());
            return string.Concat(chunks.SelectMany(c => c.GetProperty("choices").EnumerateArray())
                .Select(ch => ch.GetProperty("delta").TryGetProperty("content", out var t) ? t.GetString() : ""));
        }));
        Assert.Equal(expected, answers);
        Assert.Equal(8, expected.Distinct().Count());
    }

    [SharedFact(Stories, Tokenizer, ChatModels.Phi3Vocab, ChatModels.Phi35Template)]
    public async Task AClientThatDisconnectsFreesItsSequence()
    {
        // A model that writes thousands of tokens when left alone (random weights, 4096 positions, a 32064-token vocabulary).
        using var dir = new TempDirectory();
        await using var s = await RunningServer.StartAsync(new ServerOptions { Parallel = 1, QueueLimit = 0, Context = 4096 },
            ChatModels.WritePhi3Shaped(dir.Path, contextLength: 4096));
        int fullAnswer = s.Model.Generate("Once", s.Model.DefaultOptions with { Temperature = 0, MaxTokens = 4000, ContextLength = 4096 }).GeneratedTokens;
        Assert.True(fullAnswer > 1000, $"the uninterrupted answer has only {fullAnswer} tokens");
        // A raw connection, closed mid-answer (HttpClient would read the rest to reuse the connection).
        // This model writes its whole answer in about a second: where this test's thread is held up that
        // long (a loaded machine), the answer has ended before the busy check and the check is retried.
        long before = 0;
        for (int attempt = 1; ; attempt++)
        {
            before = await GeneratedTokens(s);
            using var socket = new System.Net.Sockets.TcpClient();
            await socket.ConnectAsync(s.Server.BaseAddress.Host, s.Server.BaseAddress.Port);
            var net = socket.GetStream();
            string body = JsonSerializer.Serialize(new { prompt = "Once", max_tokens = 4000, stream = true, temperature = 0 });
            await net.WriteAsync(Encoding.ASCII.GetBytes($"POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {body.Length}\r\n\r\n{body}"));
            var buffer = new byte[4096];
            string received = "";
            while (!received.Contains("data: ")) received += Encoding.UTF8.GetString(buffer, 0, await net.ReadAsync(buffer));
            Assert.StartsWith("HTTP/1.1 200", received);
            // The only sequence is busy: another request is refused.
            using var busy = await s.PostAsync("v1/completions", new { prompt = "Hi", max_tokens = 5 });
            if (busy.StatusCode == HttpStatusCode.TooManyRequests)
            {
                Assert.Contains("rate_limit_error", await busy.Content.ReadAsStringAsync());
                socket.Client.Close(0);
                break;
            }
            // Accepted: right only if the first answer had already ended, its stream read to the end.
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            for (int n; !received.Contains("data: [DONE]") && (n = await net.ReadAsync(buffer, timeout.Token)) > 0;)
                received += Encoding.UTF8.GetString(buffer, 0, n);
            Assert.True(received.Contains("data: [DONE]"), $"a request was accepted ({busy.StatusCode}) while the only sequence was still answering");
            Assert.True(attempt < 3, "the whole answer ended before the busy check three times");
        }
        // The server notices the disconnect, stops that answer early and frees the sequence for the next request.
        for (int i = 0; i < 100 && (await s.Http.GetStringAsync("health")).Contains("\"active\":1"); i++) await Task.Delay(50);
        long generated = await GeneratedTokens(s) - before;
        Assert.True(generated < fullAnswer, $"{generated} tokens generated after the client left (the whole answer is {fullAnswer})");
        var next = await s.PostJsonAsync("v1/completions", new { prompt = "Once upon a time", max_tokens = 10, temperature = 0 });
        Assert.Equal(10, next.GetProperty("usage").GetProperty("completion_tokens").GetInt32());
    }

    private static async Task<long> GeneratedTokens(RunningServer s)
    {
        string metrics = await s.Http.GetStringAsync("metrics");
        return long.Parse(System.Text.RegularExpressions.Regex.Match(metrics, @"sling_generated_tokens_total (\d+)").Groups[1].Value);
    }

    [SharedFact(Stories, Tokenizer)]
    public async Task BadRequestsGetOpenAiStyleErrors()
    {
        await using var s = await RunningServer.StartAsync(new ServerOptions { MaxBodyBytes = 4096, MaxMessages = 4, MaxTokensLimit = 100 });
        async Task<(HttpStatusCode, JsonElement)> Post(string body)
        {
            using var r = await s.Http.PostAsync("v1/chat/completions", new StringContent(body, Encoding.UTF8, "application/json"));
            return (r.StatusCode, JsonDocument.Parse(await r.Content.ReadAsStringAsync()).RootElement.Clone());
        }
        var (status, error) = await Post("{\"messages\": [");
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal("invalid_request_error", error.GetProperty("error").GetProperty("type").GetString());
        (status, _) = await Post("{\"messages\": [{\"role\": \"user\", \"content\": \"" + new string('x', 5000) + "\"}]}");
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, status);
        (status, error) = await Post("{\"messages\": [{\"role\": \"user\", \"content\": \"hi\"}], \"max_tokens\": 101}");
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal("max_tokens", error.GetProperty("error").GetProperty("param").GetString());
        (status, _) = await Post("{\"messages\": [" + string.Join(",", Enumerable.Repeat("{\"role\": \"user\", \"content\": \"hi\"}", 5)) + "]}");
        Assert.Equal(HttpStatusCode.BadRequest, status);
        (status, _) = await Post("{\"messages\": [{\"role\": \"user\", \"content\": \"hi\"}], \"temperature\": 3}");
        Assert.Equal(HttpStatusCode.BadRequest, status);
        (status, _) = await Post("{\"messages\": []}");
        Assert.Equal(HttpStatusCode.BadRequest, status);
        (status, error) = await Post("[1, 2]");
        Assert.Equal(HttpStatusCode.BadRequest, status);
    }

    [SharedFact(Stories, Tokenizer)]
    public async Task AnApiKeyIsRequiredWhenSet()
    {
        await using var s = await RunningServer.StartAsync(new ServerOptions { ApiKey = "sesame" });
        using var missing = await s.PostAsync("v1/completions", new { prompt = "Hi", max_tokens = 2 });
        Assert.Equal(HttpStatusCode.Unauthorized, missing.StatusCode);
        s.Http.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", "wrong");
        using var wrong = await s.PostAsync("v1/completions", new { prompt = "Hi", max_tokens = 2 });
        Assert.Equal(HttpStatusCode.Unauthorized, wrong.StatusCode);
        Assert.Contains("authentication_error", await wrong.Content.ReadAsStringAsync());
        s.Http.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", "sesame");
        using var right = await s.PostAsync("v1/completions", new { prompt = "Hi", max_tokens = 2 });
        Assert.Equal(HttpStatusCode.OK, right.StatusCode);
        s.Http.DefaultRequestHeaders.Authorization = null;
        Assert.Equal(HttpStatusCode.OK, (await s.Http.GetAsync("health")).StatusCode); // outside /v1: open
    }

    [SharedFact(Stories, Tokenizer)]
    public async Task ModelsHealthMetricsAndThePage()
    {
        await using var s = await RunningServer.StartAsync();
        var models = JsonDocument.Parse(await s.Http.GetStringAsync("v1/models")).RootElement;
        Assert.Equal("stories260K.bin", models.GetProperty("data")[0].GetProperty("id").GetString());
        await s.PostJsonAsync("v1/completions", new { prompt = "Once", max_tokens = 7, temperature = 0 });
        string metrics = await s.Http.GetStringAsync("metrics");
        Assert.Contains("sling_requests_total 1\n", metrics);
        Assert.Contains("sling_generated_tokens_total 7\n", metrics);
        Assert.Contains("# TYPE sling_queue_length gauge", metrics);
        var page = await s.Http.GetAsync("");
        Assert.Equal("text/html", page.Content.Headers.ContentType?.MediaType);
        Assert.Contains("/v1/chat/completions", await page.Content.ReadAsStringAsync());
    }

    [SharedFact(Stories, Tokenizer)]
    public async Task StoppingEndsRunningStreamsCleanly()
    {
        await using var s = await RunningServer.StartAsync();
        var request = new HttpRequestMessage(HttpMethod.Post, "v1/chat/completions")
        {
            Content = new StringContent(JsonSerializer.Serialize(new { messages = new[] { new { role = "user", content = "Go on" } }, max_tokens = 4000, stream = true }), Encoding.UTF8, "application/json"),
        };
        using var response = await s.Http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        var reader = new StreamReader(await response.Content.ReadAsStreamAsync());
        Assert.StartsWith("data: ", await reader.ReadLineAsync());
        await s.Server.StopAsync();
        string rest = await reader.ReadToEndAsync();
        Assert.EndsWith("data: [DONE]\n\n", rest);
    }

    [SharedFact(ChatModels.Phi3Vocab, ChatModels.Phi35Template)]
    public async Task StoppingEndsWaitingStreamsCleanlyToo()
    {
        // One sequence at a time: the second request waits in the queue (its stream has sent its first
        // chunk) when the server stops, and still ends with a finish chunk and [DONE]. The random-weight
        // model keeps the first answer going (its end-of-turn token is one of thousands).
        using var dir = new TempDirectory();
        await using var s = await RunningServer.StartAsync(new ServerOptions { Parallel = 1, Context = 4096 }, ChatModels.WritePhi3Shaped(dir.Path, contextLength: 4096));
        HttpRequestMessage Request() => new(HttpMethod.Post, "v1/chat/completions")
        {
            Content = new StringContent(JsonSerializer.Serialize(new { messages = new[] { new { role = "user", content = "Go on" } }, max_tokens = 4000, stream = true }), Encoding.UTF8, "application/json"),
        };
        using var running = await s.Http.SendAsync(Request(), HttpCompletionOption.ResponseHeadersRead);
        var first = new StreamReader(await running.Content.ReadAsStreamAsync());
        Assert.StartsWith("data: ", await first.ReadLineAsync());
        using var waiting = await s.Http.SendAsync(Request(), HttpCompletionOption.ResponseHeadersRead);
        var second = new StreamReader(await waiting.Content.ReadAsStreamAsync());
        Assert.StartsWith("data: ", await second.ReadLineAsync());
        await s.Server.StopAsync();
        Assert.EndsWith("data: [DONE]\n\n", await first.ReadToEndAsync());
        string rest = await second.ReadToEndAsync();
        Assert.EndsWith("data: [DONE]\n\n", rest);
        Assert.Contains("\"finish_reason\":\"stop\"", rest);
    }

    [SharedFact(Stories, Tokenizer)]
    public void ServeStopsWithExitCodeZeroOnSigterm()
    {
        if (!OperatingSystem.IsLinux()) return;
        string cli = Path.Combine(AppContext.BaseDirectory, "Sling.Cli.dll");
        using var process = System.Diagnostics.Process.Start(new System.Diagnostics.ProcessStartInfo("dotnet", $"\"{cli}\" serve -m \"{RunningServer.ModelPath}\" --port 0")
        {
            RedirectStandardError = true, RedirectStandardOutput = true,
        })!;
        string? line = process.StandardError.ReadLine();
        Assert.NotNull(line);
        var match = System.Text.RegularExpressions.Regex.Match(line!, @"at (http://127\.0\.0\.1:\d+/)");
        Assert.True(match.Success, line);
        using var http = new HttpClient { BaseAddress = new Uri(match.Groups[1].Value) };
        Assert.Contains("\"status\":\"ok\"", http.GetStringAsync("health").Result);
        using (var kill = System.Diagnostics.Process.Start("kill", $"-TERM {process.Id}")) kill.WaitForExit();
        Assert.True(process.WaitForExit(15_000), "the server did not stop within 15 s of SIGTERM");
        Assert.Equal(0, process.ExitCode);
        Assert.Contains("server stopped", process.StandardError.ReadToEnd());
    }

    [SharedFact(Stories, Tokenizer)]
    public async Task TheKvBudgetIsSharedInBlocksAndARequestWaitsForBlocks()
    {
        using var probe = SlingModel.Load(RunningServer.ModelPath);
        long block = probe.Loaded.Transformer.CreateBlockPool(32, 1).BlockBytes;
        // 16 blocks = 512 positions in all, for 4 sequences of up to 512 positions each.
        await using var s = await RunningServer.StartAsync(new ServerOptions { Parallel = 4, KvBudgetBytes = 16 * block });
        string metrics = await s.Http.GetStringAsync("metrics");
        Assert.Contains("sling_kv_cache_blocks 16\n", metrics);
        Assert.Contains("sling_kv_cache_blocks_used 0\n", metrics);

        // Four short answers (prompt + 100 tokens = 4 blocks each) fit together; each is the answer it gets alone.
        string[] prompts = ["Once upon a time", "The dog ran", "A little bird", "Tom had a red ball"];
        var expected = prompts.Select(p => s.Model.Generate(p, s.Model.DefaultOptions with { Temperature = 0, MaxTokens = 100 }).Text).ToArray();
        var answers = await Task.WhenAll(prompts.Select(p => s.PostJsonAsync("v1/completions", new { prompt = p, max_tokens = 100, temperature = 0 })));
        Assert.Equal(expected, answers.Select(a => a.GetProperty("choices")[0].GetProperty("text").GetString()).ToArray());

        // Two long ones (13 blocks each) cannot share the budget: the second waits for the first's blocks.
        long Waited(string metrics) => long.Parse(System.Text.RegularExpressions.Regex.Match(metrics, @"sling_requests_waited_for_cache_total (\d+)").Groups[1].Value);
        Assert.Equal(0, Waited(await s.Http.GetStringAsync("metrics"))); // the four short ones all fitted
        var first = s.PostJsonAsync("v1/completions", new { prompt = "Once upon a time", max_tokens = 400, temperature = 0 });
        var second = s.PostJsonAsync("v1/completions", new { prompt = "The dog ran", max_tokens = 400, temperature = 0 });
        var results = await Task.WhenAll(first, second);
        Assert.Equal(1, Waited(await s.Http.GetStringAsync("metrics")));
        Assert.Equal(s.Model.Generate("The dog ran", s.Model.DefaultOptions with { Temperature = 0, MaxTokens = 400 }).Text,
            results[1].GetProperty("choices")[0].GetProperty("text").GetString());
        Assert.Contains("sling_kv_cache_blocks_used 0\n", await s.Http.GetStringAsync("metrics"));
    }

    [SharedFact(Stories, Tokenizer)]
    public async Task AContinuingConversationReusesTheCachedPrefix()
    {
        await using var s = await RunningServer.StartAsync(new ServerOptions { Parallel = 2 });
        var first = new[] { new { role = "user", content = "Once upon a time" } };
        var one = await s.PostJsonAsync("v1/chat/completions", new { messages = first, max_tokens = 30, temperature = 0 });
        string answer = one.GetProperty("choices")[0].GetProperty("message").GetProperty("content").GetString()!;
        int firstPrompt = one.GetProperty("usage").GetProperty("prompt_tokens").GetInt32();

        long Reused(string metrics) => long.Parse(System.Text.RegularExpressions.Regex.Match(metrics, @"sling_prompt_tokens_reused_total (\d+)").Groups[1].Value);
        long before = Reused(await s.Http.GetStringAsync("metrics"));
        var conversation = new[]
        {
            new { role = "user", content = "Once upon a time" },
            new { role = "assistant", content = answer },
            new { role = "user", content = "What happened next?" },
        };
        var two = await s.PostJsonAsync("v1/chat/completions", new { messages = conversation, max_tokens = 30, temperature = 0 });
        long reused = Reused(await s.Http.GetStringAsync("metrics")) - before;
        // At least the first prompt's keys and values were still in the slot and not computed again.
        Assert.True(reused >= firstPrompt, $"{reused} prompt tokens reused, the first prompt had {firstPrompt}");
        // And the answer is what the model gives the whole conversation from scratch.
        var expected = s.Model.Chat(conversation.Select(m => new Sling.Chat.ChatMessage(m.role, m.content)).ToList(),
            s.Model.DefaultOptions with { Temperature = 0, MaxTokens = 30 }).Text;
        Assert.Equal(expected, two.GetProperty("choices")[0].GetProperty("message").GetProperty("content").GetString());
    }
}
