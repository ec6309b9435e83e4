using System.Text.RegularExpressions;

namespace Sling.Hub;

/// <summary>
/// A Hugging Face Hub model id: <c>org/name</c>, optionally <c>:QUANT</c> (which GGUF file of the
/// repository, as llama.cpp's <c>-hf</c> takes it, e.g. <c>:Q4_0</c>) and <c>@revision</c> (branch, tag or commit).
/// </summary>
public sealed partial record HubModelId(string Repository, string Revision, string? Quant = null)
{
    [GeneratedRegex(@"^(?<repo>[A-Za-z0-9][A-Za-z0-9_.\-]*/[A-Za-z0-9][A-Za-z0-9_.\-]*)(:(?<quant>[A-Za-z0-9_.\-]+))?(@(?<rev>[A-Za-z0-9_.\-/]+))?$")]
    private static partial Regex Pattern();

    /// <summary>True when <paramref name="text"/> has the form of a model id and names no local file or folder.</summary>
    public static bool TryParse(string text, out HubModelId id)
    {
        id = null!;
        if (File.Exists(text) || Directory.Exists(text) || Path.IsPathRooted(text) || text.StartsWith('.')) return false;
        // "models/foo.gguf" with a local "models" folder is a local path that does not exist, not a model id.
        int slash = text.IndexOf('/');
        if (slash > 0 && Directory.Exists(text[..slash])) return false;
        var m = Pattern().Match(text);
        if (!m.Success || m.Groups["repo"].Value.Contains("..", StringComparison.Ordinal)) return false;
        id = new HubModelId(m.Groups["repo"].Value, m.Groups["rev"].Success ? m.Groups["rev"].Value : "main",
            m.Groups["quant"].Success ? m.Groups["quant"].Value : null);
        return true;
    }

    /// <summary>The cache folder name Python's huggingface_hub uses: <c>models--org--name</c>.</summary>
    public string CacheFolderName => "models--" + Repository.Replace("/", "--", StringComparison.Ordinal);

    public override string ToString() => Repository + (Quant is null ? "" : ":" + Quant) + (Revision == "main" ? "" : "@" + Revision);
}
