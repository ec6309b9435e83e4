namespace Sling.Chat.Jinja;

/// <summary>Jinja's built-in tests (<c>x is defined</c>, <c>x is string</c>, ...).</summary>
internal static class TemplateTests
{
    public static bool Apply(string name, object? v, List<object?> args, Dictionary<string, object?> kwargs)
    {
        object? Other() => args.Count > 0 ? args[0] : kwargs.TryGetValue("other", out var o) ? o : throw new TemplateException($"test '{name}' needs an argument");
        return name switch
        {
            "defined" => v is not Undefined,
            "undefined" => v is Undefined,
            "none" => v is null,
            "string" => v is string,
            "number" => v is long or double or bool,
            "integer" => v is long,
            "float" => v is double,
            "boolean" => v is bool,
            "true" => v is true,
            "false" => v is false,
            "mapping" => v is OrderedDictionary<string, object?>,
            "iterable" => v is string or List<object?> or OrderedDictionary<string, object?> or Undefined or Namespace,
            "sequence" => v is string or List<object?> or OrderedDictionary<string, object?> or Undefined,
            "callable" => v is TemplateFunction,
            "sameas" => ReferenceEquals(v, Other()) || (v is null && Other() is null) || (v is bool b && Other() is bool c && b == c),
            "eq" or "equalto" or "==" => TemplateValues.AreEqual(v, Other()),
            "ne" or "!=" => !TemplateValues.AreEqual(v, Other()),
            "lt" or "lessthan" or "<" => TemplateValues.Compare(v, Other(), "<") < 0,
            "le" or "<=" => TemplateValues.Compare(v, Other(), "<=") <= 0,
            "gt" or "greaterthan" or ">" => TemplateValues.Compare(v, Other(), ">") > 0,
            "ge" or ">=" => TemplateValues.Compare(v, Other(), ">=") >= 0,
            "in" => TemplateValues.Contains(Other(), v),
            "divisibleby" => TemplateValues.AsLong(v) % TemplateValues.AsLong(Other()) == 0,
            "even" => TemplateValues.AsLong(v) % 2 == 0,
            "odd" => TemplateValues.AsLong(v) % 2 != 0,
            "lower" => TemplateValues.ToStr(v) is var s && s.ToLowerInvariant() == s,
            "upper" => TemplateValues.ToStr(v) is var u && u.ToUpperInvariant() == u,
            "escaped" => false,
            "filter" => TemplateFilters.Exists(TemplateValues.ToStr(v)),
            "test" => Exists(TemplateValues.ToStr(v)),
            _ => throw new TemplateException($"No test named '{name}'."),
        };
    }

    static readonly HashSet<string> Names =
    [
        "defined", "undefined", "none", "string", "number", "integer", "float", "boolean", "true", "false", "mapping",
        "iterable", "sequence", "callable", "sameas", "eq", "equalto", "==", "ne", "!=", "lt", "lessthan", "<", "le", "<=",
        "gt", "greaterthan", ">", "ge", ">=", "in", "divisibleby", "even", "odd", "lower", "upper", "escaped", "filter", "test",
    ];

    static bool Exists(string name) => Names.Contains(name);
}
