using Sling.Generation;

namespace Sling.Tests.Generation;

public class StopStringFilterTests
{
    [Fact]
    public void TextThatMightStartAStopStringIsHeldBackUntilDecided()
    {
        var f = new StopStringFilter(["</end>"]);
        Assert.Equal("hello ", f.Push("hello </"));
        Assert.Equal("", f.Push("e"));
        Assert.Equal("</ex", f.Push("x")); // not the stop string after all
        Assert.Equal("tra", f.Push("tra"));
        Assert.False(f.Stopped);
        Assert.Equal("", f.Flush());
    }

    [Fact]
    public void StopsAtAStopStringSpanningPushes()
    {
        var f = new StopStringFilter(["STOP", "OP!"]);
        Assert.Equal("a", f.Push("aST"));
        Assert.Equal("", f.Push("O"));
        Assert.Equal("", f.Push("P and more"));
        Assert.True(f.Stopped);
        Assert.Equal("", f.Push("after"));
        Assert.Equal("", f.Flush());
    }

    [Fact]
    public void StopsAtTheEarliestOfSeveralStopStrings()
    {
        var f = new StopStringFilter(["STOP", "OP!"]);
        Assert.Equal("x", f.Push("xOP!yySTOP"));
        Assert.True(f.Stopped);
    }

    [Fact]
    public void WithoutStopStringsEverythingPassesAndFlushReturnsTheRest()
    {
        var f = new StopStringFilter([]);
        Assert.Equal("abc", f.Push("abc"));
        var g = new StopStringFilter(["xyz"]);
        Assert.Equal("ab", g.Push("abx"));
        Assert.Equal("x", g.Flush());
    }
}
