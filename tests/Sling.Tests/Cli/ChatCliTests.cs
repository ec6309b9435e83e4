using System.Text.Json;
using System.Text.RegularExpressions;
using Sling.Chat;
using Sling.Tests.Chat;
using Sling.Tests.Support;
using static Sling.Tests.Cli.CliRunner;

namespace Sling.Tests.Cli;

public class ChatCliTests
{
    [SharedTheory(ChatTemplateCases.Expected)]
    [MemberData(nameof(ChatTemplateCases.Indexes), MemberType = typeof(ChatTemplateCases))]
    public void TemplatePrintsWhatTransformersRenders(int index)
    {
        var c = ChatTemplateCases.Load()[index];
        // strftime_now reads the clock: only templates that do not ask for today's date are compared here.
        string source = File.ReadAllText(c.TemplatePath);
        if (source.Contains("strftime_now", StringComparison.Ordinal) && c.ExpectedText?.Contains("24 Nov 2026", StringComparison.Ordinal) == true) return;
        using var dir = new TempDirectory();
        string messages = Path.Combine(dir.Path, "messages.json");
        File.WriteAllText(messages, c.Messages.GetRawText());
        var args = new List<string> { "template", "--template", c.TemplatePath, "--messages", messages, "--bos-token", c.BosToken, "--eos-token", c.EosToken };
        if (c.AddGenerationPrompt) args.Add("--add-generation-prompt");
        var r = Run(args.ToArray());
        if (c.ExpectedError is not null)
        {
            Assert.Contains(c.ExpectedError, AssertCleanFailure(r));
            return;
        }
        Assert.Equal(0, r.ExitCode);
        Assert.Equal(c.ExpectedText, r.Stdout);
        Assert.Equal("", r.Stderr);
    }

    [SharedFact(ChatModels.Phi3Vocab, ChatModels.Phi35Template)]
    public void TemplateOfAModelUsesItsTemplateAndTokens()
    {
        using var dir = new TempDirectory();
        string model = ChatModels.WritePhi3Shaped(dir.Path);
        string messages = Path.Combine(dir.Path, "m.json");
        File.WriteAllText(messages, JsonSerializer.Serialize(new[] { new { role = "user", content = "Hi" } }));
        var r = Run("template", "--model", model, "--messages", messages, "--add-generation-prompt");
        Assert.Equal(0, r.ExitCode);
        Assert.Equal("<|user|>\nHi<|end|>\n<|assistant|>\n", r.Stdout);
    }

    [Fact]
    public void TemplateErrorsAreOneLine()
    {
        using var dir = new TempDirectory();
        string template = Path.Combine(dir.Path, "t.jinja");
        string messages = Path.Combine(dir.Path, "m.json");
        File.WriteAllText(messages, "[{\"role\": \"user\", \"content\": \"x\"}]");
        File.WriteAllText(template, "{% for m in messages %}\n{{ m.content }\n{% endfor %}");
        Assert.Contains("line 2", AssertCleanFailure(Run("template", "--template", template, "--messages", messages)));
        File.WriteAllText(template, "{{ raise_exception('Only user messages') }}");
        Assert.Equal("error: Only user messages", AssertCleanFailure(Run("template", "--template", template, "--messages", messages)));
        File.WriteAllText(messages, "{\"role\": \"user\"}");
        Assert.Contains("must be a JSON array", AssertCleanFailure(Run("template", "--template", template, "--messages", messages)));
        Assert.Contains("either --template", AssertCleanFailure(Run("template", "--messages", messages)));
    }

    [SharedFact(SharedData.Stories260K, SharedData.Stories260KTokenizer)]
    public void ChatFromStdinKeepsTheConversationInTheCache()
    {
        string model = SharedData.PathOf(SharedData.Stories260K);
        var r = RunWithInput("Once upon a time\nWhat did the cat do?\n/exit\nnever read\n", "chat", "-m", model, "-t", "0", "-n", "30");
        Assert.Equal(0, r.ExitCode);

        // The answers are the library's greedy answers to the same conversation.
        using var sling = SlingModel.Load(model);
        var options = sling.DefaultOptions with { Temperature = 0, MaxTokens = 30, ContextLength = 4096 };
        var session = sling.StartChat(options);
        string first = session.Send("Once upon a time").Text, second = session.Send("What did the cat do?").Text;
        Assert.Equal(first + "\n" + second + "\n", r.Stdout.Replace("\r\n", "\n"));

        // The second turn processed only what was new: the cache held the first prompt and answer.
        var stats = Regex.Matches(r.Stderr, @"prompt: (\d+) tokens(?: \((\d+) reused from the cache, (\d+) processed\))?.*generated: (\d+) tokens");
        Assert.Equal(2, stats.Count);
        int prompt1 = int.Parse(stats[0].Groups[1].Value), generated1 = int.Parse(stats[0].Groups[4].Value);
        int prompt2 = int.Parse(stats[1].Groups[1].Value), reused2 = int.Parse(stats[1].Groups[2].Value), processed2 = int.Parse(stats[1].Groups[3].Value);
        Assert.Equal(prompt1 + generated1 - 1, reused2);
        Assert.Equal(prompt2 - reused2, processed2);
        // Exactly the new text's tokens, plus the first answer's last token (sampled, never fed).
        string newText = "\nuser: What did the cat do?\nassistant:";
        Assert.Equal(1 + sling.Tokenizer.EncodeContinuation(newText).Count, processed2);
        Assert.Contains("no chat template", r.Stderr);
    }

    [SharedFact(SharedData.Stories260K, SharedData.Stories260KTokenizer)]
    public void ChatCommandsResetAndSetTheSystemMessage()
    {
        string model = SharedData.PathOf(SharedData.Stories260K);
        var r = RunWithInput("Once upon a time\n/reset\nOnce upon a time\n/system Be kind.\n/nope\n", "chat", "-m", model, "-t", "0", "-n", "12", "-q");
        Assert.Equal(0, r.ExitCode);
        var answers = r.Stdout.Replace("\r\n", "\n").Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(2, answers.Length);
        Assert.Equal(answers[0], answers[1]); // after /reset the same message gets the same greedy answer
        Assert.Contains("note: conversation cleared", r.Stderr);
        Assert.Contains("note: system message set", r.Stderr);
        Assert.Contains("note: unknown command /nope", r.Stderr);
        Assert.DoesNotContain("prompt:", r.Stderr); // -q
    }
}
