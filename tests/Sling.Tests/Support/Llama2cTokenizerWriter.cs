using System.Text;

namespace Sling.Tests.Support;

public static class Llama2cTokenizerWriter
{
    public static void Write(string path, IEnumerable<(byte[] Bytes, float Score)> tokens)
    {
        var list = tokens.ToList();
        using var w = new BinaryWriter(File.Create(path));
        w.Write(list.Max(t => t.Bytes.Length));
        foreach (var (bytes, score) in list)
        {
            w.Write(score);
            w.Write(bytes.Length);
            w.Write(bytes);
        }
    }

    /// <summary>&lt;unk&gt;, &lt;s&gt;, &lt;/s&gt;, the 256 byte tokens, then <paramref name="pieces"/>.</summary>
    public static List<(byte[], float)> StandardVocabulary(params (string Piece, float Score)[] pieces)
    {
        var tokens = new List<(byte[], float)> { ("<unk>"u8.ToArray(), 0), ("\n<s>\n"u8.ToArray(), 0), ("\n</s>\n"u8.ToArray(), 0) };
        for (int b = 0; b < 256; b++) tokens.Add((Encoding.ASCII.GetBytes($"<0x{b:X2}>"), 0));
        tokens.AddRange(pieces.Select(p => (Encoding.UTF8.GetBytes(p.Piece), p.Score)));
        return tokens;
    }
}
