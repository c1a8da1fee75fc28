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
// "Did you mean": vizrun::closest_match and friends, shared with plugins (vizrun/suggest.h).

}  // namespace vizrun::host
