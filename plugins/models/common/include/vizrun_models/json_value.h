#pragma once
/// \file json_value.h
/// JSON text to vizrun::Value, for model descriptions kept in separate files.

#include <string>

#include "vizrun/value.h"

namespace vizrun::models {

/// Parses JSON text; throws vizrun::Error naming `origin` and the position on a syntax error.
Value value_from_json(const std::string& text, const std::string& origin);
/// Reads and parses a JSON file.
Value value_from_json_file(const std::string& path);

}  // namespace vizrun::models
