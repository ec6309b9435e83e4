namespace Sling.Cli;

/// <summary>
/// Text streamed to stdout as it is generated. A reader that goes away (`| head`) ends generation
/// quietly through <see cref="ReaderGone"/>; any other write failure is reported.
/// </summary>
internal sealed class StreamingOutput(TextWriter stdout) : IDisposable
{
    readonly CancellationTokenSource _readerGone = new();

    public CancellationToken ReaderGone => _readerGone.Token;

    public bool Closed { get; private set; }

    public void Write(string text)
    {
        if (Closed) return;
        try
        {
            stdout.Write(text);
            stdout.Flush();
        }
        catch (IOException e) when (Consoles.IsClosedPipe(e))
        {
            Closed = true;
            _readerGone.Cancel();
        }
        catch (IOException e)
        {
            throw new SlingException($"cannot write the output: {e.Message}");
        }
    }

    public void Dispose() => _readerGone.Dispose();
}
