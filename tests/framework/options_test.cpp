// vizrun/options.h: the schema as the only source of defaults (fill_defaults), and
// typed reads that name the key (Options). The host, the plugins and the tests all
// complete options through this one function.
#include "catch.h"

#include "vizrun/error.h"
#include "vizrun/options.h"
#include "vizrun_host/schema.h"

#include <nlohmann/json.hpp>

using namespace vizrun;

namespace {
constexpr const char* kSchema = R"({
  "type": "object",
  "properties": {
    "steps": {"type": "integer", "default": 40},
    "size": {"oneOf": [{"type": "integer"}, {"enum": ["model"]}], "default": "model"},
    "scale": {"type": ["number", "null"], "default": null},
    "crop": {"type": "object", "default": {}, "properties": {"left": {"type": "integer", "default": 3}}},
    "targets": {"type": "array", "items": {"type": "object", "properties": {"weight": {"type": "number", "default": 1.5}}}},
    "classes": {"oneOf": [{"type": "object", "properties": {"top": {"type": "integer", "default": 1}}}, {"type": "array"}]},
    "images": {"type": "array"}
  }
})";
}  // namespace

TEST_CASE("fill_defaults adds what the schema states, keeps what is set, and descends into objects and items", "[options]") {
  Value options = Dict{{"steps", 5}, {"targets", List{Dict{}, Dict{{"weight", 2.0}}}}, {"crop", Dict{}}};
  fill_defaults(options, kSchema);
  CHECK(options.at("steps").as_int() == 5);  // set: kept
  CHECK(options.at("size").as_string() == "model");
  CHECK(options.at("scale").is_null());      // a null default is present, and null
  CHECK(options.at("crop").at("left").as_int() == 3);
  CHECK(options.at("targets").as_list()[0].at("weight").as_double() == 1.5);
  CHECK(options.at("targets").as_list()[1].at("weight").as_double() == 2.0);
  CHECK_FALSE(options.contains("images"));   // no default, not required here: absent
  CHECK_FALSE(options.contains("classes"));  // a default inside oneOf is an alternative's, not the option's
}

TEST_CASE("fill_defaults on absent options gives the defaults, and a bad schema is one line", "[options]") {
  Value none;
  fill_defaults(none, kSchema);
  REQUIRE(none.is_dict());
  CHECK(none.at("steps").as_int() == 40);
  CHECK(none.at("crop").at("left").as_int() == 3);  // a default object gets its own defaults
  Value options = Dict{};
  CHECK_THROWS_WITH(fill_defaults(options, "{\"type\": \"object\", "), Catch::Contains("invalid JSON at byte"));
}

TEST_CASE("the host's JSON fill_defaults is the SDK's", "[options]") {
  nlohmann::json document = {{"steps", 7}};
  host::fill_defaults(document, nlohmann::json::parse(kSchema));
  Value value = Dict{{"steps", 7}};
  fill_defaults(value, kSchema);
  CHECK(document.dump() == R"({"crop":{"left":3},"scale":null,"size":"model","steps":7})");
  CHECK(value.to_json() == R"({"crop":{"left":3},"scale":null,"size":"model","steps":7})");
}

TEST_CASE("Options reads typed values and names the key of a missing or mistyped one", "[options]") {
  const Options o = Options::with_defaults(Dict{{"images", List{"a.png", "b.png"}}, {"name", "x"}}, kSchema);
  CHECK(o.integer("steps") == 40);
  CHECK(o.number("steps") == 40.0);  // an integer is a number
  CHECK(o.strings("images") == std::vector<std::string>{"a.png", "b.png"});
  CHECK(o.strings("name") == std::vector<std::string>{"x"});
  CHECK(o.has("steps"));
  CHECK_FALSE(o.has("scale"));  // null
  CHECK_FALSE(o.has("nothing"));
  CHECK_THROWS_WITH(o.integer("nothing"), Catch::Contains("option 'nothing' is missing"));
  CHECK_THROWS_WITH(o.string("steps"), Catch::Contains("option 'steps': expected a string"));
  CHECK_THROWS_WITH(o.boolean("size"), Catch::Contains("option 'size'"));
  CHECK_THROWS_AS(Options(Value(List{})), Error);
}

TEST_CASE("parse_json refuses what nlohmann throws on, and nesting that would exhaust the stack, as vizrun::Error", "[options][hostile]") {
  // Found by tests/fuzz/fuzz_options: nlohmann's out_of_range for 1e309 escaped parse_json.
  CHECK_THROWS_AS(parse_json("{\"scale\": 1e309}"), Error);
  CHECK_THROWS_AS(parse_json("{\"a\": "), Error);
  CHECK_THROWS_AS(parse_json(std::string(100000, '[') + std::string(100000, ']')), Error);
  CHECK(parse_json(std::string(200, '[') + std::string(200, ']')).is_list());  // deep, but not hostile
  CHECK(parse_json("18446744073709551615").is_number());  // past int64: read as a double, not wrapped
  CHECK(parse_json("18446744073709551615").as_double() > 1e19);
}
