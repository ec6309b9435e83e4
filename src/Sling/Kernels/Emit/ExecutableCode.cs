using System.Runtime.InteropServices;

namespace Sling.Kernels.Emit;

/// <summary>
/// Machine code copied into pages of its own, then made executable and read-only (never writable and
/// executable at once). Linux only; the pages live as long as the process, as the few kernels do.
/// </summary>
internal static unsafe class ExecutableCode
{
    /// <summary>
    /// True on 64-bit Linux unless the environment variable SLING_NO_ASSEMBLED_KERNELS is set (it
    /// measures the .NET paths): whether assembled code may run at all (each kernel checks its CPU too).
    /// </summary>
    public static bool Allowed { get; } = OperatingSystem.IsLinux() && RuntimeInformation.ProcessArchitecture == Architecture.X64
        && string.IsNullOrEmpty(Environment.GetEnvironmentVariable("SLING_NO_ASSEMBLED_KERNELS"));

    /// <summary>The code's entry point, or null when this system does not allow it.</summary>
    public static void* Load(byte[] code)
    {
        nuint size = Pages.RoundUp(code.Length);
        void* pages = Pages.Map(size);
        if (pages == null) return null;
        code.CopyTo(new Span<byte>(pages, code.Length));
        if (!Pages.Protect(pages, size, Pages.Read | Pages.Execute))
        {
            Pages.Unmap(pages, size);
            return null;
        }
        return pages;
    }
}
