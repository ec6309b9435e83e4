// A console chat in a dozen lines of the library: the model answers through Microsoft.Extensions.AI's
// IChatClient, the same interface a cloud model would be used through.
//   dotnet run --project samples/Sling.Samples.Chat -- PATH-TO-MODEL [question...]
using Microsoft.Extensions.AI;
using Sling;

if (args.Length == 0)
{
    Console.Error.WriteLine("usage: Sling.Samples.Chat MODEL [QUESTION...]   (MODEL: a Hugging Face folder, a .gguf file or a llama2.c .bin)");
    return 2;
}
try
{
    using var model = SlingModel.Load(args[0]);
    IChatClient client = model.AsChatClient();
    var history = new List<ChatMessage> { new(ChatRole.System, "You are a helpful assistant. Answer briefly.") };
    var options = new ChatOptions { MaxOutputTokens = 256, Temperature = 0.7f };

    // Questions from the command line, else from stdin (one per line) until an empty line or the end.
    IEnumerable<string> questions = args.Length > 1 ? [string.Join(' ', args[1..])] : ReadQuestions();
    foreach (string question in questions)
    {
        history.Add(new ChatMessage(ChatRole.User, question));
        var updates = new List<ChatResponseUpdate>();
        await foreach (var update in client.GetStreamingResponseAsync(history, options))
        {
            Console.Write(update.Text);
            updates.Add(update);
        }
        Console.WriteLine();
        history.AddMessages(updates);
    }
    return 0;
}
catch (SlingException e)
{
    Console.Error.WriteLine($"error: {e.Message}");
    return 1;
}

static IEnumerable<string> ReadQuestions()
{
    while (true)
    {
        if (!Console.IsInputRedirected) Console.Write("> ");
        string? line = Console.ReadLine();
        if (string.IsNullOrWhiteSpace(line)) yield break;
        yield return line;
    }
}
