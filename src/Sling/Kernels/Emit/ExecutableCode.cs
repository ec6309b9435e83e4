using System.Runtime.InteropServices;

namespace Sling.Kernels.Emit;

/// <summary>
/// Machine code copied into pages of its own, then made executable and read-only (never writable and
/// executable at once). Linux only; the pages live as long as the process, as the few kernels do.
/// </summary>
internal static unsafe partial class ExecutableCode
{
    private const int ProtRead = 1, ProtWrite = 2, ProtExec = 4;
    private const int MapPrivate = 2, MapAnonymous = 0x20;

    /// <summary>The code's entry point, or null when this system does not allow it.</summary>
    public static void* Load(byte[] code)
    {
        if (!OperatingSystem.IsLinux()) return null;
        nuint size = (nuint)((code.Length + 4095) & ~4095);
        void* pages = Mmap(null, size, ProtRead | ProtWrite, MapPrivate | MapAnonymous, -1, 0);
        if (pages == (void*)-1) return null;
        code.CopyTo(new Span<byte>(pages, code.Length));
        if (Mprotect(pages, size, ProtRead | ProtExec) != 0)
        {
            _ = Munmap(pages, size);
            return null;
        }
        return pages;
    }

    [LibraryImport("libc", EntryPoint = "mmap")]
    private static partial void* Mmap(void* address, nuint length, int protection, int flags, int fd, nint offset);

    [LibraryImport("libc", EntryPoint = "mprotect")]
    private static partial int Mprotect(void* address, nuint length, int protection);

    [LibraryImport("libc", EntryPoint = "munmap")]
    private static partial int Munmap(void* address, nuint length);
}
