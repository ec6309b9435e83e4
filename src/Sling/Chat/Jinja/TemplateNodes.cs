namespace Sling.Chat.Jinja;

/// <summary>An expression of the template language.</summary>
internal abstract record Expr(int Line);

internal sealed record LiteralExpr(object? Value, int Line) : Expr(Line);
internal sealed record NameExpr(string Name, int Line) : Expr(Line);
internal sealed record ListExpr(List<Expr> Items, bool IsTuple, int Line) : Expr(Line);
internal sealed record DictExpr(List<(Expr Key, Expr Value)> Items, int Line) : Expr(Line);
internal sealed record AttributeExpr(Expr Target, string Name, int Line) : Expr(Line);
internal sealed record ItemExpr(Expr Target, Expr Key, int Line) : Expr(Line);
internal sealed record SliceExpr(Expr Target, Expr? Start, Expr? Stop, Expr? Step, int Line) : Expr(Line);
internal sealed record Arguments(List<Expr> Positional, List<(string Name, Expr Value)> Named)
{
    public static readonly Arguments None = new([], []);
}
internal sealed record CallExpr(Expr Callee, Arguments Args, int Line) : Expr(Line);
internal sealed record FilterExpr(Expr Input, string Name, Arguments Args, int Line) : Expr(Line);
internal sealed record TestExpr(Expr Input, string Name, Arguments Args, bool Negated, int Line) : Expr(Line);
internal sealed record UnaryExpr(string Op, Expr Operand, int Line) : Expr(Line);
internal sealed record BinaryExpr(string Op, Expr Left, Expr Right, int Line) : Expr(Line);
internal sealed record CompareExpr(Expr First, List<(string Op, Expr Operand)> Rest, int Line) : Expr(Line);
internal sealed record ConditionalExpr(Expr Condition, Expr Then, Expr? Else, int Line) : Expr(Line);

/// <summary>A statement of the template: text, output, or a block tag with its body.</summary>
internal abstract record Node(int Line);

internal sealed record TextNode(string Text, int Line) : Node(Line);
internal sealed record OutputNode(Expr Value, int Line) : Node(Line);
internal sealed record IfNode(List<(Expr Condition, List<Node> Body)> Branches, List<Node>? Else, int Line) : Node(Line);
internal sealed record ForNode(List<string> Targets, Expr Iterable, Expr? Filter, List<Node> Body, List<Node>? Else, int Line) : Node(Line);
/// <summary><c>set</c>: a name, several names (unpacking), or <c>namespace.attribute</c>.</summary>
internal sealed record SetNode(List<string> Targets, string? Attribute, Expr Value, int Line) : Node(Line);
internal sealed record SetBlockNode(string Target, List<(string Name, Arguments Args)> Filters, List<Node> Body, int Line) : Node(Line);
internal sealed record MacroNode(string Name, List<(string Name, Expr? Default)> Parameters, List<Node> Body, int Line) : Node(Line);
internal sealed record CallBlockNode(List<(string Name, Expr? Default)> Parameters, CallExpr Call, List<Node> Body, int Line) : Node(Line);
internal sealed record FilterBlockNode(List<(string Name, Arguments Args)> Filters, List<Node> Body, int Line) : Node(Line);
internal sealed record BreakNode(int Line) : Node(Line);
internal sealed record ContinueNode(int Line) : Node(Line);
internal sealed record DoNode(Expr Value, int Line) : Node(Line);
