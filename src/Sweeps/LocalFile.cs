using Distributed.Grains.Abstractions.Sweeps;
using System.Buffers.Binary;
using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace Distributed.Sweeps;

/// <summary>
/// Opens a file a user names only when it is a regular file no larger than a limit: a device (/dev/zero), a FIFO or
/// a socket would never end or never start, and is refused without a byte read. The one place that looks at a
/// file's type, for spec files and datasets alike.
/// </summary>
public static class LocalFile
{
    const int ReadOnly = 0, NoControllingTerminal = 0x100, NonBlocking = 0x800, CloseOnExec = 0x80000;
    const uint TypeMask = 0xF000, RegularFile = 0x8000;

    /// <summary>The open file, or null with <paramref name="problem"/> ("not a regular file ...", "N bytes; at most M").</summary>
    public static FileStream? Open(string path, long maxBytes, out string problem)
    {
        problem = "";
        // Where the layout of struct stat is known, the type and size come from the open descriptor; a FIFO opened
        // without O_NONBLOCK would wait for a writer forever.
        if (!OperatingSystem.IsLinux() || RuntimeInformation.ProcessArchitecture is not (Architecture.X64 or Architecture.Arm64))
        {
            var info = new FileInfo(path);
            if (info.Length > maxBytes)
            {
                problem = $"{info.Length} bytes; at most {maxBytes}";
                return null;
            }
            return File.OpenRead(path);
        }
        int fd = OpenFile(path, ReadOnly | NoControllingTerminal | NonBlocking | CloseOnExec);
        if (fd < 0) throw new IOException($"open failed (errno {Marshal.GetLastPInvokeError()})");
        var handle = new SafeFileHandle(fd, ownsHandle: true);
        var status = new byte[256];
        if (FileStatus(fd, status) != 0)
        {
            handle.Dispose();
            throw new IOException($"fstat failed (errno {Marshal.GetLastPInvokeError()})");
        }
        bool x64 = RuntimeInformation.ProcessArchitecture == Architecture.X64;
        uint mode = BinaryPrimitives.ReadUInt32LittleEndian(status.AsSpan(x64 ? 24 : 16));
        long size = BinaryPrimitives.ReadInt64LittleEndian(status.AsSpan(48));
        if ((mode & TypeMask) != RegularFile)
        {
            handle.Dispose();
            problem = "not a regular file (a device, a pipe or a socket)";
            return null;
        }
        if (size > maxBytes)
        {
            handle.Dispose();
            problem = $"{size} bytes; at most {maxBytes}";
            return null;
        }
        return new FileStream(handle, FileAccess.Read);
    }

    /// <summary>Null when <paramref name="path"/> is a regular file of at most <paramref name="maxBytes"/>; else what is wrong.</summary>
    public static string? Problem(string path, long maxBytes)
    {
        if (Directory.Exists(path)) return "is a directory, not a file";
        if (!File.Exists(path)) return "no such file";
        try
        {
            using var stream = Open(path, maxBytes, out var problem);
            return stream is null ? problem : null;
        }
        catch (IOException e)
        {
            return e.Message;
        }
    }

    [DllImport("libc", EntryPoint = "open", SetLastError = true)]
    static extern int OpenFile([MarshalAs(UnmanagedType.LPUTF8Str)] string path, int flags);

    [DllImport("libc", EntryPoint = "fstat", SetLastError = true)]
    static extern int FileStatus(int fd, byte[] status);
}
