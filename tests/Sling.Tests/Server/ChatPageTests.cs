using Microsoft.Playwright;
using Sling.Tests.Support;

namespace Sling.Tests.Server;

/// <summary>A fact that needs a Chromium installed on the system (Debian's `chromium`).</summary>
public sealed class BrowserFactAttribute : FactAttribute
{
    public static string? Chromium { get; } = new[] { Environment.GetEnvironmentVariable("SLING_CHROMIUM"), "/usr/bin/chromium", "/usr/bin/chromium-browser" }
        .FirstOrDefault(p => !string.IsNullOrEmpty(p) && File.Exists(p));

    public BrowserFactAttribute(params string[] requiredPaths)
    {
        var missing = requiredPaths.FirstOrDefault(p => !SharedData.Has(p));
        if (missing != null) Skip = $"reference data ../shared/{missing} is absent";
        else if (Chromium is null) Skip = "no system Chromium (apt-get install chromium, or set SLING_CHROMIUM)";
    }
}

/// <summary>The chat page in a real headless browser: type a question, watch the answer stream in, stop a long one.</summary>
public class ChatPageTests
{
    [BrowserFact(SharedData.Stories260K, SharedData.Stories260KTokenizer)]
    public async Task AQuestionStreamsTheModelsAnswer()
    {
        await using var s = await RunningServer.StartAsync();
        using var playwright = await Playwright.CreateAsync();
        await using var browser = await LaunchAsync(playwright);
        var page = await browser.NewPageAsync();
        await page.GotoAsync(s.Server.BaseAddress.ToString());

        // A greedy answer of 40 tokens: the page shows what the model answers to the same conversation.
        await page.FillAsync("#temperature", "0");
        await page.FillAsync("#maxTokens", "40");
        await page.FillAsync("#input", "Once upon a time");
        await page.PressAsync("#input", "Enter");
        await page.WaitForFunctionAsync("() => document.getElementById('status').textContent.startsWith('done')", null, new() { Timeout = 30_000 });
        string expected = s.Model.Chat([Sling.Chat.ChatMessage.User("Once upon a time")], s.Model.DefaultOptions with { Temperature = 0, MaxTokens = 40 }).Text;
        string shown = await page.InnerTextAsync(".msg.assistant .content");
        Assert.Equal(Normalize(expected), Normalize(shown));
        Assert.Equal("Once upon a time", (await page.InnerTextAsync(".msg.user .content")).Trim());
    }

    // A long answer, stopped while it streams: a model that writes for seconds (random weights, a
    // 4096-position context, a 32064-token vocabulary whose end-of-turn tokens it rarely picks).
    [BrowserFact(ChatModels.Phi3Vocab, ChatModels.Phi35Template)]
    public async Task StopEndsAStreamingAnswer()
    {
        using var dir = new TempDirectory();
        await using var s = await RunningServer.StartAsync(new Sling.Server.ServerOptions { Context = 4096 }, ChatModels.WritePhi3Shaped(dir.Path, contextLength: 4096));
        using var playwright = await Playwright.CreateAsync();
        await using var browser = await LaunchAsync(playwright);
        var page = await browser.NewPageAsync();
        await page.GotoAsync(s.Server.BaseAddress.ToString());
        await page.FillAsync("#maxTokens", "4000");
        // The model picks an end-of-turn token now and then: an answer that ends by itself before the
        // click lands ('done') is asked again, up to three times.
        string status = "";
        for (int attempt = 1; attempt <= 3 && status != "stopped"; attempt++)
        {
            await page.FillAsync("#input", "Tell me everything");
            await page.PressAsync("#input", "Enter");
            await page.WaitForFunctionAsync($"() => document.querySelectorAll('.msg.assistant')[{attempt - 1}]?.textContent.length > 20 || document.getElementById('status').textContent.startsWith('done')", null, new() { Timeout = 90_000 });
            // The click goes to the button itself: a pointer click at its coordinates can land elsewhere
            // while the growing answer moves the layout.
            if (await page.IsEnabledAsync("#stop")) await page.DispatchEventAsync("#stop", "click");
            await page.WaitForFunctionAsync("() => { const s = document.getElementById('status').textContent; return s === 'stopped' || s.startsWith('done') || s.startsWith('error'); }", null, new() { Timeout = 30_000 });
            status = await page.InnerTextAsync("#status");
        }
        Assert.Equal("stopped", status);
        Assert.True(await page.IsEnabledAsync("#send"));
        Assert.False(await page.IsEnabledAsync("#stop"));
        // The server dropped the sequence: nothing is generating any more.
        for (int i = 0; i < 200 && (await s.Http.GetStringAsync("health")).Contains("\"active\":1"); i++) await Task.Delay(50);
        Assert.Contains("\"active\":0", await s.Http.GetStringAsync("health"));
    }

    [BrowserFact(SharedData.Stories260K, SharedData.Stories260KTokenizer)]
    public async Task MarkdownCodeBlocksRenderAsCode()
    {
        await using var s = await RunningServer.StartAsync();
        using var playwright = await Playwright.CreateAsync();
        await using var browser = await LaunchAsync(playwright);
        var page = await browser.NewPageAsync();
        await page.GotoAsync(s.Server.BaseAddress.ToString());
        string html = await page.EvaluateAsync<string>("() => renderMarkdown('Use **this**:\\n```python\\nprint(\"<hi>\")\\n```\\nand `x`.')");
        Assert.Contains("<pre><code class=\"language-python\">print(&quot;&lt;hi&gt;&quot;)</code></pre>", html);
        Assert.Contains("<strong>this</strong>", html);
        Assert.Contains("<code>x</code>", html);
    }

    static Task<IBrowser> LaunchAsync(IPlaywright playwright) => playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
    {
        ExecutablePath = BrowserFactAttribute.Chromium, Headless = true, Args = ["--no-sandbox"],
    });

    static string Normalize(string s) => string.Join(' ', s.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries));
}
