using Sling.Kernels;

namespace Sling.Formats;

/// <summary>
/// Hands out consecutive tensors of a file that stores them back to back (llama2.c checkpoints),
/// each bounds-checked and read in place through the memory map.
/// </summary>
internal sealed unsafe class TensorCursor(MappedFile file, long offset)
{
    public long Offset { get; private set; } = offset;

    private byte* Take(long bytes, string name)
    {
        byte* p = file.Pointer(Offset, bytes, name);
        Offset += bytes;
        return p;
    }

    public F32Matrix F32(int rows, int cols, string name)
        => new((float*)Take((long)rows * cols * sizeof(float), name), rows, cols, file);

    public float[] Vector(int length, string name)
        => new ReadOnlySpan<float>(Take((long)length * sizeof(float), name), length).ToArray();

    public Q8GroupMatrix Q8(int rows, int cols, int groupSize, string name)
    {
        long count = (long)rows * cols;
        var codes = (sbyte*)Take(count, name + " codes");
        var scales = (float*)Take(count / groupSize * sizeof(float), name + " scales");
        return new Q8GroupMatrix(codes, scales, rows, cols, groupSize, file);
    }

    public void Skip(long bytes, string name) => Take(bytes, name);
}
