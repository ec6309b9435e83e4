using Sling.Chat;
using Sling.Tests.Support;

namespace Sling.Tests.Chat;

public class ChatTemplateTests
{
    [SharedTheory(ChatTemplateCases.Expected)]
    [MemberData(nameof(ChatTemplateCases.Indexes), MemberType = typeof(ChatTemplateCases))]
    public void RendersLikeTransformers(int index)
    {
        var c = ChatTemplateCases.Load()[index];
        var template = ChatTemplate.Parse(File.ReadAllText(c.TemplatePath));
        var options = new ChatTemplateOptions
        {
            AddGenerationPrompt = c.AddGenerationPrompt, BosToken = c.BosToken, EosToken = c.EosToken,
            Clock = new ChatTemplateCases.FixedClock(ChatTemplateCases.ReferenceDate),
        };
        if (c.ExpectedError is not null)
        {
            var e = Assert.Throws<ChatTemplateException>(() => template.Render(c.Messages, options));
            Assert.Contains(c.ExpectedError, e.Message);
            return;
        }
        Assert.Equal(c.ExpectedText, template.Render(c.Messages, options));
    }

    [Fact]
    public void TheFallbackWritesOneTurnPerLineAndAnswersVerbatim()
    {
        var messages = new[] { ChatMessage.System("Be kind."), ChatMessage.User("Hi"), ChatMessage.Assistant(" Hello!"), ChatMessage.User("Bye") };
        Assert.Equal("system: Be kind.\nuser: Hi\nassistant: Hello!\nuser: Bye\nassistant:", ChatTemplate.Fallback.Render(messages));
        Assert.Equal("user: Hi\n", ChatTemplate.Fallback.Render([ChatMessage.User("Hi")], new ChatTemplateOptions { AddGenerationPrompt = false }));
    }

    [Fact]
    public void SyntaxErrorsNameTheLine()
    {
        var e = Assert.Throws<ChatTemplateException>(() => ChatTemplate.Parse("a\n{% if x %}\nb\n{% endfor %}"));
        Assert.Equal(4, e.Line);
        Assert.False(e.RaisedByTemplate);
        e = Assert.Throws<ChatTemplateException>(() => ChatTemplate.Parse("{% if x %}never closed"));
        Assert.Contains("endif", e.Message);
        e = Assert.Throws<ChatTemplateException>(() => ChatTemplate.Parse("{{ raise_exception('no') }}").Render([]));
        Assert.True(e.RaisedByTemplate);
        Assert.Equal("no", e.Message);
    }
}
