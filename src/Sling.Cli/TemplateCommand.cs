using System.CommandLine;
using System.Text.Json;
using Sling.Chat;
using Sling.Tokenization;

namespace Sling.Cli;

/// <summary>`sling template`: prints the prompt a chat template makes of a conversation, and nothing else
/// (transformers' <c>apply_chat_template(..., tokenize=False)</c>), for debugging templates.</summary>
internal static class TemplateCommand
{
    public static Command Create(TextWriter stdout)
    {
        var template = new Option<string?>("--template") { Description = "A Jinja chat template file" };
        var model = new Option<string?>("--model", "-m") { Description = "Use this model's template (a Hugging Face folder, GGUF file, or a tokenizer file)" };
        var messages = new Option<string>("--messages") { Description = "JSON file: an array of {\"role\", \"content\", ...} messages", Required = true };
        var tools = new Option<string?>("--tools") { Description = "JSON file: the tools array passed to the template as `tools`" };
        var addGenerationPrompt = new Option<bool>("--add-generation-prompt") { Description = "End with the header of the assistant's turn" };
        var bos = new Option<string?>("--bos-token") { Description = "Text of bos_token (default: the model's, else empty)" };
        var eos = new Option<string?>("--eos-token") { Description = "Text of eos_token (default: the model's, else empty)" };
        var command = new Command("template", "Print the prompt a chat template renders for a conversation")
        {
            template, model, messages, tools, addGenerationPrompt, bos, eos,
        };
        command.SetAction(parse =>
        {
            string? templatePath = parse.GetValue(template), modelPath = parse.GetValue(model);
            if ((templatePath is null) == (modelPath is null)) throw new SlingException("give either --template FILE or --model PATH");
            ChatTemplate chatTemplate;
            string? modelBos = null, modelEos = null;
            if (templatePath is not null)
            {
                if (!File.Exists(templatePath)) throw new SlingException($"{templatePath}: template file not found");
                chatTemplate = Parse(File.ReadAllText(templatePath), templatePath);
            }
            else
            {
                var tokenizer = TokenizerOf(modelPath!);
                if (tokenizer is not VocabularyTokenizer { ChatTemplate: { } source } v)
                    throw new SlingException($"{modelPath}: the model has no chat template");
                chatTemplate = Parse(source, modelPath!);
                if (v.BosId >= 0) modelBos = v.Vocabulary.Tokens[v.BosId];
                if (v.EosId >= 0) modelEos = v.Vocabulary.Tokens[v.EosId];
            }
            var variables = new Dictionary<string, object?>();
            if (parse.GetValue(tools) is { } toolsPath) variables["tools"] = ReadJson(toolsPath, "tools");
            var options = new ChatTemplateOptions
            {
                AddGenerationPrompt = parse.GetValue(addGenerationPrompt),
                BosToken = parse.GetValue(bos) ?? modelBos ?? "",
                EosToken = parse.GetValue(eos) ?? modelEos ?? "",
                Variables = variables,
            };
            stdout.Write(chatTemplate.Render(ReadJson(parse.GetValue(messages)!, "messages"), options));
            stdout.Flush();
            return 0;
        });
        return command;
    }

    static ChatTemplate Parse(string source, string origin)
    {
        try
        {
            return ChatTemplate.Parse(source);
        }
        catch (ChatTemplateException e)
        {
            throw new SlingException($"{origin}: {e.Message}");
        }
    }

    static ITokenizer TokenizerOf(string modelPath)
    {
        if (Directory.Exists(modelPath))
            return TokenizerLoader.Load(TokenizerLoader.FindIn(modelPath) ?? throw new SlingException($"{modelPath}: no tokenizer in this folder"));
        if (!File.Exists(modelPath)) throw new SlingException($"{modelPath}: not found");
        return TokenizerLoader.Load(modelPath);
    }

    static JsonElement ReadJson(string path, string what)
    {
        if (!File.Exists(path)) throw new SlingException($"{path}: {what} file not found");
        try
        {
            using var doc = JsonDocument.Parse(File.ReadAllBytes(path));
            if (doc.RootElement.ValueKind != JsonValueKind.Array) throw new SlingException($"{path}: {what} must be a JSON array");
            return doc.RootElement.Clone();
        }
        catch (JsonException e)
        {
            throw new SlingException($"{path}: not valid JSON ({e.Message})");
        }
    }
}
