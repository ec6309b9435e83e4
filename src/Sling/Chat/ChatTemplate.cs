using System.Text.Json;
using Sling.Chat.Jinja;

namespace Sling.Chat;

/// <summary>
/// A model's Jinja chat template, rendered exactly as transformers' <c>apply_chat_template(...,
/// tokenize=False)</c> does: Jinja2 sandbox with <c>trim_blocks</c> and <c>lstrip_blocks</c>, loop
/// controls, <c>raise_exception</c>, <c>tojson</c> (non-ASCII kept) and <c>strftime_now</c>.
/// </summary>
public sealed class ChatTemplate
{
    readonly List<Node> _nodes;

    ChatTemplate(string source, List<Node> nodes)
    {
        Source = source;
        _nodes = nodes;
    }

    /// <summary>The template's text.</summary>
    public string Source { get; }

    /// <summary>Parses a template; a syntax error names its line.</summary>
    public static ChatTemplate Parse(string source)
    {
        try
        {
            return new ChatTemplate(source, TemplateParser.Parse(source));
        }
        catch (TemplateException e)
        {
            throw Wrap(e);
        }
    }

    /// <summary>The template used when a model has none: each turn as <c>role: text</c> on its own line.
    /// An answer follows <c>assistant:</c> exactly as the model wrote it (with its own leading space),
    /// so a conversation's text grows by appending.</summary>
    public static ChatTemplate Fallback { get; } = Parse(
        "{% for message in messages %}{% if message['role'] == 'assistant' %}assistant:{{ message['content'] }}" +
        "{% else %}{{ message['role'] }}: {{ message['content'] }}{% endif %}{{ '\\n' }}{% endfor %}" +
        "{% if add_generation_prompt %}assistant:{% endif %}");

    /// <summary>Renders a conversation into the prompt text the model expects.</summary>
    public string Render(IReadOnlyList<ChatMessage> messages, ChatTemplateOptions? options = null)
    {
        var list = messages.Select(m => (object?)new OrderedDictionary<string, object?> { ["role"] = m.Role, ["content"] = m.Content }).ToList();
        return RenderValue(list, options ?? new ChatTemplateOptions());
    }

    /// <summary>Renders messages given as JSON (an array of objects with <c>role</c>, <c>content</c>
    /// and whatever else the template reads, such as <c>tool_calls</c>).</summary>
    public string Render(JsonElement messages, ChatTemplateOptions? options = null)
    {
        if (messages.ValueKind != JsonValueKind.Array) throw new SlingException("messages must be a JSON array");
        return RenderValue(TemplateValues.FromJson(messages), options ?? new ChatTemplateOptions());
    }

    string RenderValue(object? messages, ChatTemplateOptions options)
    {
        var variables = new Dictionary<string, object?>
        {
            ["raise_exception"] = new TemplateFunction("raise_exception", (args, _) =>
                throw new TemplateException(args.Count > 0 ? TemplateValues.ToStr(args[0]) : "error raised by the template") { Raised = true }),
            ["strftime_now"] = new TemplateFunction("strftime_now", (args, _) =>
                Strftime.Format(options.Clock.GetLocalNow(), args.Count > 0 ? TemplateValues.ToStr(args[0]) : "")),
            ["namespace"] = new TemplateFunction("namespace", (args, kwargs) =>
            {
                var ns = new Namespace();
                foreach (var kv in kwargs) ns.Values[kv.Key] = kv.Value;
                return ns;
            }),
            ["range"] = new TemplateFunction("range", (args, _) => Range(args)),
            ["dict"] = new TemplateFunction("dict", (_, kwargs) =>
            {
                var d = new OrderedDictionary<string, object?>();
                foreach (var kv in kwargs) d[kv.Key] = kv.Value;
                return d;
            }),
        };
        if (options.Variables is not null)
            foreach (var kv in options.Variables) variables[kv.Key] = TemplateValues.FromObject(kv.Value);
        variables["messages"] = messages;
        variables["add_generation_prompt"] = options.AddGenerationPrompt;
        if (options.BosToken is not null) variables["bos_token"] = options.BosToken;
        if (options.EosToken is not null) variables["eos_token"] = options.EosToken;
        try
        {
            return new TemplateRenderer(variables).Render(_nodes);
        }
        catch (TemplateException e)
        {
            throw Wrap(e);
        }
    }

    static List<object?> Range(List<object?> args)
    {
        long start = 0, stop, step = 1;
        if (args.Count == 1) stop = TemplateValues.AsLong(args[0]);
        else if (args.Count >= 2)
        {
            start = TemplateValues.AsLong(args[0]);
            stop = TemplateValues.AsLong(args[1]);
            if (args.Count > 2) step = TemplateValues.AsLong(args[2]);
        }
        else throw new TemplateException("range expected at least 1 argument, got 0");
        if (step == 0) throw new TemplateException("range() arg 3 must not be zero");
        var result = new List<object?>();
        for (long i = start; step > 0 ? i < stop : i > stop; i += step)
        {
            if (result.Count >= 100_000) throw new TemplateException("range too big");
            result.Add(i);
        }
        return result;
    }

    static ChatTemplateException Wrap(TemplateException e) =>
        new(e.Raised || e.Line == 0 ? e.Message : $"{e.Message} (chat template line {e.Line})", e.Line, e.Raised);
}
