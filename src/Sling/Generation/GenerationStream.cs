using System.Runtime.CompilerServices;
using System.Threading.Channels;

namespace Sling.Generation;

/// <summary>Runs a generation on a worker thread and hands its text to an async reader as it comes.</summary>
internal static class GenerationStream
{
    /// <summary>A piece of text, or (last) the finished result.</summary>
    internal readonly record struct Piece(string? Text, GenerationResult? Result);

    public static async IAsyncEnumerable<Piece> Run(Func<Action<string>, CancellationToken, GenerationResult> generate,
        [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var channel = Channel.CreateUnbounded<Piece>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var worker = Task.Run(() =>
        {
            try
            {
                var result = generate(text => channel.Writer.TryWrite(new Piece(text, null)), stop.Token);
                channel.Writer.TryWrite(new Piece(null, result));
                channel.Writer.Complete();
            }
            catch (Exception e)
            {
                channel.Writer.Complete(e);
            }
        }, CancellationToken.None);
        try
        {
            await foreach (var piece in channel.Reader.ReadAllAsync(CancellationToken.None).ConfigureAwait(false))
            {
                cancellationToken.ThrowIfCancellationRequested();
                yield return piece;
            }
            cancellationToken.ThrowIfCancellationRequested();
        }
        finally
        {
            // The reader stopped early (break, dispose or cancellation): stop generating before the next token.
            stop.Cancel();
            await worker.ConfigureAwait(false);
        }
    }

    public static async IAsyncEnumerable<string> Text(Func<Action<string>, CancellationToken, GenerationResult> generate,
        [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        await foreach (var piece in Run(generate, cancellationToken).ConfigureAwait(false))
            if (piece.Text is { } text) yield return text;
    }
}
