using System.Text.Json;
using Sling.Tests.Support;

namespace Sling.Tests.Chat;

/// <summary>The 68 reference renderings in ../shared/chat-templates/expected.json (Python Jinja2 set up as transformers does).</summary>
public static class ChatTemplateCases
{
    public const string Expected = "chat-templates/expected.json";

    /// <summary>The reference renderer's strftime_now answered with this date.</summary>
    public static readonly DateTimeOffset ReferenceDate = new(2026, 11, 24, 12, 0, 0, TimeSpan.Zero);

    public sealed record Case(string Template, string Conversation, JsonElement Messages, bool AddGenerationPrompt,
        string BosToken, string EosToken, string? ExpectedText, string? ExpectedError)
    {
        public string TemplatePath => SharedData.PathOf(Path.Combine("chat-templates", Template));
    }

    public static IReadOnlyList<Case> Load()
    {
        using var doc = JsonDocument.Parse(File.ReadAllBytes(SharedData.PathOf(Expected)));
        return doc.RootElement.EnumerateArray().Select(c => new Case(
            c.GetProperty("template").GetString()!,
            c.GetProperty("conversation").GetString()!,
            c.GetProperty("messages").Clone(),
            c.GetProperty("add_generation_prompt").GetBoolean(),
            c.GetProperty("bos_token").GetString()!,
            c.GetProperty("eos_token").GetString()!,
            c.GetProperty("expected").ValueKind == JsonValueKind.String ? c.GetProperty("expected").GetString() : null,
            c.GetProperty("expected_error").ValueKind == JsonValueKind.String ? c.GetProperty("expected_error").GetString() : null)).ToList();
    }

    /// <summary>Case indexes for a theory (one placeholder when the data is absent; the theory then skips).</summary>
    public static IEnumerable<object[]> Indexes() =>
        (SharedData.Has(Expected) ? Enumerable.Range(0, Load().Count) : [0]).Select(i => new object[] { i });

    public sealed class FixedClock(DateTimeOffset now) : TimeProvider
    {
        public override DateTimeOffset GetUtcNow() => now;
        public override TimeZoneInfo LocalTimeZone => TimeZoneInfo.Utc;
    }
}
