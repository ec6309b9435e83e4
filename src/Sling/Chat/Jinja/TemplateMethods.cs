namespace Sling.Chat.Jinja;

/// <summary>Attribute and item access as Jinja's sandbox does it (<c>a.b</c> tries the attribute,
/// then the item; <c>a['b']</c> the item, then the attribute), with the Python methods templates call
/// on strings and dicts. Mutating methods are refused, as in transformers' immutable sandbox.</summary>
internal static class TemplateMethods
{
    public static object? GetAttribute(object? target, string name)
    {
        switch (target)
        {
            case Undefined u: throw u.Fail();
            case OrderedDictionary<string, object?> d:
                return DictMethod(d, name) ?? (d.TryGetValue(name, out var v) ? v : Undefined.Attribute(d, name));
            case Namespace ns:
                return ns.Values.TryGetValue(name, out var nv) ? nv : Undefined.Attribute(ns, name);
            case LoopContext loop: return loop.Get(name);
            case string s: return StringMethod(s, name) ?? Undefined.Attribute(s, name);
            case List<object?> l: return ListMethod(l, name) ?? Undefined.Attribute(l, name);
            default: return Undefined.Attribute(target, name);
        }
    }

    public static object? GetItem(object? target, object? key)
    {
        switch (target)
        {
            case Undefined u: throw u.Fail();
            case OrderedDictionary<string, object?> d when key is string k:
                return d.TryGetValue(k, out var v) ? v : DictMethod(d, k) ?? Undefined.Attribute(d, k);
            case List<object?> l when key is long or bool:
            {
                long i = TemplateValues.AsLong(key);
                if (i < 0) i += l.Count;
                return i >= 0 && i < l.Count ? l[(int)i] : new Undefined($"list object has no element {key}");
            }
            case string s when key is long or bool:
            {
                var chars = TemplateValues.Characters(s).ToList();
                long i = TemplateValues.AsLong(key);
                if (i < 0) i += chars.Count;
                return i >= 0 && i < chars.Count ? chars[(int)i] : new Undefined($"str object has no element {key}");
            }
            default:
                return key is string name ? GetAttribute(target, name)
                    : new Undefined($"'{TemplateValues.TypeDescription(target)}' has no element {TemplateValues.Repr(key)}");
        }
    }

    public static object? Slice(object? target, object? start, object? stop, object? step)
    {
        if (target is Undefined u) throw u.Fail();
        List<object?> items = target switch
        {
            List<object?> l => l,
            string s => TemplateValues.Characters(s).ToList(),
            _ => throw new TemplateException($"'{TemplateValues.TypeName(target)}' object is not subscriptable"),
        };
        long n = items.Count;
        long st = step is null ? 1 : TemplateValues.AsLong(step);
        if (st == 0) throw new TemplateException("slice step cannot be zero");
        long Clamp(object? v, long low, long high, long fallback)
        {
            if (v is null) return fallback;
            long i = TemplateValues.AsLong(v);
            if (i < 0) i += n;
            return Math.Clamp(i, low, high);
        }
        var result = new List<object?>();
        if (st > 0)
        {
            long a = Clamp(start, 0, n, 0), b = Clamp(stop, 0, n, n);
            for (long i = a; i < b; i += st) result.Add(items[(int)i]);
        }
        else
        {
            long a = Clamp(start, -1, n - 1, n - 1), b = Clamp(stop, -1, n - 1, -1);
            for (long i = a; i > b; i += st) result.Add(items[(int)i]);
        }
        return target is string ? string.Concat(result.Select(r => (string)r!)) : result;
    }

    static TemplateFunction Method(string name, Func<List<object?>, Dictionary<string, object?>, object?> body) => new(name, body);

    static object? Arg(List<object?> args, Dictionary<string, object?> kwargs, int index, string name, object? fallback = null) =>
        index < args.Count ? args[index] : kwargs.TryGetValue(name, out var v) ? v : fallback;

    static object? DictMethod(OrderedDictionary<string, object?> d, string name) => name switch
    {
        "get" => Method(name, (a, k) =>
        {
            var key = Arg(a, k, 0, "key");
            return key is string s && d.TryGetValue(s, out var v) ? v : Arg(a, k, 1, "default");
        }),
        "items" => Method(name, (_, _) => d.Select(kv => (object?)new TupleValue([kv.Key, kv.Value])).ToList()),
        "keys" => Method(name, (_, _) => d.Keys.Cast<object?>().ToList()),
        "values" => Method(name, (_, _) => d.Values.ToList()),
        "update" or "pop" or "popitem" or "clear" or "setdefault" => Unsafe(name, "dict"),
        _ => null,
    };

    static object? ListMethod(List<object?> l, string name) => name switch
    {
        "index" => Method(name, (a, k) =>
        {
            int i = l.FindIndex(x => TemplateValues.AreEqual(x, Arg(a, k, 0, "value")));
            return i >= 0 ? (long)i : throw new TemplateException($"{TemplateValues.Repr(Arg(a, k, 0, "value"))} is not in list");
        }),
        "count" => Method(name, (a, k) => (long)l.Count(x => TemplateValues.AreEqual(x, Arg(a, k, 0, "value")))),
        "append" or "extend" or "insert" or "pop" or "remove" or "clear" or "sort" or "reverse" => Unsafe(name, "list"),
        _ => null,
    };

