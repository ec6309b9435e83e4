using System.Text;

namespace Sling.Formats;

/// <summary>
/// A SentencePiece tokenizer.model: the ModelProto protobuf with its pieces (text, score, type),
/// trainer settings (model type, byte fallback, special ids) and normalizer settings. Only the
/// fields tokenization needs are read; the protobuf is walked by hand with every length checked.
/// </summary>
public sealed record SentencePieceModelFile(
    string[] Pieces, float[] Scores, int[] Types,
    int ModelType, bool ByteFallback, int UnknownId, int BosId, int EosId,
    bool AddDummyPrefix, bool RemoveExtraWhitespaces)
{
    public const int Unigram = 1, Bpe = 2;

    public static SentencePieceModelFile Read(string path)
    {
        byte[] data = File.ReadAllBytes(path);
        var pieces = new List<string>();
        var scores = new List<float>();
        var types = new List<int>();
        int modelType = Unigram, unk = 0, bos = 1, eos = 2;
        bool byteFallback = false, dummyPrefix = true, removeSpaces = true;
        try
        {
            foreach (var (field, value, bytes) in Fields(data, 0, data.Length))
            {
                switch (field)
                {
                    case 1: // SentencePiece
                        string piece = ""; float score = 0; int type = 1;
                        foreach (var (f, v, b) in Fields(data, bytes.Offset, bytes.Length))
                        {
                            if (f == 1) piece = Encoding.UTF8.GetString(data, b.Offset, b.Length);
                            else if (f == 2) score = BitConverter.Int32BitsToSingle((int)v);
                            else if (f == 3) type = (int)v;
                        }
                        pieces.Add(piece); scores.Add(score); types.Add(type);
                        break;
                    case 2: // TrainerSpec
                        foreach (var (f, v, _) in Fields(data, bytes.Offset, bytes.Length))
                        {
                            if (f == 3) modelType = (int)v;
                            else if (f == 35) byteFallback = v != 0;
                            else if (f == 40) unk = (int)v;
                            else if (f == 41) bos = (int)v;
                            else if (f == 42) eos = (int)v;
                        }
                        break;
                    case 3: // NormalizerSpec
                        foreach (var (f, v, _) in Fields(data, bytes.Offset, bytes.Length))
                        {
                            if (f == 3) dummyPrefix = v != 0;
                            else if (f == 4) removeSpaces = v != 0;
                        }
                        break;
                }
            }
        }
        catch (FormatException e)
        {
            throw new ModelFormatException(path, $"is not a valid SentencePiece model: {e.Message}");
        }
        if (pieces.Count == 0) throw new ModelFormatException(path, "is not a SentencePiece model (it holds no pieces)");
        return new SentencePieceModelFile(pieces.ToArray(), scores.ToArray(), types.ToArray(), modelType, byteFallback, unk, bos, eos, dummyPrefix, removeSpaces);
    }

    // Each field of a message: number, varint/fixed value, and for length-delimited fields the byte range.
    private static IEnumerable<(int Field, ulong Value, (int Offset, int Length) Bytes)> Fields(byte[] data, int offset, int length)
    {
        int end = offset + length, pos = offset;
        while (pos < end)
        {
            ulong key = Varint(data, ref pos, end);
            int field = (int)(key >> 3), wire = (int)(key & 7);
            switch (wire)
            {
                case 0:
                    yield return (field, Varint(data, ref pos, end), default);
                    break;
                case 1:
                    if (end - pos < 8) throw new FormatException($"truncated 64-bit field {field}");
                    yield return (field, BitConverter.ToUInt64(data, pos), default);
                    pos += 8;
                    break;
                case 2:
                    ulong n = Varint(data, ref pos, end);
                    if (n > (ulong)(end - pos)) throw new FormatException($"field {field} length {n} runs past the end");
                    yield return (field, 0, (pos, (int)n));
                    pos += (int)n;
                    break;
                case 5:
                    if (end - pos < 4) throw new FormatException($"truncated 32-bit field {field}");
                    yield return (field, BitConverter.ToUInt32(data, pos), default);
                    pos += 4;
                    break;
                default:
                    throw new FormatException($"unknown wire type {wire} for field {field}");
            }
        }
    }

    private static ulong Varint(byte[] data, ref int pos, int end)
    {
        ulong result = 0;
        for (int shift = 0; shift < 64; shift += 7)
        {
            if (pos >= end) throw new FormatException("truncated varint");
            byte b = data[pos++];
            result |= (ulong)(b & 0x7F) << shift;
            if ((b & 0x80) == 0) return result;
        }
        throw new FormatException("varint longer than 10 bytes");
    }
}
