using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text;
using Microsoft.Win32.SafeHandles;

namespace Distributed.Grains.Abstractions.Sweeps;

/// <summary>
/// Reads a spec file of at most <see cref="SweepLimits.MaxSpecBytes"/>: a device (/dev/zero), a FIFO or a socket is
/// refused without being read, and a larger file without being read whole.
/// </summary>
public static class SpecFile
{
    public static string? Read(string path, out string problem)
    {
        problem = "";
        if (Directory.Exists(path))
        {
            problem = $"{path}: is a directory, not a spec file";
            return null;
        }
        if (!File.Exists(path))
        {
            problem = $"{path}: no such file";
            return null;
        }
        try
        {
            using var stream = Open(path, out problem);
            if (stream is null) return null;
            // One byte over the limit is enough to know the file is too large, whatever it claimed when opened.
            var buffer = new byte[SweepLimits.MaxSpecBytes + 1];
            int length = 0, read;
            while (length < buffer.Length && (read = stream.Read(buffer, length, buffer.Length - length)) > 0) length += read;
            if (length > SweepLimits.MaxSpecBytes)
            {
                problem = $"{path}: larger than {SweepLimits.MaxSpecBytes} bytes (1 MiB), the largest spec file";
                return null;
            }
            return new UTF8Encoding(false, throwOnInvalidBytes: true).GetString(buffer, 0, length).TrimStart('\uFEFF');
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or DecoderFallbackException)
        {
            problem = $"{path}: cannot be read as UTF-8 text: {e.Message}";
            return null;
        }
    }

    const int ReadOnly = 0, NoControllingTerminal = 0x100, NonBlocking = 0x800, CloseOnExec = 0x80000;
    const uint TypeMask = 0xF000, RegularFile = 0x8000;

    static FileStream? Open(string path, out string problem)
    {
        problem = "";
        // Where the layout of struct stat is known, the file's type and size come from the open descriptor; a FIFO
        // opened without O_NONBLOCK would wait for a writer forever.
        if (!OperatingSystem.IsLinux() || RuntimeInformation.ProcessArchitecture is not (Architecture.X64 or Architecture.Arm64))
        {
            var info = new FileInfo(path);
            if (info.Length > SweepLimits.MaxSpecBytes)
            {
                problem = $"{path}: {info.Length} bytes; at most {SweepLimits.MaxSpecBytes} (1 MiB)";
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
            problem = $"{path}: not a regular file (a device, a pipe or a socket); a spec is a YAML or JSON file";
            return null;
        }
        if (size > SweepLimits.MaxSpecBytes)
        {
            handle.Dispose();
            problem = $"{path}: {size} bytes; at most {SweepLimits.MaxSpecBytes} (1 MiB)";
            return null;
        }
        return new FileStream(handle, FileAccess.Read);
    }

    [DllImport("libc", EntryPoint = "open", SetLastError = true)]
    static extern int OpenFile([MarshalAs(UnmanagedType.LPUTF8Str)] string path, int flags);

    [DllImport("libc", EntryPoint = "fstat", SetLastError = true)]
    static extern int FileStatus(int fd, byte[] status);
}
