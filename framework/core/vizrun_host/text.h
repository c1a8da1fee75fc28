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

}  // namespace vizrun::host
