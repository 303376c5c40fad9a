using System.Runtime.InteropServices;

namespace Distributed.Client;

/// <summary>
/// Checks a file the user names before anything reads it: it must be a regular file (not /dev/zero, a FIFO or a
/// directory, which would hang or never end) and no larger than the limit. Its size is all that is read.
/// </summary>
public static class InputFile
{
    const uint TypeMask = 0xF000, Regular = 0x8000;
    // struct stat on Linux x86-64: st_mode is the 4 bytes at offset 24 of 144.
    const int StatBytes = 144, ModeOffset = 24;

    [DllImport("libc", EntryPoint = "stat", SetLastError = true)]
    static extern int Stat([MarshalAs(UnmanagedType.LPUTF8Str)] string path, byte[] buffer);

    /// <summary>Null when <paramref name="path"/> is a regular file of at most <paramref name="maxBytes"/>; else what is wrong.</summary>
    public static string? Problem(string path, long maxBytes)
    {
        if (Directory.Exists(path)) return "is a directory, not a file";
        if (!File.Exists(path)) return "no such file";
        if (OperatingSystem.IsLinux() && RuntimeInformation.ProcessArchitecture == Architecture.X64)
        {
            var buffer = new byte[StatBytes];
            if (Stat(path, buffer) == 0 && (BitConverter.ToUInt32(buffer, ModeOffset) & TypeMask) != Regular)
                return "is not a regular file (a device, FIFO or socket would never end)";
        }
        long length = new FileInfo(path).Length;
        return length > maxBytes ? $"is {length:N0} bytes; at most {maxBytes:N0} are accepted" : null;
    }
}
