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
}