    static object Unsafe(string name, string type) =>
        throw new TemplateException($"access to attribute '{name}' of '{type}' object is unsafe.");

    static object? StringMethod(string s, string name) => name switch
    {
        "strip" => Method(name, (a, k) => Strip(s, Arg(a, k, 0, "chars"), true, true)),
        "lstrip" => Method(name, (a, k) => Strip(s, Arg(a, k, 0, "chars"), true, false)),
        "rstrip" => Method(name, (a, k) => Strip(s, Arg(a, k, 0, "chars"), false, true)),
        "upper" => Method(name, (_, _) => s.ToUpperInvariant()),
        "lower" => Method(name, (_, _) => s.ToLowerInvariant()),
        "title" => Method(name, (_, _) => TemplateFilters.Title(s)),
        "capitalize" => Method(name, (_, _) => TemplateFilters.Capitalize(s)),
        "startswith" => Method(name, (a, k) => Affix(Arg(a, k, 0, "prefix"), p => s.StartsWith(p, StringComparison.Ordinal))),
        "endswith" => Method(name, (a, k) => Affix(Arg(a, k, 0, "suffix"), p => s.EndsWith(p, StringComparison.Ordinal))),
        "split" => Method(name, (a, k) => Split(s, Arg(a, k, 0, "sep"), Arg(a, k, 1, "maxsplit", -1L))),
        "splitlines" => Method(name, (_, _) => TemplateFilters.Lines(s).Select(x => (object?)x).ToList()),
        "replace" => Method(name, (a, k) => TemplateFilters.Replace(s, Arg(a, k, 0, "old"), Arg(a, k, 1, "new"), Arg(a, k, 2, "count"))),
        "find" => Method(name, (a, k) => (long)s.IndexOf(TemplateValues.ToStr(Arg(a, k, 0, "sub")), StringComparison.Ordinal)),
        "rfind" => Method(name, (a, k) => (long)s.LastIndexOf(TemplateValues.ToStr(Arg(a, k, 0, "sub")), StringComparison.Ordinal)),
        "count" => Method(name, (a, k) => CountOccurrences(s, TemplateValues.ToStr(Arg(a, k, 0, "sub")))),
        "join" => Method(name, (a, k) => string.Join(s, TemplateValues.Iterate(Arg(a, k, 0, "iterable")).Select(TemplateValues.ToStr))),
        "isdigit" => Method(name, (_, _) => s.Length > 0 && s.All(char.IsDigit)),
        "isalpha" => Method(name, (_, _) => s.Length > 0 && s.All(char.IsLetter)),
        "isspace" => Method(name, (_, _) => s.Length > 0 && s.All(char.IsWhiteSpace)),
        "islower" => Method(name, (_, _) => s.Any(char.IsLetter) && s.ToLowerInvariant() == s),
        "isupper" => Method(name, (_, _) => s.Any(char.IsLetter) && s.ToUpperInvariant() == s),
        _ => null,
    };

    static object Affix(object? affix, Func<string, bool> test) => affix switch
    {
        string p => test(p),
        List<object?> options => options.Any(o => test(TemplateValues.ToStr(o))),
        _ => throw new TemplateException("startswith/endswith arg must be str or a tuple of str"),
    };

    public static string Strip(string s, object? chars, bool left, bool right)
    {
        if (chars is null or Undefined)
            return left && right ? s.Trim() : left ? s.TrimStart() : s.TrimEnd();
        char[] set = TemplateValues.ToStr(chars).ToCharArray();
        return left && right ? s.Trim(set) : left ? s.TrimStart(set) : s.TrimEnd(set);
    }

    static List<object?> Split(string s, object? separator, object? maxSplit)
    {
        long max = maxSplit is null ? -1 : TemplateValues.AsLong(maxSplit);
        if (separator is null or Undefined)
        {
            // Python: runs of whitespace separate, no empty strings.
            var parts = new List<object?>();
            int i = 0;
            while (i < s.Length)
            {
                while (i < s.Length && char.IsWhiteSpace(s[i])) i++;
                if (i >= s.Length) break;
                if (max >= 0 && parts.Count == max)
                {
                    parts.Add(s[i..].TrimEnd());
                    break;
                }
                int start = i;
                while (i < s.Length && !char.IsWhiteSpace(s[i])) i++;
                parts.Add(s[start..i]);
            }
            return parts;
        }
        string sep = TemplateValues.ToStr(separator);
        if (sep.Length == 0) throw new TemplateException("empty separator");
        var pieces = max < 0 ? s.Split(sep) : s.Split(sep, (int)Math.Min(int.MaxValue, max + 1));
        return pieces.Select(p => (object?)p).ToList();
    }

    static long CountOccurrences(string s, string sub)
    {
        if (sub.Length == 0) return s.Length + 1;
        long n = 0;
        for (int i = s.IndexOf(sub, StringComparison.Ordinal); i >= 0; i = s.IndexOf(sub, i + sub.Length, StringComparison.Ordinal)) n++;
        return n;
    }
}
