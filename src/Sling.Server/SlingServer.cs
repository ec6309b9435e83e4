using System.Reflection;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Sling.Chat;
using Sling.Generation;

namespace Sling.Server;

/// <summary>
/// An OpenAI-compatible HTTP server for one model: <c>POST /v1/chat/completions</c>,
/// <c>POST /v1/completions</c> (streaming as server-sent events or whole), <c>GET /v1/models</c>,
/// <c>/health</c>, <c>/metrics</c>, and a chat page at <c>/</c>. Concurrent requests are batched
/// through the model together (<see cref="SequenceScheduler"/>).
/// </summary>
public sealed class SlingServer : IAsyncDisposable
{
    static readonly JsonSerializerOptions Json = new() { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    readonly WebApplication _app;
    readonly SlingModel _model;
    readonly ServerOptions _options;
    readonly SequenceScheduler _scheduler;
    readonly ServerMetrics _metrics = new();
    readonly string _modelName;
    readonly HashSet<int> _completionStops, _chatStops;

    SlingServer(SlingModel model, ServerOptions options, Action<string>? log)
    {
        options.Validate();
        _model = model;
        _options = options;
        _modelName = options.ModelName ?? Path.GetFileName(Path.TrimEndingDirectorySeparator(Path.GetFullPath(model.Source)));
        _completionStops = [.. model.Loaded.StopTokens];
        _chatStops = [.. model.Loaded.StopTokens, .. model.Format.EndOfTurnTokens];
        _scheduler = new SequenceScheduler(model, options, _metrics);

        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        if (log is not null) builder.Logging.AddProvider(new LineLoggerProvider(log)).SetMinimumLevel(LogLevel.Warning);
        builder.WebHost.ConfigureKestrel(k =>
        {
            k.Limits.MaxRequestBodySize = options.MaxBodyBytes;
            k.Listen(System.Net.IPAddress.Parse(options.Host == "localhost" ? "127.0.0.1" : options.Host), options.Port);
        });
        builder.Services.Configure<HostOptions>(h => h.ShutdownTimeout = TimeSpan.FromSeconds(10));
        _app = builder.Build();
        _app.Use(Authorize);
        _app.MapGet("/", Page);
        _app.MapGet("/health", () => Results.Json(new { status = "ok", model = _modelName, parallel = options.Parallel, active = _scheduler.Active, queued = _scheduler.Queued }));
        _app.MapGet("/metrics", () => Results.Text(_metrics.Render(_scheduler.Queued, _scheduler.Active, options.Parallel, _scheduler.CacheBlocksInUse, _scheduler.CacheBlocksKept, _scheduler.CacheBlocks), "text/plain; version=0.0.4"));
        _app.MapGet("/v1/models", () => Results.Json(new
        {
            @object = "list",
            data = new[] { new { id = _modelName, @object = "model", created = Created, owned_by = "sling" } },
        }));
        _app.MapPost("/v1/chat/completions", (HttpContext c) => Complete(c, chat: true));
        _app.MapPost("/v1/completions", (HttpContext c) => Complete(c, chat: false));
        _app.Lifetime.ApplicationStopping.Register(_scheduler.Stop);
    }

    static readonly long Created = DateTimeOffset.UtcNow.ToUnixTimeSeconds();

    /// <summary>Starts listening; returns once the server accepts connections.</summary>
    public static async Task<SlingServer> StartAsync(SlingModel model, ServerOptions options, Action<string>? log = null, CancellationToken cancellationToken = default)
    {
        var server = new SlingServer(model, options, log);
        try
        {
            await server._app.StartAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (IOException e)
        {
            await server.DisposeAsync().ConfigureAwait(false);
            throw new SlingException($"cannot listen on {options.Host}:{options.Port}: {e.Message}");
        }
        return server;
    }

    /// <summary>Where the server listens, e.g. http://127.0.0.1:8080/.</summary>
    public Uri BaseAddress => new(_app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First() + "/");

    /// <summary>Bytes of KV cache when every sequence slot is full.</summary>
    public long CacheBytesWhenFull => _scheduler.CacheBytesWhenFull;

    /// <summary>Positions each sequence may hold.</summary>
    public int Context => _scheduler.Context;

    /// <summary>Completes when the host stops (SIGTERM, Ctrl-C, or <see cref="StopAsync"/>).</summary>
    public Task WaitForShutdownAsync(CancellationToken cancellationToken = default) => _app.WaitForShutdownAsync(cancellationToken);

    /// <summary>Stops taking requests, ends running answers, closes connections.</summary>
    public Task StopAsync() => _app.StopAsync();

    public async ValueTask DisposeAsync()
    {
        await _app.DisposeAsync().ConfigureAwait(false);
        _scheduler.Dispose();
    }

    async Task Authorize(HttpContext context, Func<Task> next)
    {
        if (_options.ApiKey is { } key && context.Request.Path.StartsWithSegments("/v1"))
        {
            string header = context.Request.Headers.Authorization.ToString();
            if (!header.StartsWith("Bearer ", StringComparison.Ordinal) || !FixedTimeEquals(header["Bearer ".Length..].Trim(), key))
            {
                await Error(context, new RequestException(401, "missing or wrong API key (Authorization: Bearer KEY)", type: "authentication_error")).ConfigureAwait(false);
                return;
            }
        }
        await next().ConfigureAwait(false);
    }

    static bool FixedTimeEquals(string a, string b) =>
        System.Security.Cryptography.CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(a), Encoding.UTF8.GetBytes(b));

    static IResult Page()
    {
        using var stream = Assembly.GetExecutingAssembly().GetManifestResourceStream("Sling.Server.index.html")!;
        using var reader = new StreamReader(stream);
        return Results.Content(reader.ReadToEnd(), "text/html; charset=utf-8");
    }

    static Task Error(HttpContext context, RequestException e)
    {
        context.Response.StatusCode = e.Status;
        if (e.Status == 429) context.Response.Headers.RetryAfter = "1";
        return context.Response.WriteAsJsonAsync(new { error = new { message = e.Message, type = e.Type, param = e.Param, code = (string?)null } }, Json);
    }

    async Task Complete(HttpContext context, bool chat)
    {
        _metrics.Request();
        OpenAiRequest request;
        IReadOnlyList<int> prompt;
        try
        {
            JsonDocument document;
            try
            {
                document = await JsonDocument.ParseAsync(context.Request.Body, default, context.RequestAborted).ConfigureAwait(false);
            }
            catch (JsonException e)
            {
                throw new RequestException(400, $"the body is not valid JSON: {e.Message}");
            }
            catch (BadHttpRequestException e) when (e.StatusCode == StatusCodes.Status413PayloadTooLarge)
            {
                throw new RequestException(413, $"the body is larger than {_options.MaxBodyBytes} bytes");
            }
            using (document)
            {
                request = OpenAiRequest.Parse(document.RootElement, chat, _options);
            }
            prompt = chat ? ChatPrompt(request.Messages!) : _model.Tokenizer.Encode(request.Prompt!, addBos: true);
            if (prompt.Count == 0) throw new RequestException(400, "the prompt is empty", chat ? "messages" : "prompt");
            if (prompt.Count >= _scheduler.Context)
                throw new RequestException(400, $"the prompt is {prompt.Count} tokens; a sequence holds {_scheduler.Context} here", chat ? "messages" : "prompt");
        }
        catch (RequestException e)
        {
            await Error(context, e).ConfigureAwait(false);
            return;
        }

        int room = _scheduler.Context - prompt.Count;
        var options = request.Options(_model.DefaultOptions, Math.Min(request.MaxTokens ?? _options.MaxTokensLimit, room));
        if (chat) options = options with { AddBos = false, StopStrings = [.. options.StopStrings, .. _model.Format.StopStrings] };
        var work = new GenerationRequest(prompt, options, chat ? _chatStops : _completionStops, context.RequestAborted);
        if (!_scheduler.TryEnqueue(work))
        {
            _metrics.Rejected();
            await Error(context, new RequestException(429, $"the server is busy ({_scheduler.Queued} requests waiting); try again", type: "rate_limit_error")).ConfigureAwait(false);
            return;
        }
        string id = (chat ? "chatcmpl-" : "cmpl-") + Guid.NewGuid().ToString("N");
        try
        {
            if (request.Stream) await Stream(context, work, id, chat, request.IncludeUsage).ConfigureAwait(false);
            else await Whole(context, work, id, chat).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (context.RequestAborted.IsCancellationRequested)
        {
            // The client went away; the scheduler has dropped its sequence.
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            _metrics.Error();
            if (!context.Response.HasStarted)
                await Error(context, new RequestException(500, $"generation failed: {e.Message}", type: "server_error")).ConfigureAwait(false);
        }
    }

    IReadOnlyList<int> ChatPrompt(IReadOnlyList<ChatMessage> messages)
    {
        try
        {
            return _model.Format.Encode(messages);
        }
        catch (ChatTemplateException e)
        {
            throw new RequestException(400, $"the model's chat template refused the messages: {e.Message}", "messages");
        }
    }

    /// <summary>A streamed chat delta: the role first, then content pieces, then nothing (with the finish reason).</summary>
    static Dictionary<string, string> Delta(string? text, bool first) =>
        first ? new() { ["role"] = "assistant", ["content"] = "" } : text is null ? new() : new() { ["content"] = text };

    static string Finish(StopReason reason) => reason is StopReason.MaxTokens or StopReason.ContextFull ? "length" : "stop";

    static object Usage(RequestOutcome o) => new { prompt_tokens = o.PromptTokens, completion_tokens = o.GeneratedTokens, total_tokens = o.PromptTokens + o.GeneratedTokens };

    async Task Whole(HttpContext context, GenerationRequest work, string id, bool chat)
    {
        var outcome = await work.Done.Task.WaitAsync(context.RequestAborted).ConfigureAwait(false);
        object choice = chat
            ? new { index = 0, message = new { role = "assistant", content = outcome.Text }, logprobs = (object?)null, finish_reason = Finish(outcome.Reason) }
            : new { index = 0, text = outcome.Text, logprobs = (object?)null, finish_reason = Finish(outcome.Reason) };
        await context.Response.WriteAsJsonAsync(new
        {
            id, @object = chat ? "chat.completion" : "text_completion", created = DateTimeOffset.UtcNow.ToUnixTimeSeconds(), model = _modelName,
            choices = new[] { choice }, usage = Usage(outcome),
        }, Json, context.RequestAborted).ConfigureAwait(false);
    }

    async Task Stream(HttpContext context, GenerationRequest work, string id, bool chat, bool includeUsage)
    {
        var response = context.Response;
        response.ContentType = "text/event-stream";
        response.Headers.CacheControl = "no-cache";
        response.Headers["X-Accel-Buffering"] = "no";
        long created = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        var token = context.RequestAborted;

        async Task Send(object data)
        {
            await response.WriteAsync("data: " + JsonSerializer.Serialize(data, Json) + "\n\n", token).ConfigureAwait(false);
            await response.Body.FlushAsync(token).ConfigureAwait(false);
        }
        object Chunk(string? text, string? finish, bool first = false) => chat
            ? new
            {
                id, @object = "chat.completion.chunk", created, model = _modelName,
                choices = new[] { new { index = 0, delta = Delta(text, first), logprobs = (object?)null, finish_reason = finish } },
            }
            : new { id, @object = "text_completion", created, model = _modelName, choices = new[] { new { index = 0, text = text ?? "", logprobs = (object?)null, finish_reason = finish } } };

        await response.StartAsync(token).ConfigureAwait(false);
        if (chat) await Send(Chunk(null, null, first: true)).ConfigureAwait(false);
        await foreach (var piece in work.Text.Reader.ReadAllAsync(token).ConfigureAwait(false))
            await Send(Chunk(piece, null)).ConfigureAwait(false);
        var outcome = await work.Done.Task.WaitAsync(token).ConfigureAwait(false);
        await Send(Chunk(chat ? null : "", Finish(outcome.Reason))).ConfigureAwait(false);
        if (includeUsage)
            await Send(new { id, @object = chat ? "chat.completion.chunk" : "text_completion", created, model = _modelName, choices = Array.Empty<object>(), usage = Usage(outcome) }).ConfigureAwait(false);
        await response.WriteAsync("data: [DONE]\n\n", token).ConfigureAwait(false);
        await response.Body.FlushAsync(token).ConfigureAwait(false);
    }
}
