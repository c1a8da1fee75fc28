// The one "did you mean" (vizrun/suggest.h): distances, the plausibility rule, order,
// and that the host's messages use it.
#include "catch.h"

#include "test_support.h"
#include "vizrun/suggest.h"
#include "vizrun_host/plugin_registry.h"

using namespace vizrun;
using Catch::Matchers::Contains;
using Names = std::vector<std::string>;

TEST_CASE("edit_distance counts insertions, deletions, substitutions and neighbour swaps", "[suggest]") {
  CHECK(edit_distance("", "") == 0);
  CHECK(edit_distance("", "abc") == 3);
  CHECK(edit_distance("abc", "") == 3);
  CHECK(edit_distance("kitten", "sitting") == 3);
  CHECK(edit_distance("sede", "seed") == 1);    // one swap, not two substitutions
  CHECK(edit_distance("stpes", "steps") == 1);
  CHECK(edit_distance("modle", "model") == 1);
  CHECK(edit_distance("ca", "abc") == 3);       // optimal string alignment: no edit of a swapped pair
  CHECK(edit_distance("block1_conv1", "block1_conv1") == 0);
  CHECK(edit_distance("fp64", "fp32") == 2);
}

TEST_CASE("close_matches: plausible typos only, closest first, ties in candidate order, at most limit", "[suggest]") {
  const Names keys{"seed", "device", "precision", "threads", "model", "techniques", "images"};
  CHECK(close_matches("sede", keys) == Names{"seed"});
  CHECK(close_matches("modle", keys) == Names{"model"});
  CHECK(close_matches("xyz", keys).empty());
  CHECK(close_matches("seed", keys).empty());   // the word itself is no suggestion
  // Tolerance max(2, |word| / 3): 2 edits for short words, 3 for a 9-letter one.
  CHECK(close_matches("thrads", keys) == Names{"threads"});
  CHECK(close_matches("thrxxds", keys) == Names{"threads"});
  CHECK(close_matches("thxxxds", keys).empty());
  CHECK(close_matches("prxxxsion", keys) == Names{"precision"});
  const Names layers{"block1_conv1", "block1_conv2", "block1_pool", "block2_conv1", "block2_conv2", "predictions"};
  // A part of a name counts as one edit.
  CHECK(close_matches("conv2", layers, 5) == Names{"block1_conv2", "block2_conv2"});
  // 1, 1, 2, 2 and 3 edits (3 = 11 / 3 is still plausible); by default the best three.
  CHECK(close_matches("block1_conv", layers, 9) ==
        Names{"block1_conv1", "block1_conv2", "block2_conv1", "block2_conv2", "block1_pool"});
  CHECK(close_matches("block1_conv", layers) == Names{"block1_conv1", "block1_conv2", "block2_conv1"});
  CHECK(close_matches("block1_conv", layers, 1) == Names{"block1_conv1"});
  CHECK(close_matches("cv", layers).empty());   // parts shorter than 3 characters do not count
  CHECK(closest_match("predictoins", layers) == "predictions");
  CHECK(closest_match("softmax", layers).empty());
}

TEST_CASE("did_you_mean words one, two or three suggestions", "[suggest]") {
  const Names names{"conv1", "conv2", "conv3", "pool1"};
  CHECK(did_you_mean("conv", names, 1) == "did you mean 'conv1'?");
  CHECK(did_you_mean("conv", names, 2) == "did you mean 'conv1' or 'conv2'?");
  CHECK(did_you_mean("conv", names) == "did you mean 'conv1', 'conv2' or 'conv3'?");
  CHECK(did_you_mean("dense", names).empty());
}

TEST_CASE("the host's unknown-plugin message suggests with the SDK's matcher", "[suggest]") {
  host::PluginRegistry registry({testing::test_plugin_dir() + "/good"});
  CHECK_THROWS_WITH(registry.find("tiny_modle", "model"), Contains("(did you mean '" + closest_match("tiny_modle", {"tiny_model"}) + "'?)"));
  CHECK(closest_match("tiny_modle", {"tiny_model"}) == "tiny_model");
  CHECK_THROWS_WITH(registry.find("layer_mean", "technique"), Contains("(did you mean 'layer_means'?)"));
}
