// The run report's structure: contents, grids before a fold of single pictures, dead
// filters marked, and a banner for random weights.
#include "catch.h"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "vizrun_host/report.h"

using nlohmann::json;
using Catch::Matchers::Contains;
using vizrun::host::render_run_report;
using vizrun::host::RunRecord;

namespace {

json image(const std::string& path, double loss) {
  json o = json::object();
  o["kind"] = "image";
  o["path"] = path;
  o["meta"] = json{{"filter", 0}, {"loss", loss}};
  return o;
}

json manifest(const std::string& weights) {
  json outputs = json::array();
  outputs.push_back(image("filters/conv1/filter_0000.png", 0.0));  // dead
  outputs.push_back(image("filters/conv1/filter_0001.png", 2.5));
  outputs.push_back(image("filters/conv1/grid.png", 0.0));
  outputs.push_back(image("filters/max_pooling2d/grid.png", 1.0));
  json technique = json::object();
  technique["id"] = "filters";
  technique["plugin"] = "filter_ascent";
  technique["outputs"] = outputs;
  json m = json::object();
  m["experiment"] = "x";
  m["status"] = "complete";
  m["model"]["plugin"] = "tiny";
  m["model"]["weights"]["source"] = weights;
  m["techniques"] = json::array({technique});
  return m;
}

std::size_t position_of(const std::string& page, const std::string& text) {
  const std::size_t i = page.find(text);
  REQUIRE(i != std::string::npos);
  return i;
}

}  // namespace

TEST_CASE("the report has contents by technique and layer, each linking to its section", "[report]") {
  const std::string page = render_run_report(RunRecord::from_json(manifest("imagenet")));
  CHECK_THAT(page, Contains("<nav class=\"toc\">"));
  for (const std::string id : {"t-filters", "t-filters--conv1", "t-filters--max_pooling2d"}) {
    CHECK_THAT(page, Contains("href=\"#" + id + "\""));
    CHECK_THAT(page, Contains("id=\"" + id + "\""));
  }
  CHECK(position_of(page, "<nav class=\"toc\">") < position_of(page, "<main>"));
}

TEST_CASE("a layer's grid comes first, its single pictures behind a fold", "[report]") {
  const std::string page = render_run_report(RunRecord::from_json(manifest("imagenet")));
  const std::size_t grid = position_of(page, "src=\"filters/conv1/grid.png\"");
  const std::size_t fold = position_of(page, "<summary>2 single pictures</summary>");
  const std::size_t single = position_of(page, "src=\"filters/conv1/filter_0000.png\"");
  CHECK(grid < fold);
  CHECK(fold < single);
}

TEST_CASE("dead filters are marked, and only they", "[report]") {
  const std::string page = render_run_report(RunRecord::from_json(manifest("imagenet")));
  CHECK_THAT(page, Contains("1 of 2 filters are dead (loss 0)"));
  const std::size_t dead_fig = page.rfind("<figure", position_of(page, "src=\"filters/conv1/filter_0000.png\""));
  CHECK_THAT(page.substr(dead_fig, page.find('>', dead_fig) - dead_fig), Contains("dead"));
  const std::size_t live_fig = page.rfind("<figure", position_of(page, "src=\"filters/conv1/filter_0001.png\""));
  CHECK(page.substr(live_fig, page.find('>', live_fig) - live_fig).find("dead") == std::string::npos);
}

TEST_CASE("random weights get a banner", "[report]") {
  CHECK_THAT(render_run_report(RunRecord::from_json(manifest("random"))), Contains("class=\"banner\"") && Contains("Random weights."));
  CHECK(render_run_report(RunRecord::from_json(manifest("imagenet"))).find("class=\"banner\"") == std::string::npos);
}

TEST_CASE("methods side by side: a row per image, a column per method and layer, metrics with curves", "[report][metrics]") {
  json outputs = json::array();
  auto overlay = [&](const std::string& path, const std::string& photo, const std::string& layer) {
    json o = json::object();
    o["kind"] = "image";
    o["path"] = path;
    o["meta"] = json{{"image", photo}, {"layer", layer}, {"class", 3}, {"name", "dress"}};
    outputs.push_back(o);
  };
  overlay("cam/a/0_class_3_overlay.png", "photos/a.png", "conv1");
  overlay("cam/a/0_class_3_heatmap.png", "photos/a.png", "conv1");  // not an overlay: not in the grid
  overlay("cam/b/0_class_3_overlay.png", "photos/b.png", "conv1");
  overlay("cam2/a/0_class_3_overlay.png", "photos/a.png", "conv2");
  json technique = json::object();
  technique["id"] = "cam";
  technique["plugin"] = "gradcam";
  technique["outputs"] = outputs;
  json entry = {{"image", "photos/a.png"}, {"method", "gradcam"}, {"layer", "conv1"}, {"class", 3}, {"score", 0.9},
                {"values", {{"deletion", 0.25}, {"insertion", 0.75}, {"road_combined", nullptr}}},
                {"curves", {{"deletion", {0.9, 0.3, 0.1}}, {"insertion", {0.1, 0.6, 0.9}}}}};
  technique["records"]["metrics"] = json::array({entry});
  json m = json::object();
  m["experiment"] = "x";
  m["status"] = "complete";
  m["techniques"] = json::array({technique});
  const std::string page = render_run_report(RunRecord::from_json(m));
  CHECK_THAT(page, Contains("Methods side by side"));
  CHECK_THAT(page, Contains("<code>conv2</code>"));  // two layers of one method: a column each
  const std::size_t grid = position_of(page, "class=\"compare\"");
  const std::size_t grid_end = page.find("</table>", grid);
  const std::string table = page.substr(grid, grid_end - grid);
  CHECK(table.find("0_class_3_overlay.png") != std::string::npos);
  CHECK(table.find("heatmap") == std::string::npos);
  CHECK(std::count(table.begin(), table.end(), '\n') == 3);  // heading + rows a, b
  CHECK_THAT(page, Contains("Faithfulness metrics"));
  CHECK_THAT(page, Contains("<svg class=\"curve\""));
  CHECK_THAT(page, Contains("<td>n/a</td>"));  // a null (NaN) metric
  CHECK(position_of(page, "id=\"comparison\"") < position_of(page, "id=\"t-cam\""));
}
