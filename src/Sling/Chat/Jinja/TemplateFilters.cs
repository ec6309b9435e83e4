using System.Globalization;
using System.Text;

namespace Sling.Chat.Jinja;

/// <summary>Jinja's built-in filters that chat templates use, with transformers' <c>tojson</c>.</summary>
internal static class TemplateFilters
{
    delegate object? Filter(object? input, List<object?> args, Dictionary<string, object?> kwargs);

    static readonly Dictionary<string, Filter> Filters = new()
    {
        ["trim"] = (v, a, k) => TemplateMethods.Strip(TemplateValues.ToStr(v), Arg(a, k, 0, "chars"), true, true),
        ["length"] = (v, _, _) => TemplateValues.Length(v),
        ["count"] = (v, _, _) => TemplateValues.Length(v),
        ["string"] = (v, _, _) => TemplateValues.ToStr(v),
        ["safe"] = (v, _, _) => v,
        ["lower"] = (v, _, _) => TemplateValues.ToStr(v).ToLowerInvariant(),
        ["upper"] = (v, _, _) => TemplateValues.ToStr(v).ToUpperInvariant(),
        ["capitalize"] = (v, _, _) => Capitalize(TemplateValues.ToStr(v)),
        ["title"] = (v, _, _) => Title(TemplateValues.ToStr(v)),
        ["replace"] = (v, a, k) => Replace(TemplateValues.ToStr(v), Arg(a, k, 0, "old"), Arg(a, k, 1, "new"), Arg(a, k, 2, "count")),
        ["indent"] = (v, a, k) => Indent(TemplateValues.ToStr(v), Arg(a, k, 0, "width", 4L), TemplateValues.IsTrue(Arg(a, k, 1, "first", false)), TemplateValues.IsTrue(Arg(a, k, 2, "blank", false))),
        ["center"] = (v, a, k) => Center(TemplateValues.ToStr(v), (int)TemplateValues.AsLong(Arg(a, k, 0, "width", 80L))),
        ["wordcount"] = (v, _, _) => (long)System.Text.RegularExpressions.Regex.Matches(TemplateValues.ToStr(v), @"\w+").Count,
        ["escape"] = (v, _, _) => Escape(TemplateValues.ToStr(v)),
        ["e"] = (v, _, _) => Escape(TemplateValues.ToStr(v)),
        ["tojson"] = (v, a, k) => ToJson(v, a, k),
        ["items"] = (v, _, _) => v switch
        {
            Undefined => new GeneratorValue([]),
            OrderedDictionary<string, object?> d => new GeneratorValue(d.Select(kv => (object?)new TupleValue([kv.Key, kv.Value])).ToList()),
            _ => throw new TemplateException("Can only get item pairs from a mapping."),
        },
        ["list"] = (v, _, _) => TemplateValues.Iterate(v).ToList(),
        ["first"] = (v, _, _) => TemplateValues.Iterate(v).Take(1).ToList() is [var first] ? first : new Undefined("No first item, sequence was empty."),
        ["last"] = (v, _, _) => TemplateValues.Iterate(v).ToList() is { Count: > 0 } l ? l[^1] : new Undefined("No last item, sequence was empty."),
        ["reverse"] = (v, _, _) => v is string s ? new string(s.Reverse().ToArray())
            : new GeneratorValue(Enumerable.Reverse(TemplateValues.Iterate(v).ToList()).ToList(), "list_reverseiterator"),
        ["join"] = (v, a, k) => string.Join(TemplateValues.ToStr(Arg(a, k, 0, "d", "")),
            Attributes(TemplateValues.Iterate(v), Arg(a, k, 1, "attribute")).Select(TemplateValues.ToStr)),
        ["default"] = Default,
        ["d"] = Default,
        ["unique"] = (v, a, k) => new GeneratorValue(Unique(v, TemplateValues.IsTrue(Arg(a, k, 0, "case_sensitive", false)), Arg(a, k, 1, "attribute"))),
        ["sort"] = (v, a, k) => Sort(v, TemplateValues.IsTrue(Arg(a, k, 0, "reverse", false)), TemplateValues.IsTrue(Arg(a, k, 1, "case_sensitive", false)), Arg(a, k, 2, "attribute")),
        ["dictsort"] = (v, a, k) => DictSort(v, TemplateValues.IsTrue(Arg(a, k, 0, "case_sensitive", false)), TemplateValues.ToStr(Arg(a, k, 1, "by", "key")), TemplateValues.IsTrue(Arg(a, k, 2, "reverse", false))),
        ["min"] = (v, a, k) => Extreme(v, -1, TemplateValues.IsTrue(Arg(a, k, 0, "case_sensitive", false)), Arg(a, k, 1, "attribute")),
        ["max"] = (v, a, k) => Extreme(v, 1, TemplateValues.IsTrue(Arg(a, k, 0, "case_sensitive", false)), Arg(a, k, 1, "attribute")),
        ["sum"] = (v, a, k) => Attributes(TemplateValues.Iterate(v), Arg(a, k, 0, "attribute"))
            .Aggregate(Arg(a, k, 1, "start", 0L), (acc, x) => TemplateOperators.Binary("+", acc, x)),
        ["abs"] = (v, _, _) => v switch { long l => (object)Math.Abs(l), double d => Math.Abs(d), bool b => b ? 1L : 0L, _ => throw new TemplateException($"bad operand type for abs(): '{TemplateValues.TypeName(v)}'") },
        ["int"] = (v, a, k) => ToInt(v, Arg(a, k, 0, "default", 0L)),
        ["float"] = (v, a, k) => ToFloat(v, Arg(a, k, 0, "default", 0.0)),
        ["round"] = (v, a, k) => Round(v, (int)TemplateValues.AsLong(Arg(a, k, 0, "precision", 0L)), TemplateValues.ToStr(Arg(a, k, 1, "method", "common"))),
        ["map"] = (v, a, k) => new GeneratorValue(Map(v, a, k)),
        ["select"] = (v, a, k) => new GeneratorValue(Select(v, a, k, attribute: false, keep: true)),
        ["reject"] = (v, a, k) => new GeneratorValue(Select(v, a, k, attribute: false, keep: false)),
        ["selectattr"] = (v, a, k) => new GeneratorValue(Select(v, a, k, attribute: true, keep: true)),
        ["rejectattr"] = (v, a, k) => new GeneratorValue(Select(v, a, k, attribute: true, keep: false)),
        ["attr"] = (v, a, k) => TemplateMethods.GetAttribute(v, TemplateValues.ToStr(Arg(a, k, 0, "name"))),
    };

