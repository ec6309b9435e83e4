using System.Globalization;
using System.Text;

namespace Sling.Chat.Jinja;

/// <summary>A name or attribute that does not exist: prints as nothing, is false, iterates as empty,
/// and fails with Jinja's message when used for anything else.</summary>
internal sealed class Undefined(string message)
{
    public string Message { get; } = message;

    public static Undefined Named(string name) => new($"'{name}' is undefined");

    public static Undefined Attribute(object? owner, string name) =>
        new($"'{TemplateValues.TypeDescription(owner)}' has no attribute '{name}'");

    public TemplateException Fail() => new(Message);
}

/// <summary>The result of <c>namespace(...)</c>: the one object a template may assign attributes to.</summary>
internal sealed class Namespace
{
    public OrderedDictionary<string, object?> Values { get; } = new();
}

/// <summary>A Python tuple: a list that prints with parentheses.</summary>
internal sealed class TupleValue(IEnumerable<object?> items) : List<object?>(items);

/// <summary>What Jinja's map/select/reject/unique filters return: a lazy iterator, so it iterates but
/// has no length, no items and no JSON form until <c>|list</c> makes it a list.</summary>
internal sealed class GeneratorValue(List<object?> items, string typeName = "generator")
{
    public List<object?> Items { get; } = items;
    public string TypeName { get; } = typeName;
}

/// <summary>A function callable from a template (globals, bound methods, macros).</summary>
internal sealed class TemplateFunction(string name, Func<List<object?>, Dictionary<string, object?>, object?> body)
{
    public string Name { get; } = name;

    public object? Invoke(List<object?> args, Dictionary<string, object?> kwargs) => body(args, kwargs);
}

/// <summary>
/// Python semantics for the values a template sees: None, bool, int (long), float (double), str,
/// list (<see cref="List{T}"/>), dict (<see cref="OrderedDictionary{TKey,TValue}"/>, insertion order).
/// </summary>
internal static class TemplateValues
{
    public static bool IsTrue(object? v) => v switch
    {
        null or Undefined => false,
        bool b => b,
        GeneratorValue => true,
        long l => l != 0,
        double d => d != 0,
        string s => s.Length > 0,
        List<object?> l => l.Count > 0,
        OrderedDictionary<string, object?> d => d.Count > 0,
        _ => true,
    };

    public static string TypeName(object? v) => v switch
    {
        null => "NoneType",
        bool => "bool",
        long => "int",
        double => "float",
        string => "str",
        TupleValue => "tuple",
        List<object?> => "list",
        OrderedDictionary<string, object?> => "dict",
        Undefined => "Undefined",
        GeneratorValue g => g.TypeName,
        Namespace => "Namespace",
        TemplateFunction => "function",
        LoopContext => "LoopContext",
        _ => v.GetType().Name,
    };

    /// <summary>Jinja's <c>object_type_repr</c>, used in "has no attribute" messages.</summary>
    public static string TypeDescription(object? v) => v is null ? "None" : $"{TypeName(v)} object";

    /// <summary>Python's <c>str()</c>.</summary>
    public static string ToStr(object? v) => v switch
    {
        string s => s,
        Undefined => "",
        _ => Repr(v),
    };

    /// <summary>Python's <c>repr()</c>, used inside lists and dicts.</summary>
    public static string Repr(object? v)
    {
        switch (v)
        {
            case null: return "None";
            case bool b: return b ? "True" : "False";
            case long l: return l.ToString(CultureInfo.InvariantCulture);
            case double d: return FloatRepr(d);
            case string s: return StringRepr(s);
            case Undefined: return "";
            case TupleValue tuple:
                return "(" + string.Join(", ", tuple.Select(Repr)) + (tuple.Count == 1 ? ",)" : ")");
            case GeneratorValue g: return $"<{g.TypeName} object at 0x7f0000000000>";
            case List<object?> list:
                return "[" + string.Join(", ", list.Select(Repr)) + "]";
            case OrderedDictionary<string, object?> dict:
                return "{" + string.Join(", ", dict.Select(kv => StringRepr(kv.Key) + ": " + Repr(kv.Value))) + "}";
            case Namespace ns:
                return "<Namespace " + Repr(ToDict(ns)) + ">";
            case TemplateFunction f: return $"<function {f.Name}>";
            default: return v.ToString() ?? "";
        }
    }

