using System.Text;

namespace Sling.Tests.Fuzz;

/// <summary>
/// Deterministic corruptions of a file's bytes, aimed where parsers look: the header region (the
/// first 4 KiB, or the JSON header of a safetensors file). Each case is one seed.
/// </summary>
public static class Mutator
{
    public const int HeaderRegion = 4096;

    public static (byte[] Bytes, string What) Mutate(byte[] original, int seed)
    {
        var rng = new Random(seed);
        var b = (byte[])original.Clone();
        int region = Math.Min(b.Length, HeaderRegion);
        int At() => rng.Next(Math.Max(1, region));
        switch (rng.Next(8))
        {
            case 0:
            {
                int flips = rng.Next(1, 9);
                for (int i = 0; i < flips; i++) b[At()] ^= (byte)(1 << rng.Next(8));
                return (b, $"{flips} bit flips");
            }
            case 1:
            {
                int at = At(), n = Math.Min(rng.Next(1, 17), b.Length - at);
                for (int i = 0; i < n; i++) b[at + i] = (byte)rng.Next(256);
                return (b, $"{n} random bytes at {at}");
            }
            case 2:
            {
                int length = rng.Next(2) == 0 ? rng.Next(region + 1) : rng.Next(b.Length + 1);
                return (b[..length], $"truncated to {length}");
            }
            case 3:
            {
                // A count or length gone huge (or negative): all-ones, sign bit, just past int.MaxValue.
                ulong[] huge = [ulong.MaxValue, 0x80000000_00000000, 0xFFFFFFFF, 0x80000000, 0x7FFFFFFF, 0x1_0000_0000];
                int at = At() / 4 * 4;
                var value = BitConverter.GetBytes(huge[rng.Next(huge.Length)]);
                int n = Math.Min(rng.Next(2) == 0 ? 4 : 8, b.Length - at);
                Array.Copy(value, 0, b, at, n);
                return (b, $"huge integer at {at}");
            }
            case 4:
            {
                // Invalid UTF-8 inside text: after a quote (JSON strings) or anywhere printable.
                int start = At();
                int at = Array.IndexOf(b, (byte)'"', start);
                if (at < 0 || at + 2 >= b.Length) at = start;
                byte[] bad = [0xFF, 0xC0, 0x80, 0xED, 0xA0, 0x80];
                int n = Math.Min(rng.Next(1, 4), b.Length - at - 1);
                for (int i = 0; i < n; i++) b[at + 1 + i] = bad[rng.Next(bad.Length)];
                return (b, $"invalid UTF-8 at {at + 1}");
            }
            case 5:
            {
                // A number in JSON text replaced with an absurd one.
                string text = Encoding.Latin1.GetString(b, 0, region);
                var digits = System.Text.RegularExpressions.Regex.Matches(text, "[0-9]+");
                if (digits.Count == 0) goto case 0;
                var m = digits[rng.Next(digits.Count)];
                string[] absurd = ["-1", "99999999999999999999", "0", "4294967296", "-9223372036854775808", "1e308", "NaN"];
                string value = absurd[rng.Next(absurd.Length)];
                var replaced = Encoding.Latin1.GetBytes(text[..m.Index] + value + text[(m.Index + m.Length)..]);
                return ([.. replaced, .. b[region..]], $"number at {m.Index} -> {value}");
            }
            case 6:
            {
                // Bytes copied from elsewhere in the header: overlapping offsets, repeated names.
                int from = At(), to = At(), n = Math.Min(rng.Next(4, 33), Math.Min(b.Length - from, b.Length - to));
                Array.Copy(original, from, b, to, Math.Max(0, n));
                return (b, $"{n} bytes from {from} copied to {to}");
            }
            default:
            {
                // A float turned NaN or infinite somewhere in the file (weights or scales).
                int at = rng.Next(Math.Max(1, b.Length - 4)) / 2 * 2;
                byte[][] specials = [BitConverter.GetBytes(float.NaN), BitConverter.GetBytes(float.PositiveInfinity), [0x00, 0x7C], [0xFF, 0x7F]];
                var s = specials[rng.Next(specials.Length)];
                int n = Math.Min(s.Length, b.Length - at);
                Array.Copy(s, 0, b, at, n);
                return (b, $"NaN/Inf bytes at {at}");
            }
        }
    }
}
