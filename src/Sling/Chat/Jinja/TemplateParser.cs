using System.Globalization;

namespace Sling.Chat.Jinja;

/// <summary>
/// Recursive-descent parser for the Jinja2 statements and expressions chat templates use, with
/// Jinja's operator precedence: conditional, or, and, not, comparisons (incl. <c>in</c>), + -, ~,
/// * / // %, **, unary, then postfix (attribute, item, slice, call) with filters and tests.
/// </summary>
internal sealed class TemplateParser
{
    readonly List<Token> _tokens;
    int _pos;

    TemplateParser(List<Token> tokens) => _tokens = tokens;

    public static List<Node> Parse(string source)
    {
        var parser = new TemplateParser(TemplateLexer.Tokenize(source));
        var body = parser.ParseBody(out string? end);
        if (end is not null) throw new TemplateException($"unexpected '{end}'", parser.Current.Line);
        return body;
    }

    Token Current => _tokens[_pos];
    Token Next() => _tokens[_pos++];

    bool IsOperator(string op) => Current.Kind == TokenKind.Operator && Current.Value == op;
    bool IsName(string name) => Current.Kind == TokenKind.Name && Current.Value == name;

    void Expect(string op)
    {
        if (!IsOperator(op)) throw Unexpected($"'{op}'");
        _pos++;
    }

    void ExpectName(string name)
    {
        if (!IsName(name)) throw Unexpected($"'{name}'");
        _pos++;
    }

    string ExpectIdentifier()
    {
        if (Current.Kind != TokenKind.Name) throw Unexpected("a name");
        return Next().Value;
    }

    void ExpectBlockEnd()
    {
        if (Current.Kind != TokenKind.BlockEnd) throw Unexpected("end of tag");
        _pos++;
    }

    TemplateException Unexpected(string expected)
    {
        string found = Current.Kind switch
        {
            TokenKind.BlockEnd => "end of tag",
            TokenKind.VariableEnd => "end of expression",
            TokenKind.End => "end of template",
            TokenKind.Text => "text",
            _ => $"'{Current.Value}'",
        };
        return new TemplateException($"expected {expected}, found {found}", Current.Line);
    }

    /// <summary>Parses nodes until a block tag that this level does not own; returns its name.</summary>
    List<Node> ParseBody(out string? endTag, params string[] ends)
    {
        var nodes = new List<Node>();
        while (true)
        {
            Token t = Current;
            switch (t.Kind)
            {
                case TokenKind.End:
                    if (ends.Length > 0) throw new TemplateException($"missing '{{% {ends[^1]} %}}'", t.Line);
                    endTag = null;
                    return nodes;
                case TokenKind.Text:
                    _pos++;
                    nodes.Add(new TextNode(t.Value, t.Line));
                    break;
                case TokenKind.VariableBegin:
                    _pos++;
                    var value = ParseExpression();
                    if (Current.Kind != TokenKind.VariableEnd) throw Unexpected("'}}'");
                    _pos++;
                    nodes.Add(new OutputNode(value, t.Line));
                    break;
                case TokenKind.BlockBegin:
                    _pos++;
                    string keyword = ExpectIdentifier();
                    if (Array.IndexOf(ends, keyword) >= 0)
                    {
                        endTag = keyword;
                        return nodes;
                    }
                    var statement = ParseStatement(keyword, t.Line);
                    if (statement is null) throw new TemplateException($"unexpected '{{% {keyword} %}}'", t.Line);
                    if (statement is GenerationMarker g) nodes.AddRange(g.Body);
                    else nodes.Add(statement);
                    break;
                default:
                    throw Unexpected("text or a tag");
            }
        }
    }

    sealed record GenerationMarker(List<Node> Body, int Line) : Node(Line);

    Node? ParseStatement(string keyword, int line)
    {
        switch (keyword)
        {
            case "if": return ParseIf(line);
            case "for": return ParseFor(line);
            case "set": return ParseSet(line);
            case "macro": return ParseMacro(line);
            case "call": return ParseCallBlock(line);
            case "filter":
            {
                var filters = ParseFilterChain();
                ExpectBlockEnd();
                var body = ParseBody(out _, "endfilter");
                ExpectBlockEnd();
                return new FilterBlockNode(filters, body, line);
            }
            case "generation":
            {
                // transformers' AssistantTracker marks assistant text; rendering is unchanged.
                ExpectBlockEnd();
                var body = ParseBody(out _, "endgeneration");
                ExpectBlockEnd();
                return new GenerationMarker(body, line);
            }
            case "break": ExpectBlockEnd(); return new BreakNode(line);
            case "continue": ExpectBlockEnd(); return new ContinueNode(line);
            case "do":
            {
                var value = ParseExpression();
                ExpectBlockEnd();
                return new DoNode(value, line);
            }
            default: return null;
        }
    }

