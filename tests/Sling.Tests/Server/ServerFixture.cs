using System.Text;
using System.Text.Json;
using Sling.Server;
using Sling.Tests.Support;

namespace Sling.Tests.Server;

/// <summary>A server on 127.0.0.1 (a free port) with stories260K, and helpers to call it.</summary>
public sealed class RunningServer : IAsyncDisposable
{
    public SlingModel Model { get; }
    public SlingServer Server { get; }
    public HttpClient Http { get; }

    RunningServer(SlingModel model, SlingServer server, HttpClient http)
    {
        Model = model;
        Server = server;
        Http = http;
    }

    public static string ModelPath => SharedData.PathOf(SharedData.Stories260K);

    public static async Task<RunningServer> StartAsync(ServerOptions? options = null, string? modelPath = null)
    {
        var model = SlingModel.Load(modelPath ?? ModelPath);
        var server = await SlingServer.StartAsync(model, (options ?? new ServerOptions()) with { Host = "127.0.0.1", Port = 0 });
        return new RunningServer(model, server, new HttpClient { BaseAddress = server.BaseAddress, Timeout = TimeSpan.FromSeconds(60) });
    }

    public Task<HttpResponseMessage> PostAsync(string path, object body, CancellationToken cancellationToken = default) =>
        Http.PostAsync(path, new StringContent(JsonSerializer.Serialize(body), Encoding.UTF8, "application/json"), cancellationToken);

    public async Task<JsonElement> PostJsonAsync(string path, object body)
    {
        using var response = await PostAsync(path, body);
        string text = await response.Content.ReadAsStringAsync();
        Assert.True(response.IsSuccessStatusCode, $"{(int)response.StatusCode}: {text}");
        return JsonDocument.Parse(text).RootElement.Clone();
    }

    /// <summary>Reads a whole SSE stream, checking every event is `data: JSON` and the last is `data: [DONE]`.</summary>
    public static async Task<List<JsonElement>> ReadEventsAsync(HttpResponseMessage response)
    {
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType?.MediaType);
        string body = await response.Content.ReadAsStringAsync();
        Assert.EndsWith("data: [DONE]\n\n", body);
        var events = body.Split("\n\n", StringSplitOptions.RemoveEmptyEntries);
        var chunks = new List<JsonElement>();
        foreach (string e in events[..^1])
        {
            Assert.StartsWith("data: ", e);
            chunks.Add(JsonDocument.Parse(e["data: ".Length..]).RootElement.Clone());
        }
        return chunks;
    }

    public async ValueTask DisposeAsync()
    {
        Http.Dispose();
        await Server.DisposeAsync();
        Model.Dispose();
    }
}
