using Microsoft.Win32.SafeHandles;
using Sling.Kernels;

namespace Sling.Formats;

/// <summary>
/// Weights repacked for this CPU's kernels, stored as they sit in memory so a later load reads them
/// instead of repacking (<c>kernel-layout.bin</c>): a header (magic, version, then per tensor its slot
/// name, layout shape and where each of its buffers lies), then the buffers one after another,
/// 4 KiB-aligned. Read back, every buffer has exactly the bytes it had; errors name the file and the field.
/// The header is binary: it is read at every load, before the first token.
/// </summary>
internal static class KernelLayoutFile
{
    public const string FileName = "kernel-layout.bin";
    /// <summary>Bump when a layout's bytes change meaning (it is part of the model cache's key too).</summary>
    public const int Version = 5; // 2: K-quant codes in as few bits as they need (int6, int5, int4k), their offset stored; 3: AVX2 entries hold Q4_1/Q5_x too; 4: Q5_0 as int8 groups with fp16 scales; 5: AVX2 entries hold two-bit codes (Q2_K) as int2k
    private const uint Magic = 0x4C4B4C53; // "SLKL"
    private const int Alignment = 4096;
    private const int ChunkBytes = 1 << 30;
    private const int Parts = 4; // codes, scales, super-block factors, zero points

    /// <summary>Writes <paramref name="matrices"/> (slot name → matrix) into <paramref name="folder"/>; returns the bytes written.</summary>
    public static unsafe long Write(string folder, IReadOnlyList<(string Slot, RowBlockMatrix Matrix)> matrices)
    {
        var stored = matrices.Select(m => (m.Slot, Stored: m.Matrix.Stored())).ToList();
        // The header first, with the offsets it will have: its length does not depend on their values.
        var header = new MemoryStream();
        long Header(long[][] offsets)
        {
            header.SetLength(0);
            using var w = new BinaryWriter(header, System.Text.Encoding.UTF8, leaveOpen: true);
            w.Write(Magic);
            w.Write(Version);
            w.Write(stored.Count);
            for (int i = 0; i < stored.Count; i++)
            {
                var s = stored[i].Stored.Shape;
                w.Write(stored[i].Slot);
                w.Write(s.Kind);
                w.Write(s.Rows); w.Write(s.Cols); w.Write(s.GroupSize);
                w.Write(s.SignedCodes); w.Write(s.SymmetricZero);
                w.Write(s.Format ?? "");
                w.Write((int)s.Scales); w.Write(s.GroupsPerSuper); w.Write(s.FactorParts); w.Write(s.SignedFactors);
                w.Write(s.Levels?.Length ?? -1);
                foreach (sbyte level in s.Levels ?? []) w.Write(level);
                foreach (long offset in offsets[i]) w.Write(offset);
            }
            w.Flush();
            return header.Length;
        }
        var offsets = stored.Select(_ => new long[Parts]).ToArray();
        long at = Align(Header(offsets));
        for (int i = 0; i < stored.Count; i++)
        {
            var (_, codes, scales, super, zeros) = stored[i].Stored;
            long[] lengths = [codes.Length, scales.Length, super?.Length ?? 0, zeros?.LongLength ?? 0];
            for (int part = 0; part < Parts; part++)
                if (lengths[part] > 0) { offsets[i][part] = at; at = Align(at + lengths[part]); }
        }
        Header(offsets);
        using var handle = File.OpenHandle(Path.Combine(folder, FileName), FileMode.CreateNew, FileAccess.Write);
        RandomAccess.Write(handle, header.ToArray(), 0);
        for (int i = 0; i < stored.Count; i++)
        {
            var (_, codes, scales, super, zeros) = stored[i].Stored;
            Put(handle, codes.Pointer, codes.Length, offsets[i][0]);
            Put(handle, scales.Pointer, scales.Length, offsets[i][1]);
            if (super != null) Put(handle, super.Pointer, super.Length, offsets[i][2]);
            if (zeros != null)
                fixed (byte* z = zeros) Put(handle, z, zeros.LongLength, offsets[i][3]);
        }
        RandomAccess.SetLength(handle, at);
        GC.KeepAlive(matrices);
        return at;
    }

    private static long Align(long at) => (at + Alignment - 1) / Alignment * Alignment;

    private static unsafe void Put(SafeFileHandle handle, byte* pointer, long length, long offset)
    {
        for (long done = 0; done < length; done += ChunkBytes)
            RandomAccess.Write(handle, new ReadOnlySpan<byte>(pointer + done, (int)Math.Min(ChunkBytes, length - done)), offset + done);
    }

    private sealed record Entry(string Slot, RowBlockMatrix.StoredLayout Shape, long[] Offsets);

    // The header ends before the first buffer, which starts at a multiple of the alignment: read a
    // prefix and, if the header runs past it, a prefix twice as long.
    private static List<Entry> ReadHeader(string path, SafeFileHandle handle)
    {
        long fileLength = RandomAccess.GetLength(handle);
        for (long prefix = 1 << 16; ; prefix *= 2)
        {
            var bytes = new byte[Math.Min(prefix, fileLength)];
            int got = RandomAccess.Read(handle, bytes, 0);
            try
            {
                return ParseHeader(path, new BinaryReader(new MemoryStream(bytes, 0, got)));
            }
            catch (EndOfStreamException) when (got < fileLength && prefix < 1L << 30)
            {
                // read more
            }
            catch (EndOfStreamException)
            {
                throw new ModelFormatException(path, "ends inside its header");
            }
            catch (FormatException e)
            {
                throw new ModelFormatException(path, $"has a damaged header ({e.Message})");
            }
        }
    }

