using System.Runtime.InteropServices;

namespace Sling.Kernels;

/// <summary>
/// Memory pages straight from the operating system (Linux: mmap, mprotect, munmap, madvise), for
/// memory whose residency matters: scratch returned the moment it is freed, weights on huge pages,
/// executable code, a file's copied pages dropped. Elsewhere every call reports that it did nothing.
/// </summary>
internal static unsafe partial class Pages
{
    public const int Size = 4096;
    public const int Read = 1, Write = 2, Execute = 4;
    private const int MapPrivate = 2, MapAnonymous = 0x20;
    private const int AdviseDontNeed = 4, AdviseHugePage = 14;

    /// <summary>Rounds <paramref name="length"/> up to whole pages.</summary>
    public static nuint RoundUp(long length) => (nuint)((length + Size - 1) & ~(long)(Size - 1));

    /// <summary>Fresh zeroed pages (read and write), or null when this system offers none.</summary>
    public static void* Map(nuint length)
    {
        if (!OperatingSystem.IsLinux()) return null;
        void* pages = Mmap(null, length, Read | Write, MapPrivate | MapAnonymous, -1, 0);
        return pages == (void*)-1 ? null : pages;
    }

    public static void Unmap(void* pages, nuint length) => _ = Munmap(pages, length);

    /// <summary>Changes the pages' access (<see cref="Read"/>, <see cref="Write"/>, <see cref="Execute"/>); false when refused.</summary>
    public static bool Protect(void* pages, nuint length, int access) => Mprotect(pages, length, access) == 0;

    /// <summary>Asks for transparent huge pages over the range (a hint: without them it still works).</summary>
    public static void AdviseHuge(void* start, nuint length) => Advise(start, length, AdviseHugePage);

    /// <summary>Drops the range's resident pages (a file mapping faults them back in when read again).</summary>
    public static void Drop(void* start, nuint length) => Advise(start, length, AdviseDontNeed);

    /// <summary>
    /// Hands the C heap's freed memory back to the system (glibc keeps it for reuse otherwise; after a
    /// model is loaded, the temporary buffers of repacking would stay resident for nothing).
    /// </summary>
    public static void ReturnFreedHeap()
    {
        if (!OperatingSystem.IsLinux()) return;
        try
        {
            _ = MallocTrim(0);
        }
        catch (DllNotFoundException) { }
        catch (EntryPointNotFoundException) { } // not glibc (musl has no malloc_trim)
    }

    private static void Advise(void* start, nuint length, int advice)
    {
        if (!OperatingSystem.IsLinux()) return;
        try
        {
            _ = Madvise(start, length, advice);
        }
        catch (DllNotFoundException) { }
        catch (EntryPointNotFoundException) { }
    }

    [LibraryImport("libc", EntryPoint = "mmap")]
    private static partial void* Mmap(void* address, nuint length, int protection, int flags, int fd, nint offset);

    [LibraryImport("libc", EntryPoint = "mprotect")]
    private static partial int Mprotect(void* address, nuint length, int protection);

    [LibraryImport("libc", EntryPoint = "munmap")]
    private static partial int Munmap(void* address, nuint length);

    [LibraryImport("libc", EntryPoint = "malloc_trim")]
    private static partial int MallocTrim(nuint pad);

    [LibraryImport("libc", EntryPoint = "madvise")]
    private static partial int Madvise(void* address, nuint length, int advice);
}