    public static bool Exists(string name) => Filters.ContainsKey(name);

    public static object? Apply(string name, object? input, List<object?> args, Dictionary<string, object?> kwargs)
    {
        if (!Filters.TryGetValue(name, out var filter)) throw new TemplateException($"No filter named '{name}'.");
        return filter(input, args, kwargs);
    }

    static object? Arg(List<object?> args, Dictionary<string, object?> kwargs, int index, string name, object? fallback = null) =>
        index < args.Count ? args[index] : kwargs.TryGetValue(name, out var v) ? v : fallback;

    static object? Default(object? v, List<object?> a, Dictionary<string, object?> k)
    {
        bool boolean = TemplateValues.IsTrue(Arg(a, k, 1, "boolean", false));
        bool replace = v is Undefined || (boolean && !TemplateValues.IsTrue(v));
        return replace ? Arg(a, k, 0, "default_value", "") : v;
    }

    static string ToJson(object? v, List<object?> a, Dictionary<string, object?> k)
    {
        if (v is Undefined u) throw u.Fail();
        object? indent = Arg(a, k, 0, "indent") ?? (k.TryGetValue("indent", out var i) ? i : null);
        (string, string)? separators = null;
        if (k.TryGetValue("separators", out var sep) && sep is List<object?> { Count: 2 } pair)
            separators = (TemplateValues.ToStr(pair[0]), TemplateValues.ToStr(pair[1]));
        return TemplateValues.ToJson(v, indent is null ? null : (int)TemplateValues.AsLong(indent),
            TemplateValues.IsTrue(k.GetValueOrDefault("sort_keys")), separators);
    }

    public static string Capitalize(string s) => s.Length == 0 ? s : char.ToUpperInvariant(s[0]) + s[1..].ToLowerInvariant();

    /// <summary>Jinja's <c>title</c>: words start upper case, the rest lower.</summary>
    public static string Title(string s)
    {
        var sb = new StringBuilder(s.Length);
        bool start = true;
        foreach (char c in s)
        {
            sb.Append(start ? char.ToUpperInvariant(c) : char.ToLowerInvariant(c));
            start = !char.IsLetterOrDigit(c) && c != '\'' || char.IsWhiteSpace(c) || c is '-' or '_' or '[' or '(' or '{' or '<';
        }
        return sb.ToString();
    }

