using System.Globalization;
using System.Text;
using Sling.Tests.Support;
using Sling.Tokenization;

namespace Sling.Tests.Tokenization;

/// <summary>Every GGUF vocabulary with test vectors against the ids the original Hugging Face tokenizers produced.</summary>
public class GgufTokenizerVectorTests
{
    // The families the product depends on must be present, not merely skipped when missing.
    private static readonly string[] Required = ["gpt-2", "llama-spm", "phi-3", "starcoder", "refact", "deepseek-coder", "bert-bge"];

    public static TheoryData<string, int> Cases()
    {
        var data = new TheoryData<string, int>();
        var names = VocabTestVectors.Names().ToList();
        foreach (var name in names)
        {
            int count = VocabTestVectors.Read(name).Inputs.Count;
            for (int i = 0; i < count; i++) data.Add(name, i);
        }
        if (names.Count == 0) data.Add("(absent)", -1); // skipped by the attribute
        return data;
    }

    [SharedFact(VocabTestVectors.Folder)]
    public void TheRequiredFamiliesHaveVectors()
    {
        var names = VocabTestVectors.Names().ToHashSet();
        Assert.All(Required, r => Assert.Contains(r, names));
        foreach (var name in names)
        {
            var (inputs, expected) = VocabTestVectors.Read(name);
            Assert.Equal(inputs.Count, expected.Count);
            Assert.True(inputs.Count > 30, $"{name}: only {inputs.Count} inputs parsed");
        }
    }

    [SharedTheory(VocabTestVectors.Folder)]
    [MemberData(nameof(Cases))]
    public void EncodesLikeTheOriginalAndDecodesBack(string vocab, int index)
    {
        var (inputs, expected) = VocabTestVectors.Read(vocab);
        var tokenizer = VocabTestVectors.Tokenizer(vocab);
        string input = inputs[index];
        var ids = tokenizer.Encode(input, addBos: false);
        Assert.Equal(expected[index], ids);

        string decoded = tokenizer.Decode(ids);
        if (tokenizer is WordPieceTokenizer wordPiece)
        {
            // BERT lowercases, strips accents and spacing, and maps unknown words to [UNK]: compare what survives.
            if (!ids.Contains(wordPiece.Vocabulary.UnknownId))
                Assert.Equal(string.Concat(wordPiece.Words(input)), decoded.Replace(" ", ""));
        }
        else
        {
            Assert.Equal(input, decoded);
        }
    }
}
