using System.Text;

namespace Sling.Chat.Jinja;

/// <summary>Evaluates a parsed template against variables, with Jinja's scoping: <c>for</c> bodies
/// and macros get their own scope (hence <c>namespace()</c>), <c>if</c> does not.</summary>
internal sealed class TemplateRenderer
{
    sealed class Scope(Scope? parent)
    {
        readonly Dictionary<string, object?> _vars = new();

        public Scope? Parent { get; } = parent;

        public bool TryGet(string name, out object? value)
        {
            for (var s = this; s is not null; s = s.Parent)
                if (s._vars.TryGetValue(name, out value)) return true;
            value = null;
            return false;
        }

        public void Set(string name, object? value) => _vars[name] = value;
    }

    enum Flow { Normal, Break, Continue }

    readonly Scope _globals;

    public TemplateRenderer(IReadOnlyDictionary<string, object?> variables)
    {
        _globals = new Scope(null);
        foreach (var kv in variables) _globals.Set(kv.Key, kv.Value);
    }

    public string Render(List<Node> template)
    {
        var output = new StringBuilder();
        Execute(template, new Scope(_globals), output);
        return output.ToString();
    }

    Flow Execute(List<Node> nodes, Scope scope, StringBuilder output)
    {
        foreach (var node in nodes)
        {
            var flow = Execute(node, scope, output);
            if (flow != Flow.Normal) return flow;
        }
        return Flow.Normal;
    }

    Flow Execute(Node node, Scope scope, StringBuilder output)
    {
        try
        {
            return ExecuteCore(node, scope, output);
        }
        catch (TemplateException e) when (e.Line == 0)
        {
            throw new TemplateException(e.Message, node.Line) { Raised = e.Raised };
        }
    }

    Flow ExecuteCore(Node node, Scope scope, StringBuilder output)
    {
        switch (node)
        {
            case TextNode t:
                output.Append(t.Text);
                return Flow.Normal;
            case OutputNode o:
                output.Append(TemplateValues.ToStr(Evaluate(o.Value, scope)));
                return Flow.Normal;
            case IfNode i:
                foreach (var (condition, body) in i.Branches)
                    if (TemplateValues.IsTrue(Evaluate(condition, scope))) return Execute(body, scope, output);
                return i.Else is null ? Flow.Normal : Execute(i.Else, scope, output);
            case ForNode f:
                ExecuteFor(f, scope, output);
                return Flow.Normal;
            case SetNode s:
                Assign(s, Evaluate(s.Value, scope), scope);
                return Flow.Normal;
            case SetBlockNode sb:
                scope.Set(sb.Target, RenderFiltered(sb.Body, sb.Filters, scope));
                return Flow.Normal;
            case MacroNode m:
                scope.Set(m.Name, MakeMacro(m.Name, m.Parameters, m.Body, scope));
                return Flow.Normal;
            case CallBlockNode c:
            {
                var caller = MakeMacro("caller", c.Parameters, c.Body, scope);
                var callee = Evaluate(c.Call.Callee, scope);
                var (args, kwargs) = EvaluateArguments(c.Call.Args, scope);
                kwargs["caller"] = caller;
                output.Append(TemplateValues.ToStr(Invoke(callee, args, kwargs)));
                return Flow.Normal;
            }
            case FilterBlockNode fb:
                output.Append(TemplateValues.ToStr(RenderFiltered(fb.Body, fb.Filters, scope)));
                return Flow.Normal;
            case BreakNode: return Flow.Break;
            case ContinueNode: return Flow.Continue;
            case DoNode d:
                Evaluate(d.Value, scope);
                return Flow.Normal;
            default:
                throw new TemplateException($"unknown statement {node.GetType().Name}", node.Line);
        }
    }

    /// <summary>A block's output passed through filters (<c>{% set x | f %}</c>, <c>{% filter f %}</c>).</summary>
    object? RenderFiltered(List<Node> body, List<(string Name, Arguments Args)> filters, Scope scope)
    {
        var inner = new StringBuilder();
        Execute(body, scope, inner);
        object? value = inner.ToString();
        foreach (var (name, args) in filters) value = ApplyFilter(name, value, args, scope);
        return value;
    }

    void ExecuteFor(ForNode f, Scope scope, StringBuilder output)
    {
        var source = TemplateValues.Iterate(Evaluate(f.Iterable, scope)).ToList();
        var items = new List<object?>();
        if (f.Filter is null) items = source;
        else
        {
            foreach (var item in source)
            {
                var probe = new Scope(scope);
                Bind(f.Targets, item, probe);
                if (TemplateValues.IsTrue(Evaluate(f.Filter, probe))) items.Add(item);
            }
        }
        if (items.Count == 0)
        {
            if (f.Else is not null) Execute(f.Else, new Scope(scope), output);
            return;
        }
        var loop = new LoopContext(items);
        for (int i = 0; i < items.Count; i++)
        {
            loop.Index0 = i;
            var body = new Scope(scope);
            body.Set("loop", loop);
            Bind(f.Targets, items[i], body);
            if (Execute(f.Body, body, output) == Flow.Break) break;
        }
    }

    static void Bind(List<string> targets, object? value, Scope scope)
    {
        if (targets.Count == 1)
        {
            scope.Set(targets[0], value);
            return;
        }
        var parts = TemplateValues.Iterate(value).ToList();
        if (parts.Count != targets.Count)
            throw new TemplateException($"cannot unpack {parts.Count} values into {targets.Count} names");
        for (int i = 0; i < targets.Count; i++) scope.Set(targets[i], parts[i]);
    }