    public static string Replace(string s, object? oldValue, object? newValue, object? count)
    {
        string o = TemplateValues.ToStr(oldValue), n = TemplateValues.ToStr(newValue);
        if (count is null or Undefined) return o.Length == 0 ? InsertEverywhere(s, n) : s.Replace(o, n, StringComparison.Ordinal);
        long max = TemplateValues.AsLong(count);
        var sb = new StringBuilder();
        int pos = 0;
        for (long done = 0; done < max && o.Length > 0; done++)
        {
            int at = s.IndexOf(o, pos, StringComparison.Ordinal);
            if (at < 0) break;
            sb.Append(s, pos, at - pos).Append(n);
            pos = at + o.Length;
        }
        return sb.Append(s, pos, s.Length - pos).ToString();
    }

    static string InsertEverywhere(string s, string n) => n + string.Concat(TemplateValues.Characters(s).Select(c => (string)c! + n));

    /// <summary>Python's <c>str.splitlines()</c>.</summary>
    public static List<string> Lines(string s)
    {
        var lines = new List<string>();
        int start = 0;
        for (int i = 0; i < s.Length; i++)
        {
            if (s[i] is not ('\n' or '\r' or '\v' or '\f' or '\x1c' or '\x1d' or '\x1e' or '\x85' or '\u2028' or '\u2029')) continue;
            lines.Add(s[start..i]);
            if (s[i] == '\r' && i + 1 < s.Length && s[i + 1] == '\n') i++;
            start = i + 1;
        }
        if (start < s.Length) lines.Add(s[start..]);
        return lines;
    }

    /// <summary>Jinja's <c>indent</c>: every line but the first (unless <paramref name="first"/>), blank lines only with <paramref name="blank"/>.</summary>
    static string Indent(string s, object? width, bool first, bool blank)
    {
        string indentation = width is string w ? w : new string(' ', (int)TemplateValues.AsLong(width));
        var lines = Lines(s + "\n");
        string result;
        if (blank) result = string.Join("\n" + indentation, lines);
        else
        {
            result = lines[0];
            if (lines.Count > 1)
                result += "\n" + string.Join("\n", lines.Skip(1).Select(l => l.Length > 0 ? indentation + l : l));
        }
        return first ? indentation + result : result;
    }

    static string Center(string s, int width)
    {
        if (s.Length >= width) return s;
        int total = width - s.Length, left = total / 2 + (total & width & 1);
        return new string(' ', left) + s + new string(' ', total - left);
    }

    static string Escape(string s) => s.Replace("&", "&amp;").Replace("<", "&lt;").Replace(">", "&gt;").Replace("\"", "&#34;").Replace("'", "&#39;");

    /// <summary>Jinja's attribute getter: item first, then attribute; dotted paths and integer parts.</summary>
    public static object? GetPath(object? item, object? attribute)
    {
        if (attribute is long or bool) return TemplateMethods.GetItem(item, attribute);
        foreach (string part in TemplateValues.ToStr(attribute).Split('.'))
        {
            object? key = long.TryParse(part, NumberStyles.Integer, CultureInfo.InvariantCulture, out long n) ? n : part;
            item = item is Undefined ? item : TemplateMethods.GetItem(item, key);
        }
        return item;
    }

    static IEnumerable<object?> Attributes(IEnumerable<object?> items, object? attribute) =>
        attribute is null or Undefined ? items : items.Select(i => GetPath(i, attribute));

    static object? SortKey(object? v, bool caseSensitive) => !caseSensitive && v is string s ? s.ToLowerInvariant() : v;

    static List<object?> Unique(object? v, bool caseSensitive, object? attribute)
    {
        var result = new List<object?>();
        var seen = new List<object?>();
        foreach (var item in TemplateValues.Iterate(v))
        {
            var key = SortKey(attribute is null ? item : GetPath(item, attribute), caseSensitive);
            if (seen.Any(s => TemplateValues.AreEqual(s, key))) continue;
            seen.Add(key);
            result.Add(item);
        }
        return result;
    }

    static List<object?> Sort(object? v, bool reverse, bool caseSensitive, object? attribute)
    {
        var items = TemplateValues.Iterate(v).ToList();
        var keyed = items.Select(i => (Key: SortKey(attribute is null ? i : GetPath(i, attribute), caseSensitive), Item: i)).ToList();
        var sorted = keyed.OrderBy(x => x.Key, Comparer<object?>.Create((a, b) => TemplateValues.Compare(a, b, "<"))).Select(x => x.Item).ToList();
        if (reverse) sorted.Reverse();
        return sorted;
    }

