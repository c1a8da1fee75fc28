#pragma once
/// \file text.h
/// String helpers for messages.

#include <string>
#include <string_view>
#include <vector>

namespace vizrun::host {

std::vector<std::string> split(std::string_view text, char separator);
std::string join(const std::vector<std::string>& parts, const std::string& separator);
bool ends_with(std::string_view text, std::string_view suffix);
/// The candidate closest to `word` by edit distance, or "" when none is close
/// enough to be a plausible typo.
std::string closest_match(const std::string& word, const std::vector<std::string>& candidates);

/// Offset of the first byte of `text` that does not belong to well-formed UTF-8
/// (RFC 3629: no overlong forms, no surrogates, nothing above U+10FFFF), or npos.
std::size_t first_invalid_utf8(std::string_view text);
/// `text` with every byte that is not well-formed UTF-8 written as \xNN, for messages.
std::string printable_utf8(std::string_view text);

}  // namespace vizrun::host
