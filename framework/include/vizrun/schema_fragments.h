#pragma once
/// \file schema_fragments.h
/// JSON Schema (draft-07) fragments that several techniques' schemas share, as string
/// literals to splice into a schema literal. Each matches the kit function that reads
/// the value, so a spec the schema accepts is one the reader understands. (SDK 1.4)
///
///     "filters": {"description": "...", "default": 64,
///                 "oneOf": )json" VIZRUN_CHANNEL_SELECTION_ONEOF R"json(},

/// The `oneOf` array of a channel (filter) selection, as kit::select_filters reads it: a
/// count N (the first N), "all", a list of indices, or a range {start, stop, step} (stop
/// exclusive). The bounds keep a hostile file from asking for more than 65,536 channels.
#define VIZRUN_CHANNEL_SELECTION_ONEOF \
  R"json([ )json" \
  R"json({"type": "integer", "minimum": 1, "maximum": 65536}, )json" \
  R"json({"type": "string", "enum": ["all"]}, )json" \
  R"json({"type": "array", "items": {"type": "integer", "minimum": 0, "maximum": 65535}, "minItems": 1}, )json" \
  R"json({"type": "object", "additionalProperties": false, "required": ["start", "stop"], )json" \
  R"json( "properties": {"start": {"type": "integer", "minimum": 0, "maximum": 65535}, )json" \
  R"json(                "stop": {"type": "integer", "minimum": 1, "maximum": 65536}, )json" \
  R"json(                "step": {"type": "integer", "minimum": 1, "maximum": 65536, "default": 1}}} )json" \
  R"json(] )json"
