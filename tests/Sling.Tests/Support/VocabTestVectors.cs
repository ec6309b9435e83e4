using System.Collections.Concurrent;
using Sling.Tokenization;

namespace Sling.Tests.Support;

/// <summary>
/// llama.cpp's tokenizer test vectors: NAME.gguf.inp holds inputs, each followed by a line
/// "__ggml_vocab_test__"; NAME.gguf.out holds per input the ids the original tokenizer produced.
/// </summary>
public static class VocabTestVectors
{
    public const string Folder = "tokenizers/llama.cpp-vocab";
    private static readonly ConcurrentDictionary<string, ITokenizer> Tokenizers = new();

    public static string PathOf(string name) => SharedData.PathOf($"{Folder}/ggml-vocab-{name}.gguf");

    /// <summary>Vocabularies that have a GGUF file and both vector files.</summary>
    public static IEnumerable<string> Names()
    {
        if (!SharedData.Has(Folder)) return [];
        return Directory.GetFiles(SharedData.PathOf(Folder), "ggml-vocab-*.gguf")
            .Where(f => File.Exists(f + ".inp") && File.Exists(f + ".out"))
            .Select(f => Path.GetFileName(f)["ggml-vocab-".Length..^".gguf".Length])
            .Order(StringComparer.Ordinal);
    }

    public static (List<string> Inputs, List<int[]> Expected) Read(string name)
    {
        string raw = File.ReadAllText(PathOf(name) + ".inp");
        const string separator = "\n__ggml_vocab_test__\n";
        var inputs = new List<string>();
        for (int at; (at = raw.IndexOf(separator, StringComparison.Ordinal)) >= 0; raw = raw[(at + separator.Length)..])
            inputs.Add(raw[..at]);
        var expected = File.ReadAllLines(PathOf(name) + ".out")
            .Select(l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries).Select(int.Parse).ToArray()).ToList();
        return (inputs, expected);
    }

    public static ITokenizer Tokenizer(string name) => Tokenizers.GetOrAdd(name, n => GgufTokenizer.Load(PathOf(n)));
}
