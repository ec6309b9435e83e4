using System.Text;
using Sling.Tokenization;

namespace Sling.Tests.Tokenization;

public class TokenStreamDecoderTests
{
    [Theory]
    [InlineData("héllo wörld")]
    [InlineData("日本語のテキスト")]
    [InlineData("emoji 🙂🚀 end")]
    public void CharactersSplitAcrossTokensAreNeverEmittedHalfWay(string text)
    {
        var bytes = Encoding.UTF8.GetBytes(text);
        var decoder = new TokenStreamDecoder();
        var pieces = new List<string>();
        foreach (byte b in bytes) pieces.Add(decoder.Append([b])); // the worst case: one byte per token
        pieces.Add(decoder.Flush());
        Assert.Equal(text, string.Concat(pieces));
        Assert.DoesNotContain(pieces, p => p.Contains('\uFFFD'));
    }

    [Fact]
    public void AnUnfinishedCharacterAtTheEndBecomesAReplacementCharacter()
    {
        var decoder = new TokenStreamDecoder();
        Assert.Equal("a", decoder.Append([(byte)'a', 0xE2, 0x82]));
        Assert.Equal("\uFFFD", decoder.Flush());
        Assert.Equal("", decoder.Flush());
    }

    [Fact]
    public void InvalidBytesDoNotStallTheStream()
    {
        var decoder = new TokenStreamDecoder();
        Assert.Equal("\uFFFDx", decoder.Append([0x80, (byte)'x']));
    }
}
