using System.CommandLine;
using Sling.Hub;

namespace Sling.Cli;

/// <summary>`sling download`: fetch a model from the Hugging Face Hub into the shared cache, without running it.</summary>
internal static class DownloadCommand
{
    public static Command Create(TextWriter stdout, TextWriter stderr)
    {
        var model = new Argument<string>("model") { Description = "Hub model id: org/name[:QUANT][@revision]" };
        var include = new Option<string[]>("--include") { Description = "Fetch only files matching this pattern (e.g. '*.json', '*Q4_0.gguf'; repeatable)", AllowMultipleArgumentsPerToken = false };
        var command = new Command("download", "Download a model from the Hugging Face Hub into its cache (HF_HOME); prints the local path") { model, include };
        command.SetAction(parse =>
        {
            string text = parse.GetValue(model)!;
            if (!HubModelId.TryParse(text, out var id))
                throw new SlingException($"'{text}' is not a Hub model id (org/name[:QUANT][@revision]) or is a local path");
            string path = Consoles.WithDownloads(stderr, text, hub =>
            {
                using var client = new HubClient(hub with { Include = parse.GetValue(include) ?? [] });
                return client.Download(id);
            });
            stdout.WriteLine(path);
            return 0;
        });
        return command;
    }
}
