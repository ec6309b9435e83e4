using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Nodes;
using Sling.Chat;
using Sling.Tests.Support;

namespace Sling.Tests.Chat;

/// <summary>A fact that runs only where Python's Jinja2 (the reference implementation) is installed.</summary>
public sealed class JinjaOracleFactAttribute : FactAttribute
{
    /// <summary>The Python to run: $SLING_PYTHON, else python3 on the PATH.</summary>
    public static string Python { get; } = Environment.GetEnvironmentVariable("SLING_PYTHON") is { Length: > 0 } p ? p : "python3";

    public static readonly Lazy<bool> Available = new(() =>
    {
        try
        {
            using var p = Process.Start(new ProcessStartInfo(Python, "-c \"import jinja2\"") { RedirectStandardError = true, RedirectStandardOutput = true })!;
            p.WaitForExit(30_000);
            return p.HasExited && p.ExitCode == 0;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return false;
        }
    });

    public JinjaOracleFactAttribute()
    {
        if (!Available.Value) Skip = "python3 with jinja2 (the reference renderer) is not installed";
    }
}

/// <summary>
/// Differential tests: language features and the real templates with tools, tool calls and documents,
/// rendered by Sling and by Python's Jinja2 set up as transformers does (jinja_oracle.py).
/// </summary>
public class JinjaOracleTests
{
    [JinjaOracleFact]
    public void EveryCaseRendersLikePythonJinja2()
    {
        var cases = JsonNode.Parse(File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Chat", "jinja-cases.json")))!.AsArray()
            .Select(c => c!.AsObject()).ToList();
        foreach (var c in cases)
            if (c["templateFile"] is { } file)
                c["template"] = SharedData.Has("chat-templates/" + file) ? File.ReadAllText(SharedData.PathOf("chat-templates/" + file)) : null;
        cases = cases.Where(c => c["template"] is not null).ToList();
        Assert.True(cases.Count >= 26);

        var reference = RunOracle(new JsonArray(cases.Select(c => (JsonNode)new JsonObject
        {
            ["template"] = c["template"]!.GetValue<string>(),
            ["context"] = c["context"]!.DeepClone(),
        }).ToArray()));

        var failures = new List<string>();
        for (int i = 0; i < cases.Count; i++)
        {
            string name = cases[i]["name"]!.GetValue<string>();
            string? expected = reference[i]!["text"]?.GetValue<string>();
            string? expectedError = reference[i]!["error"]?.GetValue<string>();
            string actual;
            try
            {
                actual = Render(cases[i]["template"]!.GetValue<string>(), cases[i]["context"]!.AsObject());
            }
            catch (ChatTemplateException e)
            {
                if (expectedError is null || !e.Message.Contains(expectedError, StringComparison.Ordinal))
                    failures.Add($"{name}: error '{e.Message}', Jinja2: {(expectedError is null ? $"text {JsonSerializer.Serialize(expected)}" : $"error '{expectedError}'")}");
                continue;
            }
            if (expectedError is not null) failures.Add($"{name}: rendered {JsonSerializer.Serialize(actual)}, Jinja2 raised '{expectedError}'");
            else if (actual != expected) failures.Add($"{name}:\n  sling  {JsonSerializer.Serialize(actual)}\n  jinja2 {JsonSerializer.Serialize(expected)}");
        }
        Assert.True(failures.Count == 0, string.Join("\n", failures));
    }

    static string Render(string source, JsonObject context)
    {
        var variables = new Dictionary<string, object?>();
        foreach (var (key, value) in context)
            if (key is not ("messages" or "add_generation_prompt" or "bos_token" or "eos_token"))
                variables[key] = JsonSerializer.SerializeToElement(value);
        var options = new ChatTemplateOptions
        {
            AddGenerationPrompt = context["add_generation_prompt"]?.GetValue<bool>() ?? false,
            BosToken = context["bos_token"]?.GetValue<string>(),
            EosToken = context["eos_token"]?.GetValue<string>(),
            Clock = new ChatTemplateCases.FixedClock(ChatTemplateCases.ReferenceDate),
            Variables = variables,
        };
        var messages = JsonSerializer.SerializeToElement(context["messages"] ?? new JsonArray());
        return ChatTemplate.Parse(source).Render(messages, options);
    }

    static JsonArray RunOracle(JsonArray input)
    {
        var start = new ProcessStartInfo(JinjaOracleFactAttribute.Python, Path.Combine(AppContext.BaseDirectory, "Chat", "jinja_oracle.py"))
        {
            RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true,
            StandardInputEncoding = new System.Text.UTF8Encoding(false), StandardOutputEncoding = System.Text.Encoding.UTF8,
        };
        using var p = Process.Start(start)!;
        p.StandardInput.Write(input.ToJsonString());
        p.StandardInput.Close();
        var stderr = p.StandardError.ReadToEndAsync();
        string output = p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        Assert.True(p.ExitCode == 0, stderr.Result);
        return JsonNode.Parse(output)!.AsArray();
    }
}
