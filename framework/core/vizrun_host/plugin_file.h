#pragma once
/// \file plugin_file.h
/// Checks a candidate plugin file before it is given to the dynamic loader: a
/// regular file; ELF magic, class, byte order and machine of this host; a shared
/// library; program headers, loadable segments and the section table all within the
/// file's size. A truncated library would otherwise be a SIGBUS inside dlopen,
/// which kills every command that scans the plugin folder.

#include <string>

namespace vizrun::host {

/// "" when `file` may be handed to the loader, else the reason (one line, without
/// the file name). Never blocks (a FIFO is refused) and reads only headers.
std::string check_plugin_file(const std::string& file);
/// The same for an open file descriptor (read with pread; the offset is untouched).
std::string check_plugin_fd(int fd);

}  // namespace vizrun::host