    Node ParseIf(int line)
    {
        var branches = new List<(Expr, List<Node>)>();
        List<Node>? elseBody = null;
        var condition = ParseExpression();
        ExpectBlockEnd();
        while (true)
        {
            var body = ParseBody(out string? end, "elif", "else", "endif");
            branches.Add((condition, body));
            if (end == "elif")
            {
                condition = ParseExpression();
                ExpectBlockEnd();
                continue;
            }
            ExpectBlockEnd();
            if (end == "else")
            {
                elseBody = ParseBody(out _, "endif");
                ExpectBlockEnd();
            }
            return new IfNode(branches, elseBody, line);
        }
    }

    Node ParseFor(int line)
    {
        var targets = new List<string> { ExpectIdentifier() };
        while (IsOperator(","))
        {
            _pos++;
            targets.Add(ExpectIdentifier());
        }
        ExpectName("in");
        var iterable = ParseConditional(allowConditional: false);
        Expr? filter = null;
        if (IsName("if"))
        {
            _pos++;
            filter = ParseConditional(allowConditional: false);
        }
        if (IsName("recursive")) throw new TemplateException("recursive loops are not supported", line);
        ExpectBlockEnd();
        var body = ParseBody(out string? end, "else", "endfor");
        ExpectBlockEnd();
        List<Node>? elseBody = null;
        if (end == "else")
        {
            elseBody = ParseBody(out _, "endfor");
            ExpectBlockEnd();
        }
        return new ForNode(targets, iterable, filter, body, elseBody, line);
    }

    Node ParseSet(int line)
    {
        string first = ExpectIdentifier();
        if (IsOperator("."))
        {
            _pos++;
            string attribute = ExpectIdentifier();
            Expect("=");
            var v = ParseExpression();
            ExpectBlockEnd();
            return new SetNode([first], attribute, v, line);
        }
        var targets = new List<string> { first };
        while (IsOperator(","))
        {
            _pos++;
            targets.Add(ExpectIdentifier());
        }
        if (IsOperator("="))
        {
            _pos++;
            var value = ParseExpression();
            ExpectBlockEnd();
            return new SetNode(targets, null, value, line);
        }
        if (targets.Count != 1) throw Unexpected("'='");
        var filters = IsOperator("|") ? ParseFilterChain() : [];
        ExpectBlockEnd();
        var body = ParseBody(out _, "endset");
        ExpectBlockEnd();
        return new SetBlockNode(first, filters, body, line);
    }

    List<(string, Expr?)> ParseParameters()
    {
        var parameters = new List<(string, Expr?)>();
        Expect("(");
        while (!IsOperator(")"))
        {
            if (parameters.Count > 0) Expect(",");
            if (IsOperator(")")) break;
            string name = ExpectIdentifier();
            Expr? defaultValue = null;
            if (IsOperator("="))
            {
                _pos++;
                defaultValue = ParseExpression();
            }
            parameters.Add((name, defaultValue));
        }
        _pos++;
        return parameters;
    }

    Node ParseMacro(int line)
    {
        string name = ExpectIdentifier();
        var parameters = ParseParameters();
        ExpectBlockEnd();
        var body = ParseBody(out _, "endmacro");
        if (Current.Kind == TokenKind.Name) _pos++; // {% endmacro name %}
        ExpectBlockEnd();
        return new MacroNode(name, parameters, body, line);
    }

    Node ParseCallBlock(int line)
    {
        var parameters = IsOperator("(") ? ParseParameters() : [];
        var call = ParseExpression() as CallExpr ?? throw new TemplateException("{% call %} needs a macro call", line);
        ExpectBlockEnd();
        var body = ParseBody(out _, "endcall");
        ExpectBlockEnd();
        return new CallBlockNode(parameters, call, body, line);
    }

    List<(string, Arguments)> ParseFilterChain()
    {
        var filters = new List<(string, Arguments)>();
        do
        {
            if (IsOperator("|")) _pos++;
            string name = ParseDottedName();
            filters.Add((name, IsOperator("(") ? ParseArguments() : Arguments.None));
        } while (IsOperator("|"));
        return filters;
    }

    string ParseDottedName()
    {
        string name = ExpectIdentifier();
        while (IsOperator("."))
        {
            _pos++;
            name += "." + ExpectIdentifier();
        }
        return name;
    }

    // ---- expressions ----

    public Expr ParseExpression() => ParseConditional(allowConditional: true);

