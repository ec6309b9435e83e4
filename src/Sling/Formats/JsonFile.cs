using System.Text;
using System.Text.Json;

namespace Sling.Formats;

/// <summary>
/// JSON from a model's files, checked before it is trusted: System.Text.Json validates UTF-8 inside
/// strings only when a string is read, so a file is checked as a whole first; every failure is a
/// <see cref="ModelFormatException"/> naming the file.
/// </summary>
internal static class JsonFile
{
    private static readonly UTF8Encoding Strict = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    /// <summary>Throws unless <paramref name="bytes"/> are UTF-8 (<paramref name="what"/> says which part of the file they are).</summary>
    public static void CheckUtf8(string path, ReadOnlySpan<byte> bytes, string what = "")
    {
        try
        {
            Strict.GetCharCount(bytes);
        }
        catch (DecoderFallbackException e)
        {
            throw new ModelFormatException(path, $"{(what.Length > 0 ? what + " " : "")}is not valid UTF-8 (invalid byte at {(what.Length > 0 ? what + " " : "")}offset {e.Index})");
        }
    }

    public static JsonDocument Parse(string path, byte[] bytes, JsonDocumentOptions options = default, string what = "")
    {
        CheckUtf8(path, bytes, what);
        try
        {
            return JsonDocument.Parse(bytes, options);
        }
        catch (JsonException e)
        {
            throw new ModelFormatException(path, $"{(what.Length > 0 ? what + " " : "")}is not valid JSON: {e.Message}");
        }
    }

    public static JsonDocument Read(string path, JsonDocumentOptions options = default) => Parse(path, File.ReadAllBytes(path), options);
}