    static OrderedDictionary<string, object?> ToDict(Namespace ns)
    {
        var d = new OrderedDictionary<string, object?>();
        foreach (var kv in ns.Values) d[kv.Key] = kv.Value;
        return d;
    }

    /// <summary>Python's float repr: shortest round-trip digits, exponent form outside [1e-4, 1e16).</summary>
    public static string FloatRepr(double d)
    {
        if (double.IsNaN(d)) return "nan";
        if (double.IsInfinity(d)) return d > 0 ? "inf" : "-inf";
        if (d == 0) return double.IsNegative(d) ? "-0.0" : "0.0";
        // The shortest digit string that round-trips, as Python's repr chooses it.
        string r = d.ToString("E16", CultureInfo.InvariantCulture);
        for (int precision = 1; precision <= 17; precision++)
        {
            string e = d.ToString("E" + (precision - 1), CultureInfo.InvariantCulture);
            if (double.Parse(e, CultureInfo.InvariantCulture) != d) continue;
            r = e;
            break;
        }
        int ePos = r.IndexOf('E');
        int exponent = int.Parse(r[(ePos + 1)..], CultureInfo.InvariantCulture);
        string digits = r[..ePos].TrimStart('-').Replace(".", "").TrimEnd('0');
        if (digits.Length == 0) digits = "0";
        string sign = d < 0 ? "-" : "";
        if (exponent < -4 || exponent >= 16)
        {
            string m = digits.Length == 1 ? digits : digits[0] + "." + digits[1..];
            return $"{sign}{m}e{(exponent < 0 ? "-" : "+")}{Math.Abs(exponent):00}";
        }
        if (exponent < 0) return sign + "0." + new string('0', -exponent - 1) + digits;
        if (digits.Length <= exponent + 1) return sign + digits + new string('0', exponent + 1 - digits.Length) + ".0";
        return sign + digits[..(exponent + 1)] + "." + digits[(exponent + 1)..];
    }

    public static string StringRepr(string s)
    {
        char quote = s.Contains('\'') && !s.Contains('"') ? '"' : '\'';
        var sb = new StringBuilder().Append(quote);
        foreach (char c in s)
        {
            switch (c)
            {
                case '\\': sb.Append("\\\\"); break;
                case '\n': sb.Append("\\n"); break;
                case '\r': sb.Append("\\r"); break;
                case '\t': sb.Append("\\t"); break;
                default:
                    if (c == quote) sb.Append('\\').Append(c);
                    else if (c < 0x20 || c == 0x7f) sb.Append("\\x").Append(((int)c).ToString("x2", CultureInfo.InvariantCulture));
                    else sb.Append(c);
                    break;
            }
        }
        return sb.Append(quote).ToString();
    }

    /// <summary>Python's <c>json.dumps(v, ensure_ascii=False, indent, separators, sort_keys)</c>, as transformers' <c>tojson</c>.</summary>
    public static string ToJson(object? v, int? indent = null, bool sortKeys = false, (string Item, string Key)? separators = null)
    {
        var sb = new StringBuilder();
        var seps = separators ?? (indent is null ? (", ", ": ") : (",", ": "));
        WriteJson(sb, v, indent, sortKeys, seps, 0);
        return sb.ToString();
    }