    Expr ParseConditional(bool allowConditional)
    {
        var expr = ParseOr();
        while (allowConditional && IsName("if"))
        {
            int line = Next().Line;
            var condition = ParseOr();
            Expr? otherwise = null;
            if (IsName("else"))
            {
                _pos++;
                otherwise = ParseConditional(true);
            }
            expr = new ConditionalExpr(condition, expr, otherwise, line);
        }
        return expr;
    }

    Expr ParseOr()
    {
        var left = ParseAnd();
        while (IsName("or"))
        {
            int line = Next().Line;
            left = new BinaryExpr("or", left, ParseAnd(), line);
        }
        return left;
    }

    Expr ParseAnd()
    {
        var left = ParseNot();
        while (IsName("and"))
        {
            int line = Next().Line;
            left = new BinaryExpr("and", left, ParseNot(), line);
        }
        return left;
    }

    Expr ParseNot()
    {
        if (IsName("not"))
        {
            int line = Next().Line;
            return new UnaryExpr("not", ParseNot(), line);
        }
        return ParseCompare();
    }

    static readonly HashSet<string> CompareOps = ["==", "!=", "<", "<=", ">", ">="];

    Expr ParseCompare()
    {
        int line = Current.Line;
        var first = ParseAdditive();
        var rest = new List<(string, Expr)>();
        while (true)
        {
            if (Current.Kind == TokenKind.Operator && CompareOps.Contains(Current.Value))
                rest.Add((Next().Value, ParseAdditive()));
            else if (IsName("in"))
            {
                _pos++;
                rest.Add(("in", ParseAdditive()));
            }
            else if (IsName("not") && _tokens[_pos + 1].Kind == TokenKind.Name && _tokens[_pos + 1].Value == "in")
            {
                _pos += 2;
                rest.Add(("not in", ParseAdditive()));
            }
            else break;
        }
        return rest.Count == 0 ? first : new CompareExpr(first, rest, line);
    }

    Expr ParseAdditive()
    {
        var left = ParseConcat();
        while (IsOperator("+") || IsOperator("-"))
        {
            var op = Next();
            left = new BinaryExpr(op.Value, left, ParseConcat(), op.Line);
        }
        return left;
    }

    Expr ParseConcat()
    {
        var left = ParseMultiplicative();
        while (IsOperator("~"))
        {
            int line = Next().Line;
            left = new BinaryExpr("~", left, ParseMultiplicative(), line);
        }
        return left;
    }

    Expr ParseMultiplicative()
    {
        var left = ParsePower();
        while (IsOperator("*") || IsOperator("/") || IsOperator("//") || IsOperator("%"))
        {
            var op = Next();
            left = new BinaryExpr(op.Value, left, ParsePower(), op.Line);
        }
        return left;
    }

    Expr ParsePower()
    {
        var left = ParseUnary();
        while (IsOperator("**"))
        {
            int line = Next().Line;
            left = new BinaryExpr("**", left, ParseUnary(), line);
        }
        return left;
    }

    /// <summary>As Jinja: <c>-x|f</c> is <c>(-x)|f</c>; filters bind tighter than binary operators.</summary>
    Expr ParseUnary(bool withFilters = true)
    {
        Expr expr;
        if (IsOperator("-") || IsOperator("+"))
        {
            var op = Next();
            expr = new UnaryExpr(op.Value, ParseUnary(withFilters: false), op.Line);
        }
        else expr = ParsePostfix(ParsePrimary());
        return withFilters ? ParseFiltersAndTests(expr) : expr;
    }

    Expr ParseFiltersAndTests(Expr expr)
    {
        while (true)
        {
            if (IsOperator("|"))
            {
                int line = Next().Line;
                string name = ParseDottedName();
                var args = IsOperator("(") ? ParseArguments() : Arguments.None;
                expr = ParsePostfix(new FilterExpr(expr, name, args, line));
            }
            else if (IsName("is"))
            {
                int line = Next().Line;
                bool negated = false;
                if (IsName("not"))
                {
                    _pos++;
                    negated = true;
                }
                string name = Current.Kind == TokenKind.Name ? ParseDottedName()
                    : Current.Kind == TokenKind.Operator && CompareOps.Contains(Current.Value) ? Next().Value
                    : throw Unexpected("a test name");
                Arguments args;
                if (IsOperator("(")) args = ParseArguments();
                else if (StartsTestArgument()) args = new Arguments([ParsePostfix(ParsePrimary())], []);
                else args = Arguments.None;
                expr = new TestExpr(expr, name, args, negated, line);
            }
            else return expr;
        }
    }

    static readonly HashSet<string> NotAnArgument = ["else", "or", "and", "is", "in", "if", "not"];

