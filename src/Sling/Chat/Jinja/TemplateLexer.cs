using System.Globalization;
using System.Text;

namespace Sling.Chat.Jinja;

internal enum TokenKind { Text, VariableBegin, VariableEnd, BlockBegin, BlockEnd, Name, String, Integer, Float, Operator, End }

internal readonly record struct Token(TokenKind Kind, string Value, int Line);

/// <summary>
/// Splits a template into text and tag tokens with the whitespace rules transformers sets up for
/// chat templates: <c>trim_blocks</c> (the newline after a block or comment tag is dropped),
/// <c>lstrip_blocks</c> (spaces and tabs before a block or comment tag on its line are dropped),
/// <c>-</c> inside a delimiter strips all whitespace on that side, <c>+</c> keeps it, and one
/// trailing newline of the template is dropped (Jinja's <c>keep_trailing_newline=False</c>).
/// </summary>
internal static class TemplateLexer
{
    static readonly string[] Operators =
        ["//", "**", "==", "!=", "<=", ">=", "+", "-", "*", "/", "%", "~", "<", ">", "(", ")", "[", "]", "{", "}", ",", ".", ":", "|", "="];

    public static List<Token> Tokenize(string source)
    {
        source = source.Replace("\r\n", "\n");
        if (source.EndsWith('\n')) source = source[..^1];
        var tokens = new List<Token>();
        int pos = 0, line = 1;
        bool stripNextLeading = false, lineStarting = true;
        while (pos < source.Length)
        {
            int open = FindTagStart(source, pos);
            string text = source[pos..(open < 0 ? source.Length : open)];
            if (stripNextLeading) text = text.TrimStart();
            if (open < 0)
            {
                AddText(tokens, text, line);
                break;
            }
            char kind = source[open + 1];
            char modifier = open + 2 < source.Length ? source[open + 2] : '\0';
            if (modifier == '-') text = text.TrimEnd();
            else if (kind != '{' && modifier != '+') text = LeftStripBlock(text, lineStarting);
            AddText(tokens, text, line);
            line += Count(source, pos, open);
            int inner = open + 2 + (modifier is '-' or '+' ? 1 : 0);

            if (kind == '#')
            {
                int close = source.IndexOf("#}", inner, StringComparison.Ordinal);
                if (close < 0) throw new TemplateException("unterminated comment", line);
                line += Count(source, open, close);
                stripNextLeading = source[close - 1] == '-';
                pos = close + 2;
                pos = TrimBlockNewline(source, pos, stripNextLeading, ref line, out lineStarting);
                continue;
            }

            bool isBlock = kind == '%';
            if (isBlock && IsRaw(source, inner, out int rawBodyStart))
            {
                int end = FindEndRaw(source, rawBodyStart, out int afterEnd, out bool rawStripBefore, out bool rawStripAfter);
                string raw = source[rawBodyStart..end];
                if (rawStripBefore) raw = raw.TrimEnd();
                AddText(tokens, raw, line);
                line += Count(source, open, afterEnd);
                stripNextLeading = rawStripAfter;
                pos = TrimBlockNewline(source, afterEnd, stripNextLeading, ref line, out lineStarting);
                continue;
            }
            tokens.Add(new Token(isBlock ? TokenKind.BlockBegin : TokenKind.VariableBegin, "", line));
            pos = LexInside(source, inner, isBlock ? '%' : '}', tokens, ref line, out stripNextLeading);
            tokens.Add(new Token(isBlock ? TokenKind.BlockEnd : TokenKind.VariableEnd, "", line));
            if (isBlock) pos = TrimBlockNewline(source, pos, stripNextLeading, ref line, out lineStarting);
            else lineStarting = false;
        }
        tokens.Add(new Token(TokenKind.End, "", line));
        return tokens;
    }

    static int FindTagStart(string s, int from)
    {
        for (int i = s.IndexOf('{', from); i >= 0 && i + 1 < s.Length; i = s.IndexOf('{', i + 1))
            if (s[i + 1] is '{' or '%' or '#') return i;
        return -1;
    }

    static void AddText(List<Token> tokens, string text, int line)
    {
        if (text.Length > 0) tokens.Add(new Token(TokenKind.Text, text, line));
    }

    static int Count(string s, int from, int to)
    {
        int n = 0;
        for (int i = from; i < to; i++) if (s[i] == '\n') n++;
        return n;
    }

    /// <summary>lstrip_blocks: whitespace between the line's start and a block tag goes.</summary>
    static string LeftStripBlock(string text, bool lineStarting)
    {
        int lineStart = text.LastIndexOf('\n') + 1;
        if (lineStart == 0 && !lineStarting) return text;
        for (int i = lineStart; i < text.Length; i++)
            if (text[i] is not (' ' or '\t')) return text;
        return text[..lineStart];
    }

    static int TrimBlockNewline(string s, int pos, bool stripAll, ref int line, out bool lineStarting)
    {
        lineStarting = false;
        if (!stripAll && pos < s.Length && s[pos] == '\n')
        {
            line++;
            lineStarting = true;
            return pos + 1;
        }
        return pos;
    }

    static bool IsRaw(string s, int inner, out int bodyStart)
    {
        bodyStart = 0;
        int i = SkipSpaces(s, inner);
        if (string.CompareOrdinal(s, i, "raw", 0, 3) != 0) return false;
        i = SkipSpaces(s, i + 3);
        if (i < s.Length && s[i] == '-') i++;
        if (string.CompareOrdinal(s, i, "%}", 0, 2) != 0) return false;
        bodyStart = i + 2;
        return true;
    }

