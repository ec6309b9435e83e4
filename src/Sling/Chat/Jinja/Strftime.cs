using System.Globalization;
using System.Text;

namespace Sling.Chat.Jinja;

/// <summary>C's <c>strftime</c> for the directives templates use (<c>%d %b %Y</c> and friends), in English.</summary>
internal static class Strftime
{
    public static string Format(DateTimeOffset t, string format)
    {
        var c = CultureInfo.InvariantCulture;
        var sb = new StringBuilder();
        for (int i = 0; i < format.Length; i++)
        {
            if (format[i] != '%' || i + 1 >= format.Length)
            {
                sb.Append(format[i]);
                continue;
            }
            char d = format[++i];
            sb.Append(d switch
            {
                'd' => t.Day.ToString("00", c),
                'm' => t.Month.ToString("00", c),
                'Y' => t.Year.ToString(c),
                'y' => (t.Year % 100).ToString("00", c),
                'b' => t.ToString("MMM", c),
                'B' => t.ToString("MMMM", c),
                'a' => t.ToString("ddd", c),
                'A' => t.ToString("dddd", c),
                'H' => t.Hour.ToString("00", c),
                'I' => ((t.Hour + 11) % 12 + 1).ToString("00", c),
                'p' => t.Hour < 12 ? "AM" : "PM",
                'M' => t.Minute.ToString("00", c),
                'S' => t.Second.ToString("00", c),
                'j' => t.DayOfYear.ToString("000", c),
                'e' => t.Day.ToString(c).PadLeft(2),
                '%' => "%",
                _ => "%" + d,
            });
        }
        return sb.ToString();
    }
}