    private static List<Entry> ParseHeader(string path, BinaryReader r)
    {
        if (r.ReadUInt32() != Magic) throw new ModelFormatException(path, "is not a kernel layout file (magic)");
        if (r.ReadInt32() is var version && version != Version) throw new ModelFormatException(path, $"'version' is {version}, this build reads {Version}");
        int count = r.ReadInt32();
        if (count < 0 || count > 1 << 20) throw new ModelFormatException(path, $"'count' {count} is not a tensor count");
        var entries = new List<Entry>(count);
        for (int i = 0; i < count; i++)
        {
            string slot = r.ReadString(), kind = r.ReadString();
            int rows = r.ReadInt32(), cols = r.ReadInt32(), groupSize = r.ReadInt32();
            bool signedCodes = r.ReadBoolean();
            int symmetricZero = r.ReadInt32();
            string format = r.ReadString();
            int scales = r.ReadInt32(), groupsPerSuper = r.ReadInt32(), factorParts = r.ReadInt32();
            bool signedFactors = r.ReadBoolean();
            int levelCount = r.ReadInt32();
            if (levelCount is < -1 or > 256) throw new ModelFormatException(path, $"tensor '{slot}': 'levels' count {levelCount}");
            sbyte[]? levels = levelCount < 0 ? null : Enumerable.Range(0, levelCount).Select(_ => r.ReadSByte()).ToArray();
            var offsets = new long[Parts];
            for (int part = 0; part < Parts; part++) offsets[part] = r.ReadInt64();
            if (!Enum.IsDefined((RowBlockMatrix.StoredScales)scales)) throw new ModelFormatException(path, $"tensor '{slot}': 'scales' {scales} is not a scale form");
            entries.Add(new Entry(slot, new RowBlockMatrix.StoredLayout(kind, rows, cols, groupSize, signedCodes, symmetricZero, format.Length == 0 ? null : format,
                (RowBlockMatrix.StoredScales)scales, groupsPerSuper, factorParts, signedFactors, levels), offsets));
        }
        return entries;
    }

    /// <summary>Reads every stored matrix of <paramref name="folder"/> (slot name → matrix), the buffers in parallel.</summary>
    public static unsafe Dictionary<string, RowBlockMatrix> Read(string folder)
    {
        string path = Path.Combine(folder, FileName);
        using var handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read);
        var entries = ReadHeader(path, handle);
        long fileLength = RandomAccess.GetLength(handle);
        var read = new RowBlockMatrix[entries.Count];
        try
        {
            Parallel.For(0, entries.Count, i => read[i] = ReadEntry(entries[i]));
        }
        catch (AggregateException e) when (e.InnerExceptions.Count > 0)
        {
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(e.InnerExceptions[0]).Throw();
        }
        var result = new Dictionary<string, RowBlockMatrix>(StringComparer.Ordinal);
        for (int i = 0; i < read.Length; i++)
            if (!result.TryAdd(entries[i].Slot, read[i])) throw new ModelFormatException(path, $"tensor slot '{entries[i].Slot}' appears twice");
        return result;

        RowBlockMatrix ReadEntry(Entry entry)
        {
            (long Codes, long Scales, long Super, long Zeros) lengths;
            try
            {
                lengths = entry.Shape.Lengths();
            }
            catch (ArgumentException e)
            {
                throw new ModelFormatException(path, $"tensor '{entry.Slot}': shape {e.Message}");
            }
            void Fill(int part, byte* pointer, long length)
            {
                long offset = entry.Offsets[part];
                if (offset < 0 || offset > fileLength - length)
                    throw new ModelFormatException(path, $"tensor '{entry.Slot}': buffer {part} ({length} bytes at offset {offset}) lies outside the file's {fileLength} bytes");
                for (long done = 0; done < length;)
                {
                    int got = RandomAccess.Read(handle, new Span<byte>(pointer + done, (int)Math.Min(ChunkBytes, length - done)), offset + done);
                    if (got <= 0) throw new ModelFormatException(path, $"tensor '{entry.Slot}': ends inside buffer {part}");
                    done += got;
                }
            }
            NativeBuffer Buffer(int part, long length)
            {
                var buffer = new NativeBuffer(length);
                Fill(part, buffer.Pointer, length);
                return buffer;
            }
            var codes = Buffer(0, lengths.Codes);
            var scales = Buffer(1, lengths.Scales);
            var super = lengths.Super > 0 ? Buffer(2, lengths.Super) : null;
            byte[]? zeros = null;
            if (lengths.Zeros > 0)
            {
                zeros = GC.AllocateUninitializedArray<byte>(checked((int)lengths.Zeros), pinned: true);
                fixed (byte* z = zeros) Fill(3, z, zeros.LongLength);
            }
            try
            {
                return RowBlockMatrix.FromStored(entry.Shape, codes, scales, super, zeros);
            }
            catch (ArgumentException e)
            {
                throw new ModelFormatException(path, $"tensor '{entry.Slot}': {e.Message}");
            }
        }
    }
}
