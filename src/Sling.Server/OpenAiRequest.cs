using System.Text.Json;
using Sling.Chat;
using Sling.Generation;

namespace Sling.Server;

/// <summary>A request the server refuses, with the HTTP status and the OpenAI-style error it answers with.</summary>
internal sealed class RequestException(int status, string message, string? param = null, string type = "invalid_request_error") : Exception(message)
{
    public int Status { get; } = status;
    public string? Param { get; } = param;
    public string Type { get; } = type;
}

/// <summary>The parts of an OpenAI chat or text completion request Sling understands, validated.</summary>
internal sealed record OpenAiRequest(IReadOnlyList<ChatMessage>? Messages, string? Prompt, bool Stream, bool IncludeUsage,
    float? Temperature, float? TopP, int? TopK, int? MaxTokens, IReadOnlyList<string> Stop, long? Seed, float? PresencePenalty, float? FrequencyPenalty)
{
    public static OpenAiRequest Parse(JsonElement root, bool chat, ServerOptions limits)
    {
        if (root.ValueKind != JsonValueKind.Object) throw new RequestException(400, "the request body must be a JSON object");
        IReadOnlyList<ChatMessage>? messages = null;
        string? prompt = null;
        if (chat) messages = ReadMessages(root, limits);
        else prompt = ReadPrompt(root);
        if (root.TryGetProperty("n", out var n) && !(n.ValueKind == JsonValueKind.Number && n.TryGetInt32(out int count) && count == 1))
            throw new RequestException(400, "only n = 1 is supported", "n");
        bool stream = Bool(root, "stream") ?? false;
        bool includeUsage = root.TryGetProperty("stream_options", out var so) && so.ValueKind == JsonValueKind.Object && (Bool(so, "include_usage") ?? false);
        int? maxTokens = Int(root, chat ? "max_completion_tokens" : "max_tokens") ?? Int(root, "max_tokens");
        if (maxTokens is < 1) throw new RequestException(400, $"max_tokens must be 1 or more (got {maxTokens})", "max_tokens");
        if (maxTokens > limits.MaxTokensLimit) throw new RequestException(400, $"max_tokens is at most {limits.MaxTokensLimit} here (got {maxTokens})", "max_tokens");
        var temperature = Float(root, "temperature", 0, 2);
        var topP = Float(root, "top_p", 0, 1);
        if (topP == 0) throw new RequestException(400, "top_p must be greater than 0", "top_p");
        int? topK = Int(root, "top_k");
        if (topK is < 0) throw new RequestException(400, "top_k must be 0 or more", "top_k");
        return new OpenAiRequest(messages, prompt, stream, includeUsage, temperature, topP, topK, maxTokens, ReadStop(root),
            Long(root, "seed"), Float(root, "presence_penalty", -2, 2), Float(root, "frequency_penalty", -2, 2));
    }

    /// <summary>The sampling settings: the request's values over the model's defaults.</summary>
    public GenerationOptions Options(GenerationOptions defaults, int maxTokens) => defaults with
    {
        Temperature = Temperature ?? defaults.Temperature,
        TopP = TopP ?? defaults.TopP,
        TopK = TopK ?? defaults.TopK,
        MaxTokens = maxTokens,
        StopStrings = Stop,
        Seed = Seed is long s ? unchecked((ulong)s) : (ulong)Random.Shared.NextInt64(),
        PresencePenalty = PresencePenalty ?? 0,
        FrequencyPenalty = FrequencyPenalty ?? 0,
    };

    static IReadOnlyList<ChatMessage> ReadMessages(JsonElement root, ServerOptions limits)
    {
        if (!root.TryGetProperty("messages", out var list) || list.ValueKind != JsonValueKind.Array)
            throw new RequestException(400, "messages must be an array of {role, content}", "messages");
        int count = list.GetArrayLength();
        if (count == 0) throw new RequestException(400, "messages is empty", "messages");
        if (count > limits.MaxMessages) throw new RequestException(400, $"at most {limits.MaxMessages} messages per request (got {count})", "messages");
        var messages = new List<ChatMessage>(count);
        foreach (var m in list.EnumerateArray())
        {
            if (m.ValueKind != JsonValueKind.Object || !m.TryGetProperty("role", out var role) || role.ValueKind != JsonValueKind.String)
                throw new RequestException(400, "each message needs a string role", "messages");
            string r = role.GetString()!;
            if (r == "developer") r = "system"; // OpenAI's newer name for the system message
            messages.Add(new ChatMessage(r, Content(m)));
        }
        return messages;
    }

    /// <summary>A message's text: a string, or an array of parts whose text parts are joined.</summary>
    static string Content(JsonElement message)
    {
        if (!message.TryGetProperty("content", out var content) || content.ValueKind == JsonValueKind.Null) return "";
        if (content.ValueKind == JsonValueKind.String) return content.GetString()!;
        if (content.ValueKind == JsonValueKind.Array)
        {
            var parts = new List<string>();
            foreach (var part in content.EnumerateArray())
            {
                if (part.ValueKind != JsonValueKind.Object || !part.TryGetProperty("type", out var type) || type.GetString() != "text"
                    || !part.TryGetProperty("text", out var text) || text.ValueKind != JsonValueKind.String)
                    throw new RequestException(400, "only text content parts are supported", "messages");
                parts.Add(text.GetString()!);
            }
            return string.Concat(parts);
        }
        throw new RequestException(400, "message content must be a string or an array of text parts", "messages");
    }

    static string ReadPrompt(JsonElement root)
    {
        if (!root.TryGetProperty("prompt", out var p)) throw new RequestException(400, "prompt is required", "prompt");
        if (p.ValueKind == JsonValueKind.String) return p.GetString()!;
        if (p.ValueKind == JsonValueKind.Array && p.GetArrayLength() == 1 && p[0].ValueKind == JsonValueKind.String) return p[0].GetString()!;
        throw new RequestException(400, "prompt must be a string (or an array of one string)", "prompt");
    }

    static IReadOnlyList<string> ReadStop(JsonElement root)
    {
        if (!root.TryGetProperty("stop", out var stop) || stop.ValueKind == JsonValueKind.Null) return [];
        if (stop.ValueKind == JsonValueKind.String) return Nonempty([stop.GetString()!]);
        if (stop.ValueKind == JsonValueKind.Array && stop.GetArrayLength() <= 4 && stop.EnumerateArray().All(s => s.ValueKind == JsonValueKind.String))
            return Nonempty(stop.EnumerateArray().Select(s => s.GetString()!).ToList());
        throw new RequestException(400, "stop must be a string or an array of up to 4 strings", "stop");
    }

    static IReadOnlyList<string> Nonempty(IReadOnlyList<string> stops) =>
        stops.Any(s => s.Length == 0) ? throw new RequestException(400, "stop strings must not be empty", "stop") : stops;

    static bool? Bool(JsonElement o, string name) => !o.TryGetProperty(name, out var v) || v.ValueKind == JsonValueKind.Null ? null
        : v.ValueKind is JsonValueKind.True or JsonValueKind.False ? v.GetBoolean()
        : throw new RequestException(400, $"{name} must be true or false", name);

    static int? Int(JsonElement o, string name) => !o.TryGetProperty(name, out var v) || v.ValueKind == JsonValueKind.Null ? null
        : v.ValueKind == JsonValueKind.Number && v.TryGetInt32(out int i) ? i
        : throw new RequestException(400, $"{name} must be a whole number", name);

    static long? Long(JsonElement o, string name) => !o.TryGetProperty(name, out var v) || v.ValueKind == JsonValueKind.Null ? null
        : v.ValueKind == JsonValueKind.Number && v.TryGetInt64(out long i) ? i
        : throw new RequestException(400, $"{name} must be a whole number", name);

    static float? Float(JsonElement o, string name, float min, float max)
    {
        if (!o.TryGetProperty(name, out var v) || v.ValueKind == JsonValueKind.Null) return null;
        if (v.ValueKind != JsonValueKind.Number || !v.TryGetDouble(out double d) || d < min || d > max)
            throw new RequestException(400, $"{name} must be a number in [{min}, {max}]", name);
        return (float)d;
    }
}
