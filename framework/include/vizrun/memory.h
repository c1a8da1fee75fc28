#pragma once
/// \file memory.h
/// How much memory a run may still take, and a check to call before a large
/// allocation, so that an option too large for this machine ends in one line
/// ("needs 18.6 GiB, 9.2 GiB available") instead of std::bad_alloc or the kernel's
/// OOM killer.

#include <cstdint>
#include <string>

#include "vizrun/export.h"

namespace vizrun {

/// Bytes this process can expect to allocate: MemAvailable of /proc/meminfo, lowered
/// to the room left under a cgroup v2 limit (memory.max) and to the environment
/// variable VIZRUN_MEMORY_LIMIT_MB when set. 0 when nothing can be read.
VIZRUN_SDK_API std::uint64_t available_memory();

/// "1.5 GiB", "820 MiB", "12 KiB".
VIZRUN_SDK_API std::string format_bytes(double bytes);

/// Throws vizrun::Error "<what> needs about X of memory; Y is available" when `bytes`
/// exceeds available_memory() (does nothing when that is unknown).
VIZRUN_SDK_API void require_memory(const std::string& what, double bytes);

}  // namespace vizrun
