using System.Text;
using Sling.Formats;
using Sling.Tests.Support;
using Sling.Tokenization;

namespace Sling.Tests.Tokenization;

public class Llama2cTokenizerTests
{
    private static Llama2cTokenizer Build(TempDirectory dir, params (string, float)[] pieces)
    {
        string path = dir.File("tok.bin");
        Llama2cTokenizerWriter.Write(path, Llama2cTokenizerWriter.StandardVocabulary(pieces));
        return Llama2cTokenizer.Load(path);
    }

    private const int First = 259; // id of the first piece after <unk>, <s>, </s> and 256 byte tokens

    [Fact]
    public void MergesTheHighestScoringPairFirstAfterADummyPrefixSpace()
    {
        using var dir = new TempDirectory();
        // ids: " "=259 "a"=260 "b"=261 "c"=262 "ab"=263 "bc"=264 " a"=265 "abc"=266
        var t = Build(dir, (" ", -1), ("a", -1), ("b", -1), ("c", -1), ("ab", 5), ("bc", 10), (" a", 3), ("abc", 1));
        // [" ","a","b","c"] → "bc" (10) → [" ","a","bc"] → " a" (3) beats "abc" (1) → [" a","bc"]
        Assert.Equal(new[] { 1, First + 6, First + 5 }, t.Encode("abc", addBos: true));
        Assert.Equal(new[] { First + 6, First + 5 }, t.Encode("abc", addBos: false));
        Assert.Empty(t.Encode("", addBos: false));
        Assert.Equal(new[] { 1 }, t.Encode("", addBos: true));
    }

    [Fact]
    public void UnknownCharactersFallBackToByteTokensAndDecodeBack()
    {
        using var dir = new TempDirectory();
        var t = Build(dir, (" ", -1), ("a", -1));
        var ids = t.Encode("aé€", addBos: true);
        // " " + "a" do not merge (no " a" token); é = C3 A9, € = E2 82 AC as bytes + 3.
        Assert.Equal(new[] { 1, First, First + 1, 0xC3 + 3, 0xA9 + 3, 0xE2 + 3, 0x82 + 3, 0xAC + 3 }, ids);
        Assert.Equal("aé€", t.Decode(ids.Skip(1), previous: 1));
    }

    [Fact]
    public void DecodingDropsTheLeadingSpaceOnlyRightAfterBos()
    {
        using var dir = new TempDirectory();
        var t = Build(dir, (" a", 0));
        Assert.Equal("a"u8.ToArray(), t.DecodeToken(1, First));
        Assert.Equal(" a"u8.ToArray(), t.DecodeToken(First, First));
        Assert.Equal(new byte[] { 0x0A }, t.DecodeToken(First, 3 + 0x0A));
        Assert.Throws<ArgumentOutOfRangeException>(() => t.DecodeToken(1, 10_000));
    }

    [SharedTheory(SharedData.Stories260KTokenizer)]
    [InlineData("Once upon a time, there was a little girl named Lily.")]
    [InlineData("Tim said: \"Wow!\"\nThen   they ran.")]
    [InlineData("Ünïcödé 日本語 🙂 ok")]
    public void RealVocabularyRoundTripsAndLeavesNoMergeablePair(string text)
    {
        var t = Llama2cTokenizer.Load(SharedData.PathOf(SharedData.Stories260KTokenizer));
        Assert.Equal(512, t.VocabSize);
        var ids = t.Encode(text, addBos: true);
        Assert.Equal(1, ids[0]);
        Assert.Equal(text, t.Decode(ids.Skip(1), previous: 1));
        var file = Llama2cTokenizerFile.Read(SharedData.PathOf(SharedData.Stories260KTokenizer));
        var vocab = file.Tokens.Select(b => Encoding.Latin1.GetString(b)).ToHashSet();
        for (int i = 1; i + 1 < ids.Count; i++)
            Assert.DoesNotContain(Encoding.Latin1.GetString(file.Tokens[ids[i]]) + Encoding.Latin1.GetString(file.Tokens[ids[i + 1]]), vocab);
        if (text.All(char.IsAscii))
            Assert.True(ids.Count < text.Length * 3 / 4, "merging should shorten plain English below one token per character");
    }

    [Theory]
    [InlineData(new byte[] { 1, 0 }, "too short")]
    [InlineData(new byte[] { 0, 0, 0, 0, 0, 0, 0, 0 }, "implausible")]
    public void BrokenHeadersAreRejected(byte[] content, string expected)
    {
        using var dir = new TempDirectory();
        string path = dir.File("tok.bin");
        File.WriteAllBytes(path, content);
        Assert.Contains(expected, Assert.Throws<ModelFormatException>(() => Llama2cTokenizerFile.Read(path)).Message);
    }

    [Fact]
    public void TruncatedOrInconsistentEntriesAreRejected()
    {
        using var dir = new TempDirectory();
        string path = dir.File("tok.bin");
        Llama2cTokenizerWriter.Write(path, Llama2cTokenizerWriter.StandardVocabulary(("hello", 1)));
        var bytes = File.ReadAllBytes(path);
        File.WriteAllBytes(path, bytes[..^3]);
        Assert.Contains("past the end", Assert.Throws<ModelFormatException>(() => Llama2cTokenizerFile.Read(path)).Message);
        File.WriteAllBytes(path, bytes[..^7]);
        Assert.Contains("cut off", Assert.Throws<ModelFormatException>(() => Llama2cTokenizerFile.Read(path)).Message);
        bytes[^9] = 100; // the low byte of the last entry's length: longer than max_token_length
        File.WriteAllBytes(path, bytes);
        Assert.Contains("max_token_length", Assert.Throws<ModelFormatException>(() => Llama2cTokenizerFile.Read(path)).Message);
    }
}
