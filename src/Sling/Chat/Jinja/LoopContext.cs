namespace Sling.Chat.Jinja;

/// <summary>The <c>loop</c> variable inside a <c>for</c> block.</summary>
internal sealed class LoopContext(List<object?> items)
{
    public int Index0 { get; set; }

    public object? Get(string name) => name switch
    {
        "index0" => (long)Index0,
        "index" => (long)Index0 + 1,
        "revindex0" => (long)(items.Count - Index0 - 1),
        "revindex" => (long)(items.Count - Index0),
        "first" => Index0 == 0,
        "last" => Index0 == items.Count - 1,
        "length" => (long)items.Count,
        "depth" => 1L,
        "depth0" => 0L,
        "previtem" => Index0 > 0 ? items[Index0 - 1] : Undefined.Named("previtem"),
        "nextitem" => Index0 + 1 < items.Count ? items[Index0 + 1] : Undefined.Named("nextitem"),
        "cycle" => new TemplateFunction("cycle", (args, _) =>
            args.Count == 0 ? throw new TemplateException("no items for cycling given") : args[Index0 % args.Count]),
        "changed" => throw new TemplateException("loop.changed is not supported"),
        _ => Undefined.Attribute(this, name),
    };
}