    static void WriteJson(StringBuilder sb, object? v, int? indent, bool sortKeys, (string Item, string Key) seps, int level)
    {
        switch (v)
        {
            case null: sb.Append("null"); return;
            case bool b: sb.Append(b ? "true" : "false"); return;
            case long l: sb.Append(l.ToString(CultureInfo.InvariantCulture)); return;
            case double d:
                sb.Append(double.IsNaN(d) ? "NaN" : double.IsInfinity(d) ? (d > 0 ? "Infinity" : "-Infinity") : FloatRepr(d));
                return;
            case string s: WriteJsonString(sb, s); return;
            case List<object?> list:
                WriteContainer(sb, '[', ']', list.Count, indent, seps, level, (i, lvl) => WriteJson(sb, list[i], indent, sortKeys, seps, lvl));
                return;
            case OrderedDictionary<string, object?> dict:
            {
                var keys = dict.Keys.ToList();
                if (sortKeys) keys.Sort(string.CompareOrdinal);
                WriteContainer(sb, '{', '}', keys.Count, indent, seps, level, (i, lvl) =>
                {
                    WriteJsonString(sb, keys[i]);
                    sb.Append(seps.Key);
                    WriteJson(sb, dict[keys[i]], indent, sortKeys, seps, lvl);
                });
                return;
            }
            case Namespace ns: WriteJson(sb, ToDict(ns), indent, sortKeys, seps, level); return;
            default:
                throw new TemplateException($"Object of type {TypeName(v)} is not JSON serializable");
        }
    }

    static void WriteContainer(StringBuilder sb, char open, char close, int count, int? indent, (string Item, string Key) seps, int level, Action<int, int> item)
    {
        sb.Append(open);
        if (count == 0)
        {
            sb.Append(close);
            return;
        }
        for (int i = 0; i < count; i++)
        {
            if (i > 0) sb.Append(seps.Item);
            if (indent is int n) sb.Append('\n').Append(' ', n * (level + 1));
            item(i, level + 1);
        }
        if (indent is int m) sb.Append('\n').Append(' ', m * level);
        sb.Append(close);
    }

    static void WriteJsonString(StringBuilder sb, string s)
    {
        sb.Append('"');
        foreach (char c in s)
        {
            switch (c)
            {
                case '"': sb.Append("\\\""); break;
                case '\\': sb.Append("\\\\"); break;
                case '\n': sb.Append("\\n"); break;
                case '\r': sb.Append("\\r"); break;
                case '\t': sb.Append("\\t"); break;
                case '\b': sb.Append("\\b"); break;
                case '\f': sb.Append("\\f"); break;
                default:
                    if (c < 0x20) sb.Append("\\u").Append(((int)c).ToString("x4", CultureInfo.InvariantCulture));
                    else sb.Append(c);
                    break;
            }
        }
        sb.Append('"');
    }

    public static bool IsNumber(object? v) => v is long or double or bool;

    static double AsDouble(object? v) => v switch
    {
        long l => l,
        double d => d,
        bool b => b ? 1 : 0,
        _ => throw new InvalidOperationException(),
    };

    /// <summary>Python's <c>==</c>.</summary>
    public static bool AreEqual(object? a, object? b)
    {
        if (a is null || b is null) return a is null && b is null;
        if (IsNumber(a) && IsNumber(b))
            return a is double || b is double ? AsDouble(a) == AsDouble(b) : AsLong(a) == AsLong(b);
        switch (a)
        {
            case string s: return b is string t && s == t;
            case Undefined: return b is Undefined;
            case List<object?> x when b is List<object?> y:
                if (x.Count != y.Count) return false;
                for (int i = 0; i < x.Count; i++) if (!AreEqual(x[i], y[i])) return false;
                return true;
            case OrderedDictionary<string, object?> x when b is OrderedDictionary<string, object?> y:
                if (x.Count != y.Count) return false;
                foreach (var kv in x)
                    if (!y.TryGetValue(kv.Key, out var other) || !AreEqual(kv.Value, other)) return false;
                return true;
            default: return ReferenceEquals(a, b);
        }
    }

    public static long AsLong(object? v) => v switch
    {
        long l => l,
        bool b => b ? 1 : 0,
        double d => (long)d,
        _ => throw new InvalidOperationException(),
    };

    /// <summary>Python's ordering (<c>&lt;</c> and friends): numbers, strings, lists.</summary>
    public static int Compare(object? a, object? b, string op)
    {
        if (a is Undefined ua) throw ua.Fail();
        if (b is Undefined ub) throw ub.Fail();
        if (IsNumber(a) && IsNumber(b))
            return a is double || b is double ? AsDouble(a).CompareTo(AsDouble(b)) : AsLong(a).CompareTo(AsLong(b));
        if (a is string s && b is string t) return string.CompareOrdinal(s, t);
        if (a is List<object?> x && b is List<object?> y)
        {
            for (int i = 0; i < Math.Min(x.Count, y.Count); i++)
                if (!AreEqual(x[i], y[i])) return Compare(x[i], y[i], op);
            return x.Count.CompareTo(y.Count);
        }
        throw new TemplateException($"'{op}' not supported between instances of '{TypeName(a)}' and '{TypeName(b)}'");
    }