    static List<object?> DictSort(object? v, bool caseSensitive, string by, bool reverse)
    {
        if (v is not OrderedDictionary<string, object?> d) throw new TemplateException("dictsort needs a mapping");
        int pos = by == "key" ? 0 : by == "value" ? 1 : throw new TemplateException("You can only sort by either \"key\" or \"value\"");
        var pairs = d.Select(kv => (object?)new TupleValue([kv.Key, kv.Value])).ToList();
        var sorted = pairs.OrderBy(p => SortKey(((List<object?>)p!)[pos], caseSensitive), Comparer<object?>.Create((a, b) => TemplateValues.Compare(a, b, "<"))).ToList();
        if (reverse) sorted.Reverse();
        return sorted;
    }

    static object? Extreme(object? v, int sign, bool caseSensitive, object? attribute)
    {
        object? best = null;
        object? bestKey = null;
        bool any = false;
        foreach (var item in TemplateValues.Iterate(v))
        {
            var key = SortKey(attribute is null ? item : GetPath(item, attribute), caseSensitive);
            if (!any || TemplateValues.Compare(key, bestKey, "<") * sign > 0)
            {
                best = item;
                bestKey = key;
                any = true;
            }
        }
        return any ? best : new Undefined("No aggregated item, sequence was empty.");
    }

    static object? ToInt(object? v, object? fallback) => v switch
    {
        long or bool => TemplateValues.AsLong(v),
        double d => double.IsFinite(d) ? (long)Math.Truncate(d) : fallback,
        string s when long.TryParse(s.Trim(), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long l) => l,
        string s when double.TryParse(s.Trim(), NumberStyles.Float, CultureInfo.InvariantCulture, out double d) && double.IsFinite(d) => (long)Math.Truncate(d),
        _ => fallback,
    };

    static object? ToFloat(object? v, object? fallback) => v switch
    {
        long or bool => (double)TemplateValues.AsLong(v),
        double d => d,
        string s when double.TryParse(s.Trim(), NumberStyles.Float, CultureInfo.InvariantCulture, out double d) => d,
        _ => fallback,
    };

    static double Round(object? v, int precision, string method)
    {
        double d = v switch { long l => l, double x => x, bool b => b ? 1 : 0, _ => throw new TemplateException("round needs a number") };
        double scale = Math.Pow(10, precision);
        return method switch
        {
            "common" => Math.Round(d, precision, MidpointRounding.ToEven), // Python's round()
            "ceil" => Math.Ceiling(d * scale) / scale,
            "floor" => Math.Floor(d * scale) / scale,
            _ => throw new TemplateException("method must be common, ceil or floor"),
        };
    }

    static List<object?> Map(object? v, List<object?> a, Dictionary<string, object?> k)
    {
        if (!TemplateValues.IsTrue(v)) return []; // Jinja maps and selects nothing over a false value (None included)
        var items = TemplateValues.Iterate(v);
        if (a.Count == 0 && k.TryGetValue("attribute", out var attribute))
        {
            bool hasDefault = k.TryGetValue("default", out var fallback);
            return items.Select(i => GetPath(i, attribute) is Undefined && hasDefault ? fallback : GetPath(i, attribute)).ToList();
        }
        if (a.Count == 0) throw new TemplateException("map requires a filter argument");
        string filter = TemplateValues.ToStr(a[0]);
        var rest = a.Skip(1).ToList();
        return items.Select(i => Apply(filter, i, rest, k)).ToList();
    }

    static List<object?> Select(object? v, List<object?> a, Dictionary<string, object?> k, bool attribute, bool keep)
    {
        if (!TemplateValues.IsTrue(v)) return [];
        int next = 0;
        object? path = null;
        if (attribute)
        {
            if (a.Count == 0) throw new TemplateException("Missing parameter for attribute name");
            path = a[next++];
        }
        string? test = next < a.Count ? TemplateValues.ToStr(a[next++]) : null;
        var testArgs = a.Skip(next).ToList();
        var kept = new List<object?>();
        foreach (var item in TemplateValues.Iterate(v))
        {
            var value = attribute ? GetPath(item, path) : item;
            bool passed = test is null ? TemplateValues.IsTrue(value) : TemplateTests.Apply(test, value, testArgs, []);
            if (passed == keep) kept.Add(item);
        }
        return kept;
    }
}
