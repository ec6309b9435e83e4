using System.Text;

namespace Sling.Chat.Jinja;

/// <summary>Python's arithmetic, concatenation and comparison operators on template values.</summary>
internal static class TemplateOperators
{
    public static object? Negate(object? v) => v switch
    {
        long l => (object)(-l),
        double d => -d,
        bool b => b ? -1L : 0L,
        Undefined u => throw u.Fail(),
        _ => throw new TemplateException($"bad operand type for unary -: '{TemplateValues.TypeName(v)}'"),
    };

    public static object? Plus(object? v) => v switch
    {
        long or double => v,
        bool b => (object)(b ? 1L : 0L),
        Undefined u => throw u.Fail(),
        _ => throw new TemplateException($"bad operand type for unary +: '{TemplateValues.TypeName(v)}'"),
    };

    public static object? Binary(string op, object? a, object? b)
    {
        if (op == "~") return TemplateValues.ToStr(a) + TemplateValues.ToStr(b);
        if (a is Undefined ua) throw ua.Fail();
        if (b is Undefined ub) throw ub.Fail();
        bool numbers = TemplateValues.IsNumber(a) && TemplateValues.IsNumber(b);
        bool floats = a is double || b is double;
        switch (op)
        {
            case "+":
                if (numbers) return floats ? D(a) + D(b) : (object)(L(a) + L(b));
                if (a is string s && b is string t) return s + t;
                if (a is List<object?> x && b is List<object?> y) return x.Concat(y).ToList();
                if (a is string) throw new TemplateException($"can only concatenate str (not \"{TemplateValues.TypeName(b)}\") to str");
                if (a is List<object?>) throw new TemplateException($"can only concatenate list (not \"{TemplateValues.TypeName(b)}\") to list");
                break;
            case "-":
                if (numbers) return floats ? D(a) - D(b) : (object)(L(a) - L(b));
                break;
            case "*":
                if (numbers) return floats ? D(a) * D(b) : (object)(L(a) * L(b));
                if (a is string rs && b is long or bool) return Repeat(rs, L(b));
                if (b is string rs2 && a is long or bool) return Repeat(rs2, L(a));
                if (a is List<object?> rl && b is long or bool) return Enumerable.Repeat(rl, (int)Math.Max(0, L(b))).SelectMany(l => l).ToList();
                break;
            case "/":
                if (numbers)
                {
                    if (D(b) == 0) throw new TemplateException("division by zero");
                    return D(a) / D(b);
                }
                break;
            case "//":
                if (numbers)
                {
                    if (D(b) == 0) throw new TemplateException("integer division or modulo by zero");
                    return floats ? Math.Floor(D(a) / D(b)) : (object)FloorDiv(L(a), L(b));
                }
                break;
            case "%":
                if (numbers)
                {
                    if (D(b) == 0) throw new TemplateException("integer division or modulo by zero");
                    if (floats)
                    {
                        double r = D(a) % D(b);
                        return r != 0 && (r < 0) != (D(b) < 0) ? r + D(b) : (object)r;
                    }
                    long m = L(a) % L(b);
                    return m != 0 && (m < 0) != (L(b) < 0) ? m + L(b) : (object)m;
                }
                if (a is string format) return PercentFormat(format, b);
                break;
            case "**":
                if (numbers)
                    return !floats && L(b) >= 0 ? (object)(long)Math.Pow(L(a), L(b)) : Math.Pow(D(a), D(b));
                break;
        }
        throw new TemplateException($"unsupported operand type(s) for {op}: '{TemplateValues.TypeName(a)}' and '{TemplateValues.TypeName(b)}'");
    }

    public static bool Compare(string op, object? a, object? b) => op switch
    {
        "==" => TemplateValues.AreEqual(a, b),
        "!=" => !TemplateValues.AreEqual(a, b),
        "<" => TemplateValues.Compare(a, b, op) < 0,
        "<=" => TemplateValues.Compare(a, b, op) <= 0,
        ">" => TemplateValues.Compare(a, b, op) > 0,
        ">=" => TemplateValues.Compare(a, b, op) >= 0,
        "in" => TemplateValues.Contains(b, a),
        "not in" => !TemplateValues.Contains(b, a),
        _ => throw new TemplateException($"unknown operator {op}"),
    };

    static double D(object? v) => v switch { long l => l, double d => d, bool b => b ? 1 : 0, _ => 0 };

    static long L(object? v) => TemplateValues.AsLong(v);

    static long FloorDiv(long a, long b)
    {
        long q = a / b;
        return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
    }

    static string Repeat(string s, long n)
    {
        var sb = new StringBuilder();
        for (long i = 0; i < n; i++) sb.Append(s);
        return sb.ToString();
    }

    /// <summary>Python's <c>"%s" % value</c> for the conversions templates use (%s, %d, %r, %%).</summary>
    static string PercentFormat(string format, object? arg)
    {
        var args = arg is List<object?> l ? l : [arg];
        var sb = new StringBuilder();
        int next = 0;
        for (int i = 0; i < format.Length; i++)
        {
            if (format[i] != '%' || i + 1 >= format.Length)
            {
                sb.Append(format[i]);
                continue;
            }
            char c = format[++i];
            if (c == '%')
            {
                sb.Append('%');
                continue;
            }
            if (next >= args.Count) throw new TemplateException("not enough arguments for format string");
            object? v = args[next++];
            sb.Append(c switch
            {
                's' => TemplateValues.ToStr(v),
                'r' => TemplateValues.Repr(v),
                'd' or 'i' => TemplateValues.AsLong(v).ToString(System.Globalization.CultureInfo.InvariantCulture),
                _ => throw new TemplateException($"unsupported format character '{c}'"),
            });
        }
        return sb.ToString();
    }
}