    /// <summary>Python's iteration: list items, dict keys, string characters; undefined is empty.</summary>
    public static IEnumerable<object?> Iterate(object? v) => v switch
    {
        List<object?> l => l,
        GeneratorValue g => g.Items,
        OrderedDictionary<string, object?> d => d.Keys.Cast<object?>(),
        string s => Characters(s),
        Undefined => [],
        Namespace ns => ns.Values.Keys.Cast<object?>(),
        _ => throw new TemplateException($"'{TypeName(v)}' object is not iterable"),
    };

    public static IEnumerable<object?> Characters(string s)
    {
        for (int i = 0; i < s.Length; i += char.IsSurrogatePair(s, i) ? 2 : 1)
            yield return char.IsSurrogatePair(s, i) ? s.Substring(i, 2) : s[i].ToString();
    }

    /// <summary>Python's <c>len()</c> (strings count code points).</summary>
    public static long Length(object? v) => v switch
    {
        string s => s.EnumerateRunes().Count(),
        List<object?> l => l.Count,
        OrderedDictionary<string, object?> d => d.Count,
        Undefined => 0,
        Namespace ns => ns.Values.Count,
        _ => throw new TemplateException($"object of type '{TypeName(v)}' has no len()"),
    };

    /// <summary>Python's <c>in</c>.</summary>
    public static bool Contains(object? container, object? item) => container switch
    {
        string s => item is string t ? s.Contains(t, StringComparison.Ordinal)
            : throw new TemplateException($"'in <string>' requires string as left operand, not {TypeName(item)}"),
        List<object?> l => l.Any(x => AreEqual(x, item)),
        GeneratorValue g => g.Items.Any(x => AreEqual(x, item)),
        OrderedDictionary<string, object?> d => item is string k && d.ContainsKey(k),
        Undefined => false,
        Namespace ns => item is string k && ns.Values.ContainsKey(k),
        _ => throw new TemplateException($"argument of type '{TypeName(container)}' is not iterable"),
    };

    /// <summary>Converts .NET data (JSON elements, dictionaries, lists, primitives) into template values.</summary>
    public static object? FromObject(object? v)
    {
        switch (v)
        {
            case null or bool or long or double or string or Undefined or Namespace or TemplateFunction: return v;
            case int i: return (long)i;
            case float f: return (double)f;
            case decimal m: return (double)m;
            case System.Text.Json.JsonElement e: return FromJson(e);
            case System.Collections.IDictionary d:
            {
                var result = new OrderedDictionary<string, object?>();
                foreach (System.Collections.DictionaryEntry kv in d) result[Convert.ToString(kv.Key, CultureInfo.InvariantCulture)!] = FromObject(kv.Value);
                return result;
            }
            case IEnumerable<KeyValuePair<string, object?>> pairs:
            {
                var result = new OrderedDictionary<string, object?>();
                foreach (var kv in pairs) result[kv.Key] = FromObject(kv.Value);
                return result;
            }
            case System.Collections.IEnumerable e:
                return e.Cast<object?>().Select(FromObject).ToList();
            default: return v.ToString();
        }
    }

    public static object? FromJson(System.Text.Json.JsonElement e) => e.ValueKind switch
    {
        System.Text.Json.JsonValueKind.Object => e.EnumerateObject().Aggregate(new OrderedDictionary<string, object?>(), (d, p) => { d[p.Name] = FromJson(p.Value); return d; }),
        System.Text.Json.JsonValueKind.Array => e.EnumerateArray().Select(FromJson).ToList(),
        System.Text.Json.JsonValueKind.String => e.GetString(),
        System.Text.Json.JsonValueKind.Number => e.TryGetInt64(out long l) ? (object)l : e.GetDouble(),
        System.Text.Json.JsonValueKind.True => true,
        System.Text.Json.JsonValueKind.False => false,
        _ => null,
    };
}
