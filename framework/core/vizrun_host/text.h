#pragma once
/// \file text.h
/// String helpers for messages.

#include <string>
#include <string_view>
#include <vector>

#include "vizrun/suggest.h"

namespace vizrun::host {

std::vector<std::string> split(std::string_view text, char separator);
std::string join(const std::vector<std::string>& parts, const std::string& separator);
bool ends_with(std::string_view text, std::string_view suffix);
// "Did you mean": the SDK's matcher (vizrun/suggest.h), also as host::closest_match for
// code that names it so or only uses `namespace vizrun::host`.
using vizrun::closest_match;

/// Offset of the first byte of `text` that does not belong to well-formed UTF-8
/// (RFC 3629: no overlong forms, no surrogates, nothing above U+10FFFF), or npos.
std::size_t first_invalid_utf8(std::string_view text);
/// `text` with every byte that is not well-formed UTF-8, and every control character
/// (NUL, newline, ...), written as \xNN: safe inside a one-line message.
std::string printable_utf8(std::string_view text);

}  // namespace vizrun::host
