// Compiled by MSBuild's RoslynCodeTaskFactory (see TorchSharpLoadFix.targets).
// libLibTorchSharp.so (TorchSharp 0.107) asks for GLIBCXX_3.4.32 only for
// std::ios_base_library_init(), which it never calls; Debian 12 and Ubuntu 22.04 ship
// libstdc++ up to 3.4.30, so the loader refuses the library. Marking the missing
// version references weak (VER_FLG_WEAK) in the build-output copy lets it load.
using System;
using System.Collections.Generic;
using System.IO;
using System.Text;
using Microsoft.Build.Framework;
using Microsoft.Build.Utilities;

public sealed class WeakenMissingGlibcxxVersions : Task
{
    const uint ShtGnuVerneed = 0x6ffffffe;
    const ushort VerFlagWeak = 0x2;

    [Required] public string Library { get; set; } = "";

    public override bool Execute()
    {
        if (!File.Exists(Library)) return true;
        var system = FindSystemLibStdCxx();
        if (system == null)
        {
            Log.LogMessage(MessageImportance.Low, "No system libstdc++.so.6 found; leaving " + Library + " as it is.");
            return true;
        }
        var provided = VersionNamesIn(File.ReadAllBytes(system));
        var elf = File.ReadAllBytes(Library);
        var weakened = WeakenMissing(elf, provided);
        if (weakened.Count == 0) return true;
        // Write a new file rather than in place so a hard link into the NuGet cache is never modified.
        var temp = Library + ".weakening";
        File.WriteAllBytes(temp, elf);
        File.Delete(Library);
        File.Move(temp, Library);
        Log.LogMessage(MessageImportance.High, "TorchSharp load fix: marked " + string.Join(", ", weakened) + " weak in " + Library + " (" + system + " lacks them).");
        return true;
    }

    static string FindSystemLibStdCxx()
    {
        string[] candidates =
        {
            "/usr/lib/x86_64-linux-gnu/libstdc++.so.6", "/lib/x86_64-linux-gnu/libstdc++.so.6",
            "/usr/lib64/libstdc++.so.6", "/usr/lib/libstdc++.so.6",
        };
        foreach (var c in candidates) if (File.Exists(c)) return c;
        return null;
    }

    // Every "GLIBCXX_x.y.z" / "CXXABI_x.y" string in the library: a superset of what it defines, which is enough.
    static HashSet<string> VersionNamesIn(byte[] bytes)
    {
        var names = new HashSet<string>();
        foreach (var prefix in new[] { "GLIBCXX_", "CXXABI_" })
        {
            var p = Encoding.ASCII.GetBytes(prefix);
            for (int i = 0; i + p.Length < bytes.Length; i++)
            {
                if (!Matches(bytes, i, p)) continue;
                int end = i + p.Length;
                while (end < bytes.Length && (char.IsDigit((char)bytes[end]) || bytes[end] == (byte)'.')) end++;
                if (end < bytes.Length && bytes[end] == 0 && end > i + p.Length)
                    names.Add(Encoding.ASCII.GetString(bytes, i, end - i));
            }
        }
        return names;
    }

    static bool Matches(byte[] b, int at, byte[] p)
    {
        for (int k = 0; k < p.Length; k++) if (b[at + k] != p[k]) return false;
        return true;
    }

    static List<string> WeakenMissing(byte[] elf, HashSet<string> provided)
    {
        var weakened = new List<string>();
        // ELF64 little-endian only (the linux-x64 runtime); anything else is left alone.
        if (elf.Length < 64 || elf[0] != 0x7f || elf[1] != 'E' || elf[2] != 'L' || elf[3] != 'F' || elf[4] != 2 || elf[5] != 1)
            return weakened;
        long shoff = BitConverter.ToInt64(elf, 0x28);
        int shentsize = BitConverter.ToUInt16(elf, 0x3A);
        int shnum = BitConverter.ToUInt16(elf, 0x3C);
        for (int s = 0; s < shnum; s++)
        {
            long sh = shoff + (long)s * shentsize;
            if (BitConverter.ToUInt32(elf, (int)sh + 4) != ShtGnuVerneed) continue;
            long offset = BitConverter.ToInt64(elf, (int)sh + 0x18);
            int link = (int)BitConverter.ToUInt32(elf, (int)sh + 0x28);
            int count = (int)BitConverter.ToUInt32(elf, (int)sh + 0x2C);
            long strtab = BitConverter.ToInt64(elf, (int)(shoff + (long)link * shentsize) + 0x18);
            long vn = offset;
            for (int n = 0; n < count; n++)
            {
                int auxCount = BitConverter.ToUInt16(elf, (int)vn + 2);
                long aux = vn + BitConverter.ToUInt32(elf, (int)vn + 8);
                for (int a = 0; a < auxCount; a++)
                {
                    string name = ReadString(elf, strtab + BitConverter.ToUInt32(elf, (int)aux + 8));
                    ushort flags = BitConverter.ToUInt16(elf, (int)aux + 4);
                    bool cxx = name.StartsWith("GLIBCXX_", StringComparison.Ordinal) || name.StartsWith("CXXABI_", StringComparison.Ordinal);
                    if (cxx && !provided.Contains(name) && (flags & VerFlagWeak) == 0)
                    {
                        BitConverter.GetBytes((ushort)(flags | VerFlagWeak)).CopyTo(elf, (int)aux + 4);
                        weakened.Add(name);
                    }
                    aux += BitConverter.ToUInt32(elf, (int)aux + 12);
                }
                vn += BitConverter.ToUInt32(elf, (int)vn + 12);
            }
        }
        return weakened;
    }

    static string ReadString(byte[] b, long at)
    {
        int end = (int)at;
        while (b[end] != 0) end++;
        return Encoding.ASCII.GetString(b, (int)at, end - (int)at);
    }
}
