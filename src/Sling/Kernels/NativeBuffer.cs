using System.Runtime.InteropServices;

namespace Sling.Kernels;

/// <summary>
/// Native memory for weights the engine streams on every token, aligned to 2 MiB and, on Linux,
/// marked for transparent huge pages: the hardware prefetcher does not cross 4 KiB page borders,
/// and fewer pages mean fewer TLB misses while gigabytes stream past. Freed when collected.
/// </summary>
internal sealed unsafe partial class NativeBuffer
{
    private const nuint Alignment = 2 << 20;
    private const int MadviseHugePage = 14;

    public NativeBuffer(long length)
    {
        Length = length;
        nuint size = (nuint)Math.Max(1, (length + (long)Alignment - 1) / (long)Alignment * (long)Alignment);
        Pointer = (byte*)NativeMemory.AlignedAlloc(size, Alignment);
        if (OperatingSystem.IsLinux())
        {
            try
            {
                _ = Madvise(Pointer, size, MadviseHugePage); // a hint: without huge pages it still works
            }
            catch (DllNotFoundException) { }
            catch (EntryPointNotFoundException) { }
        }
        GC.AddMemoryPressure(length);
    }

    public byte* Pointer { get; }
    public long Length { get; }

    ~NativeBuffer()
    {
        NativeMemory.AlignedFree(Pointer);
        GC.RemoveMemoryPressure(Length);
    }

    [LibraryImport("libc", EntryPoint = "madvise")]
    private static partial int Madvise(void* address, nuint length, int advice);
}
