#!/usr/bin/env python3
"""Prints the crashing thread of a .NET crash report (DOTNET_EnableCrashReport): one line per frame, module and name."""
import json
import sys

with open(sys.argv[1]) as f:
    report = json.load(f)
payload = report.get("payload", {})
print("  process:", payload.get("process_name", "?"), "exception type:", report.get("parameters", {}).get("ExceptionType", "?"))
threads = payload.get("threads", [])
for thread in [t for t in threads if t.get("crashed") == "true"] or threads[:1]:
    print("  crashed thread", thread.get("native_thread_id", "?"))
    for frame in thread.get("stack_frames", [])[:40]:
        module = frame.get("native_module") or frame.get("filename") or frame.get("module_address", "?")
        name = frame.get("method_name") or frame.get("unmanaged_name") or ""
        where = frame.get("native_image_offset") or frame.get("native_offset", "")
        print("   ", module.rsplit("/", 1)[-1], name, where)