    bool StartsTestArgument() => Current.Kind switch
    {
        TokenKind.String or TokenKind.Integer or TokenKind.Float => true,
        TokenKind.Name => !NotAnArgument.Contains(Current.Value),
        TokenKind.Operator => Current.Value is "[" or "{",
        _ => false,
    };

    Expr ParsePostfix(Expr expr)
    {
        while (true)
        {
            if (IsOperator("."))
            {
                int line = Next().Line;
                if (Current.Kind == TokenKind.Integer)
                    expr = new ItemExpr(expr, new LiteralExpr(long.Parse(Next().Value, CultureInfo.InvariantCulture), line), line);
                else expr = new AttributeExpr(expr, ExpectIdentifier(), line);
            }
            else if (IsOperator("["))
            {
                int line = Next().Line;
                expr = ParseSubscript(expr, line);
            }
            else if (IsOperator("("))
            {
                int line = Current.Line;
                expr = new CallExpr(expr, ParseArguments(), line);
            }
            else return expr;
        }
    }

    Expr ParseSubscript(Expr target, int line)
    {
        Expr? start = null, stop = null, step = null;
        if (!IsOperator(":")) start = ParseExpression();
        if (!IsOperator(":"))
        {
            Expect("]");
            return new ItemExpr(target, start!, line);
        }
        _pos++;
        if (!IsOperator(":") && !IsOperator("]")) stop = ParseExpression();
        if (IsOperator(":"))
        {
            _pos++;
            if (!IsOperator("]")) step = ParseExpression();
        }
        Expect("]");
        return new SliceExpr(target, start, stop, step, line);
    }

    Arguments ParseArguments()
    {
        Expect("(");
        var positional = new List<Expr>();
        var named = new List<(string, Expr)>();
        while (!IsOperator(")"))
        {
            if (positional.Count + named.Count > 0)
            {
                Expect(",");
                if (IsOperator(")")) break;
            }
            if (Current.Kind == TokenKind.Name && _tokens[_pos + 1].Kind == TokenKind.Operator && _tokens[_pos + 1].Value == "=")
            {
                string name = Next().Value;
                _pos++;
                named.Add((name, ParseExpression()));
            }
            else
            {
                if (named.Count > 0) throw new TemplateException("positional argument after a keyword argument", Current.Line);
                positional.Add(ParseExpression());
            }
        }
        _pos++;
        return new Arguments(positional, named);
    }

    Expr ParsePrimary()
    {
        Token t = Current;
        switch (t.Kind)
        {
            case TokenKind.String:
            {
                _pos++;
                string value = t.Value;
                while (Current.Kind == TokenKind.String) value += Next().Value;
                return new LiteralExpr(value, t.Line);
            }
            case TokenKind.Integer:
                _pos++;
                return new LiteralExpr(long.Parse(t.Value, CultureInfo.InvariantCulture), t.Line);
            case TokenKind.Float:
                _pos++;
                return new LiteralExpr(double.Parse(t.Value, CultureInfo.InvariantCulture), t.Line);
            case TokenKind.Name:
                _pos++;
                return t.Value switch
                {
                    "true" or "True" => new LiteralExpr(true, t.Line),
                    "false" or "False" => new LiteralExpr(false, t.Line),
                    "none" or "None" => new LiteralExpr(null, t.Line),
                    _ => new NameExpr(t.Value, t.Line),
                };
            case TokenKind.Operator when t.Value == "(":
            {
                _pos++;
                if (IsOperator(")"))
                {
                    _pos++;
                    return new ListExpr([], true, t.Line);
                }
                var first = ParseExpression();
                if (IsOperator(")"))
                {
                    _pos++;
                    return first;
                }
                var items = new List<Expr> { first };
                while (IsOperator(","))
                {
                    _pos++;
                    if (IsOperator(")")) break;
                    items.Add(ParseExpression());
                }
                Expect(")");
                return new ListExpr(items, true, t.Line);
            }
            case TokenKind.Operator when t.Value == "[":
            {
                _pos++;
                var items = new List<Expr>();
                while (!IsOperator("]"))
                {
                    if (items.Count > 0)
                    {
                        Expect(",");
                        if (IsOperator("]")) break;
                    }
                    items.Add(ParseExpression());
                }
                _pos++;
                return new ListExpr(items, false, t.Line);
            }
            case TokenKind.Operator when t.Value == "{":
            {
                _pos++;
                var items = new List<(Expr, Expr)>();
                while (!IsOperator("}"))
                {
                    if (items.Count > 0)
                    {
                        Expect(",");
                        if (IsOperator("}")) break;
                    }
                    var key = ParseExpression();
                    Expect(":");
                    items.Add((key, ParseExpression()));
                }
                _pos++;
                return new DictExpr(items, t.Line);
            }
            default:
                throw Unexpected("an expression");
        }
    }
}