    static int FindEndRaw(string s, int from, out int after, out bool stripBefore, out bool stripAfter)
    {
        for (int at = s.IndexOf("{%", from, StringComparison.Ordinal); at >= 0; at = s.IndexOf("{%", at + 2, StringComparison.Ordinal))
        {
            int i = at + 2;
            stripBefore = i < s.Length && s[i] == '-';
            if (stripBefore || (i < s.Length && s[i] == '+')) i++;
            i = SkipSpaces(s, i);
            if (string.CompareOrdinal(s, i, "endraw", 0, 6) != 0) continue;
            i = SkipSpaces(s, i + 6);
            stripAfter = i < s.Length && s[i] == '-';
            if (stripAfter) i++;
            if (string.CompareOrdinal(s, i, "%}", 0, 2) != 0) continue;
            after = i + 2;
            return at;
        }
        throw new TemplateException("missing {% endraw %}", Count(s, 0, from) + 1);
    }

    static int SkipSpaces(string s, int i)
    {
        while (i < s.Length && char.IsWhiteSpace(s[i])) i++;
        return i;
    }

    /// <summary>Lexes the expression inside a tag up to its closing delimiter.</summary>
    static int LexInside(string s, int i, char closer, List<Token> tokens, ref int line, out bool stripAfter)
    {
        int braces = 0;
        while (true)
        {
            while (i < s.Length && char.IsWhiteSpace(s[i])) { if (s[i] == '\n') line++; i++; }
            if (i >= s.Length) throw new TemplateException(closer == '%' ? "unterminated block tag" : "unterminated expression", line);
            char c = s[i];
            if (c == '-' && braces == 0 && Closes(s, i + 1, closer))
            {
                stripAfter = true;
                return i + 3;
            }
            if (braces == 0 && Closes(s, i, closer))
            {
                stripAfter = false;
                return i + 2;
            }
            if (char.IsLetter(c) || c == '_')
            {
                int start = i;
                while (i < s.Length && (char.IsLetterOrDigit(s[i]) || s[i] == '_')) i++;
                tokens.Add(new Token(TokenKind.Name, s[start..i], line));
            }
            else if (char.IsAsciiDigit(c))
            {
                int start = i;
                while (i < s.Length && (char.IsAsciiDigit(s[i]) || s[i] == '_')) i++;
                bool isFloat = false;
                if (i + 1 < s.Length && s[i] == '.' && char.IsAsciiDigit(s[i + 1]))
                {
                    isFloat = true;
                    i++;
                    while (i < s.Length && char.IsAsciiDigit(s[i])) i++;
                }
                if (i < s.Length && s[i] is 'e' or 'E')
                {
                    int j = i + 1;
                    if (j < s.Length && s[j] is '+' or '-') j++;
                    if (j < s.Length && char.IsAsciiDigit(s[j]))
                    {
                        isFloat = true;
                        i = j;
                        while (i < s.Length && char.IsAsciiDigit(s[i])) i++;
                    }
                }
                tokens.Add(new Token(isFloat ? TokenKind.Float : TokenKind.Integer, s[start..i].Replace("_", ""), line));
            }
            else if (c is '\'' or '"')
            {
                i = LexString(s, i, tokens, ref line);
            }
            else
            {
                string? op = null;
                foreach (string candidate in Operators)
                    if (string.CompareOrdinal(s, i, candidate, 0, candidate.Length) == 0) { op = candidate; break; }
                if (op is null) throw new TemplateException($"unexpected character '{c}'", line);
                if (op == "}" && braces == 0) throw new TemplateException("unexpected '}'", line);
                tokens.Add(new Token(TokenKind.Operator, op, line));
                i += op.Length;
                if (op == "{") braces++;
                else if (op == "}") braces--;
            }
        }
    }

    static bool Closes(string s, int i, char closer) =>
        i + 1 < s.Length && s[i] == closer && s[i + 1] == '}';

    static int LexString(string s, int i, List<Token> tokens, ref int line)
    {
        char quote = s[i++];
        var sb = new StringBuilder();
        while (true)
        {
            if (i >= s.Length) throw new TemplateException("unterminated string", line);
            char c = s[i++];
            if (c == quote) break;
            if (c == '\n') line++;
            if (c != '\\') { sb.Append(c); continue; }
            if (i >= s.Length) throw new TemplateException("unterminated string", line);
            char e = s[i++];
            switch (e)
            {
                case 'n': sb.Append('\n'); break;
                case 't': sb.Append('\t'); break;
                case 'r': sb.Append('\r'); break;
                case 'b': sb.Append('\b'); break;
                case 'f': sb.Append('\f'); break;
                case 'v': sb.Append('\v'); break;
                case 'a': sb.Append('\a'); break;
                case '0': sb.Append('\0'); break;
                case '\\': sb.Append('\\'); break;
                case '\'': sb.Append('\''); break;
                case '"': sb.Append('"'); break;
                case '\n': line++; break;
                case 'x': sb.Append((char)ParseHex(s, ref i, 2, line)); break;
                case 'u': sb.Append((char)ParseHex(s, ref i, 4, line)); break;
                case 'U': sb.Append(char.ConvertFromUtf32(ParseHex(s, ref i, 8, line))); break;
                default: sb.Append('\\').Append(e); break;
            }
        }
        tokens.Add(new Token(TokenKind.String, sb.ToString(), line));
        return i;
    }

    static int ParseHex(string s, ref int i, int digits, int line)
    {
        if (i + digits > s.Length || !int.TryParse(s.AsSpan(i, digits), NumberStyles.HexNumber, CultureInfo.InvariantCulture, out int v))
            throw new TemplateException("bad escape in string", line);
        i += digits;
        return v;
    }
}
