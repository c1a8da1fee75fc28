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

}  // namespace vizrun::host
