using System.Text.Json;

namespace Sling.Formats;

/// <summary>
/// A Hugging Face config.json, with typed accessors whose errors name the file and the field.
/// </summary>
public sealed class HuggingFaceConfig
{
    private readonly JsonElement _root;

    private HuggingFaceConfig(string path, JsonElement root)
    {
        Path = path;
        _root = root;
    }

    public string Path { get; }
    public JsonElement Root => _root;

    public static HuggingFaceConfig Read(string path)
    {
        if (!File.Exists(path)) throw new SlingException($"{path}: file not found (a Hugging Face model folder needs config.json)");
        using var doc = JsonFile.Read(path, new JsonDocumentOptions { AllowTrailingCommas = true });
        if (doc.RootElement.ValueKind != JsonValueKind.Object) throw new ModelFormatException(path, "is not a JSON object");
        return new HuggingFaceConfig(path, doc.RootElement.Clone());
    }

    public static HuggingFaceConfig FromJson(string path, string json)
    {
        using var doc = JsonDocument.Parse(json);
        return new HuggingFaceConfig(path, doc.RootElement.Clone());
    }

    public ModelFormatException Error(string field, string problem) => new(Path, $"field '{field}' {problem}");

    public bool Has(string field) => _root.TryGetProperty(field, out var v) && v.ValueKind != JsonValueKind.Null;

    private JsonElement Required(string field)
        => _root.TryGetProperty(field, out var v) && v.ValueKind != JsonValueKind.Null ? v : throw new ModelFormatException(Path, $"missing field '{field}'");

    public int Int(string field)
    {
        var v = Required(field);
        if (v.ValueKind != JsonValueKind.Number || !v.TryGetInt32(out int i)) throw Error(field, $"must be an integer (got {v.GetRawText()})");
        return i;
    }

    public int Int(string field, int fallback) => Has(field) ? Int(field) : fallback;

    public double Double(string field)
    {
        var v = Required(field);
        if (v.ValueKind != JsonValueKind.Number) throw Error(field, $"must be a number (got {v.GetRawText()})");
        return v.GetDouble();
    }

    public double Double(string field, double fallback) => Has(field) ? Double(field) : fallback;

    public bool Bool(string field, bool fallback)
    {
        if (!Has(field)) return fallback;
        var v = Required(field);
        return v.ValueKind switch
        {
            JsonValueKind.True => true,
            JsonValueKind.False => false,
            _ => throw Error(field, $"must be true or false (got {v.GetRawText()})"),
        };
    }

    public string? String(string field)
    {
        if (!Has(field)) return null;
        var v = Required(field);
        return v.ValueKind == JsonValueKind.String ? v.GetString() : throw Error(field, $"must be a string (got {v.GetRawText()})");
    }

    /// <summary>An integer or a list of integers (e.g. eos_token_id).</summary>
    public int[] Ints(string field)
    {
        if (!Has(field)) return [];
        var v = Required(field);
        if (v.ValueKind == JsonValueKind.Number && v.TryGetInt32(out int single)) return [single];
        if (v.ValueKind == JsonValueKind.Array)
            return v.EnumerateArray().Select(e => e.ValueKind == JsonValueKind.Number && e.TryGetInt32(out int i)
                ? i : throw Error(field, $"must hold integers (got {e.GetRawText()})")).ToArray();
        throw Error(field, $"must be an integer or a list of integers (got {v.GetRawText()})");
    }

    public HuggingFaceConfig? Object(string field)
    {
        if (!Has(field)) return null;
        var v = Required(field);
        return v.ValueKind == JsonValueKind.Object
            ? new HuggingFaceConfig($"{Path} ({field})", v)
            : throw Error(field, $"must be an object (got {v.GetRawText()})");
    }

    /// <summary>The first entry of "architectures", or null.</summary>
    public string? Architecture()
    {
        if (!_root.TryGetProperty("architectures", out var a) || a.ValueKind != JsonValueKind.Array || a.GetArrayLength() == 0) return null;
        return a[0].ValueKind == JsonValueKind.String ? a[0].GetString() : null;
    }
}
