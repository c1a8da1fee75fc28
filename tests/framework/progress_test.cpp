// Progress lines: the current stage's count and ETA, and the whole run's share and ETA.
#include "catch.h"

#include <cstdio>
#include <string>

#include "vizrun_host/progress.h"

using vizrun::host::ProgressReporter;
using Catch::Matchers::Contains;

namespace {
/// Everything written to `f` so far.
std::string contents(std::FILE* f) {
  std::fflush(f);
  std::rewind(f);
  std::string text;
  for (int c; (c = std::fgetc(f)) != EOF;) text += static_cast<char>(c);
  return text;
}
}  // namespace

TEST_CASE("the run's progress counts techniques and the stages they announce", "[progress]") {
  std::FILE* f = std::tmpfile();
  REQUIRE(f != nullptr);
  ProgressReporter progress(ProgressReporter::Mode::lines, f, 0.0);
  CHECK(progress.run_fraction() == 0.0);
  progress.begin_run(2);
  progress.begin_technique(0);
  progress.expect_stages(2);  // e.g. two layers
  progress.update("layer_a", 5, 10);
  CHECK(progress.run_fraction() == Approx(0.125));  // half of one of two stages of one of two techniques
  progress.update("layer_a", 10, 10);
  progress.update("layer_a", 10, 10);  // reported twice: still one stage
  CHECK(progress.run_fraction() == Approx(0.25));
  progress.update("layer_b", 10, 10);
  CHECK(progress.run_fraction() == Approx(0.5));
  progress.begin_technique(1);  // one stage unless it says more
  progress.update("images", 1, 2);
  CHECK(progress.run_fraction() == Approx(0.75));
  const std::string text = contents(f);
  CHECK_THAT(text, Contains("layer_a 5/10 (50%)"));
  CHECK_THAT(text, Contains("| run 12% ETA "));
  CHECK_THAT(text, Contains("| run 75% ETA "));
  std::fclose(f);
}

TEST_CASE("without a run, lines show only the stage", "[progress]") {
  std::FILE* f = std::tmpfile();
  REQUIRE(f != nullptr);
  ProgressReporter progress(ProgressReporter::Mode::lines, f, 0.0);
  progress.update("downloading", 3, 4);
  const std::string text = contents(f);
  CHECK_THAT(text, Contains("downloading 3/4"));
  CHECK(text.find("| run") == std::string::npos);
  std::fclose(f);
}