    void Assign(SetNode s, object? value, Scope scope)
    {
        if (s.Attribute is null)
        {
            Bind(s.Targets, value, scope);
            return;
        }
        if (!scope.TryGet(s.Targets[0], out var target) || target is not Namespace ns)
            throw new TemplateException("cannot assign attribute on non-namespace object");
        ns.Values[s.Attribute] = value;
    }

    TemplateFunction MakeMacro(string name, List<(string Name, Expr? Default)> parameters, List<Node> body, Scope defining) =>
        new(name, (args, kwargs) =>
        {
            var scope = new Scope(defining);
            for (int i = 0; i < parameters.Count; i++)
            {
                var (p, defaultValue) = parameters[i];
                if (i < args.Count) scope.Set(p, args[i]);
                else if (kwargs.TryGetValue(p, out var v)) scope.Set(p, v);
                else scope.Set(p, defaultValue is null ? Undefined.Named(p) : Evaluate(defaultValue, scope));
            }
            scope.Set("varargs", args.Skip(parameters.Count).ToList());
            var extra = new OrderedDictionary<string, object?>();
            foreach (var kv in kwargs)
                if (kv.Key != "caller" && !parameters.Exists(p => p.Name == kv.Key)) extra[kv.Key] = kv.Value;
            scope.Set("kwargs", extra);
            if (kwargs.TryGetValue("caller", out var caller)) scope.Set("caller", caller);
            var output = new StringBuilder();
            Execute(body, scope, output);
            return output.ToString();
        });

    // ---- expressions ----

    object? Evaluate(Expr expr, Scope scope)
    {
        switch (expr)
        {
            case LiteralExpr l: return l.Value;
            case NameExpr n: return scope.TryGet(n.Name, out var v) ? v : Undefined.Named(n.Name);
            case ListExpr l when l.IsTuple: return new TupleValue(l.Items.Select(i => Evaluate(i, scope)));
            case ListExpr l: return l.Items.Select(i => Evaluate(i, scope)).ToList();
            case DictExpr d:
            {
                var dict = new OrderedDictionary<string, object?>();
                foreach (var (key, value) in d.Items) dict[TemplateValues.ToStr(Evaluate(key, scope))] = Evaluate(value, scope);
                return dict;
            }
            case AttributeExpr a: return TemplateMethods.GetAttribute(Evaluate(a.Target, scope), a.Name);
            case ItemExpr i: return TemplateMethods.GetItem(Evaluate(i.Target, scope), Evaluate(i.Key, scope));
            case SliceExpr s:
                return TemplateMethods.Slice(Evaluate(s.Target, scope),
                    s.Start is null ? null : Evaluate(s.Start, scope),
                    s.Stop is null ? null : Evaluate(s.Stop, scope),
                    s.Step is null ? null : Evaluate(s.Step, scope));
            case CallExpr c:
            {
                var callee = Evaluate(c.Callee, scope);
                var (args, kwargs) = EvaluateArguments(c.Args, scope);
                return Invoke(callee, args, kwargs);
            }
            case FilterExpr f: return ApplyFilter(f.Name, Evaluate(f.Input, scope), f.Args, scope);
            case TestExpr t:
            {
                var input = Evaluate(t.Input, scope);
                var (args, kwargs) = EvaluateArguments(t.Args, scope);
                bool result = TemplateTests.Apply(t.Name, input, args, kwargs);
                return result != t.Negated;
            }
            case UnaryExpr u:
            {
                var operand = Evaluate(u.Operand, scope);
                return u.Op switch
                {
                    "not" => !TemplateValues.IsTrue(operand),
                    "-" => TemplateOperators.Negate(operand),
                    _ => TemplateOperators.Plus(operand),
                };
            }
            case BinaryExpr b:
            {
                if (b.Op == "and")
                {
                    var left = Evaluate(b.Left, scope);
                    return TemplateValues.IsTrue(left) ? Evaluate(b.Right, scope) : left;
                }
                if (b.Op == "or")
                {
                    var left = Evaluate(b.Left, scope);
                    return TemplateValues.IsTrue(left) ? left : Evaluate(b.Right, scope);
                }
                return TemplateOperators.Binary(b.Op, Evaluate(b.Left, scope), Evaluate(b.Right, scope));
            }
            case CompareExpr c:
            {
                var left = Evaluate(c.First, scope);
                foreach (var (op, operandExpr) in c.Rest)
                {
                    var right = Evaluate(operandExpr, scope);
                    if (!TemplateOperators.Compare(op, left, right)) return false;
                    left = right;
                }
                return true;
            }
            case ConditionalExpr c:
                return TemplateValues.IsTrue(Evaluate(c.Condition, scope)) ? Evaluate(c.Then, scope)
                    : c.Else is null ? Undefined.Named("conditional expression") : Evaluate(c.Else, scope);
            default:
                throw new TemplateException($"unknown expression {expr.GetType().Name}", expr.Line);
        }
    }

    (List<object?>, Dictionary<string, object?>) EvaluateArguments(Arguments a, Scope scope)
    {
        var args = a.Positional.Select(e => Evaluate(e, scope)).ToList();
        var kwargs = new Dictionary<string, object?>();
        foreach (var (name, value) in a.Named) kwargs[name] = Evaluate(value, scope);
        return (args, kwargs);
    }

    static object? Invoke(object? callee, List<object?> args, Dictionary<string, object?> kwargs) => callee switch
    {
        TemplateFunction f => f.Invoke(args, kwargs),
        Undefined u => throw u.Fail(),
        _ => throw new TemplateException($"'{TemplateValues.TypeName(callee)}' object is not callable"),
    };

    object? ApplyFilter(string name, object? input, Arguments arguments, Scope scope)
    {
        var (args, kwargs) = EvaluateArguments(arguments, scope);
        return TemplateFilters.Apply(name, input, args, kwargs);
    }
}
