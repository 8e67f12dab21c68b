using System.Runtime.InteropServices;

namespace Slipway.Server.Runtime;

/// <summary>
/// Lowers the calling thread's CPU priority (Linux nice, per thread). The log storage loop runs this way: when the CPU is
/// short, live followers and API requests are served first, storage falls behind, and its backpressure paces a process
/// that writes faster than the machine can store and deliver its lines through its pipe. A stalled or slow subscriber
/// uses no CPU, so it still never slows a build. Raising the nice value needs no privilege; where it fails (another
/// OS) nothing changes.
/// <para>
/// Only for a thread that never queues thread-pool work: Linux threads inherit the nice value of the thread that
/// creates them, .NET's pool creates its workers on the thread that queues work, and processes started from such a
/// worker would inherit it in turn (a build or an app at nice 10, for good: lowering it again needs privilege). The
/// pipe readers wake followers and the storage loop, so they keep the normal priority.
/// </para>
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
