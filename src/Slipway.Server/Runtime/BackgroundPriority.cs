using System.Runtime.InteropServices;

namespace Slipway.Server.Runtime;

/// <summary>
/// Lowers the calling thread's CPU priority (Linux nice, per thread). The threads that take in log output (pipe readers,
/// the storage loop) run this way: when the CPU is short, live followers and API requests are served first, and a
/// process that writes faster than the machine can store and deliver its lines is paced through its pipe. A stalled or
/// slow subscriber uses no CPU, so it still never slows a build. Raising the nice value needs no privilege; where it
/// fails (another OS) nothing changes.
/// </summary>
internal static partial class BackgroundPriority
{
    public const int Nice = 10;
    private const int PrioProcess = 0;

    public static void Apply()
    {
        if (!OperatingSystem.IsLinux()) return;
        try
        {
            _ = SetPriority(PrioProcess, GetTid(), Nice);
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            // An old libc without gettid: the thread keeps the normal priority.
        }
    }

    [LibraryImport("libc", EntryPoint = "gettid")]
    private static partial int GetTid();

    [LibraryImport("libc", EntryPoint = "setpriority")]
    private static partial int SetPriority(int which, int who, int priority);
}
