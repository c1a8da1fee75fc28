// small_convnet: layers declared in the config, Keras auto names, the book's model.

#include "catch_torch.h"

#include <fstream>

#include "model_test_util.h"
#include "vizrun/error.h"

using namespace vizrun;
using namespace vizrun::models::testing;


Value book_options() {
  return value_from_yaml_file(std::string(VIZRUN_MODELS_SOURCE_DIR) + "/configs/models/dlwp_cats_vs_dogs.yaml");
}

TEST_CASE("the book's cats-vs-dogs convnet has 3,453,121 parameters", "[models][small_convnet]") {
  Value options = book_options();
  REQUIRE(options.at("layers").as_list().size() == 12);
  auto model = create_model("small_convnet", book_options(), "random");
  CHECK(model->parameter_count() == 3453121);
  std::vector<std::string> names;
  for (const auto& l : model->layers()) names.push_back(l.name);
  CHECK((names == std::vector<std::string>{"conv2d_1", "max_pooling2d_1", "conv2d_2", "max_pooling2d_2", "conv2d_3",
                                          "max_pooling2d_3", "conv2d_4", "max_pooling2d_4", "flatten_1", "dropout_1",
                                          "dense_1", "dense_2"}));
  CHECK((model->layers()[0].shape == std::vector<std::int64_t>{32, 148, 148}));
  CHECK((model->layers()[7].shape == std::vector<std::int64_t>{128, 7, 7}));
  CHECK(model->layers()[8].shape == std::vector<std::int64_t>{6272});
  CHECK(model->output_activation() == "sigmoid");
  CHECK(model->logits_layer() == "dense_2");
  CHECK(model->last_conv_layer() == "conv2d_4");
  CHECK(model->class_names() == std::vector<std::string>{"dog"});
  CHECK(model->preprocess(torch::full({1, 3, 2, 2}, 255.0)).max().item<double>() == Approx(1.0));
  auto out = model->forward(torch::rand({2, 3, 150, 150}), {"dense_2", "conv2d_1"});
  CHECK(out.at("dense_2").sizes() == torch::IntArrayRef({2, 1}));
}

TEST_CASE("small_convnet: given names, auto names, padding and errors", "[models][small_convnet]") {
  List layers{Value(Dict{{"type", "conv2d"}, {"filters", 4}, {"kernel", List{3, 5}}, {"padding", "same"},
                         {"stride", 2}, {"activation", "relu"}}),
              Value(Dict{{"type", "batch_norm"}}),
              Value(Dict{{"type", "conv2d"}, {"filters", 6}, {"name", "conv2d_2"}}),
              Value(Dict{{"type", "conv2d"}, {"filters", 6}}),
              Value(Dict{{"type", "max_pool"}, {"pool", 3}, {"padding", "same"}}),
              Value(Dict{{"type", "global_avg_pool"}}),
              Value(Dict{{"type", "dense"}, {"units", 3}, {"activation", "softmax"}})};
  Value opts(Dict{{"layers", layers}, {"input", Value(Dict{{"height", 33}, {"width", 20}, {"channels", 1}})},
                  {"preprocessing", "none"}});
  auto model = create_model("small_convnet", opts, "random");
  std::vector<std::string> names;
  for (const auto& l : model->layers()) names.push_back(l.name);
  CHECK((names == std::vector<std::string>{"conv2d_1", "batch_normalization_1", "conv2d_2", "conv2d_3",
                                          "max_pooling2d_1", "global_average_pooling2d_1", "dense_1"}));
  CHECK((model->layers()[0].shape == std::vector<std::int64_t>{4, 17, 10}));  // TF "same": ceil(33/2), ceil(20/2)
  CHECK((model->layers()[4].shape == std::vector<std::int64_t>{6, 5, 2}));
  CHECK(model->output_activation() == "softmax");
  CHECK(model->input_spec().channels == 1);
  CHECK_FALSE(model->input_spec().fixed_size);
  CHECK(model->preprocess(torch::full({1, 3, 4, 4}, 100.0)).sizes() == torch::IntArrayRef({1, 1, 4, 4}));
  auto out = model->forward(torch::rand({1, 1, 40, 40}), {"dense_1"});
  CHECK(out.at("dense_1").sizes() == torch::IntArrayRef({1, 3}));

  CHECK_THROWS_WITH(create_model("small_convnet", Value(Dict{}), "random"), Catch::Contains("no layers declared"));
  CHECK_THROWS_WITH(create_model("small_convnet", Value(Dict{{"layers", List{Value(Dict{{"type", "lstm"}})}}}), "random"),
                    Catch::Contains("unknown type 'lstm'"));
  CHECK_THROWS_WITH(create_model("small_convnet", Value(Dict{{"layers", List{Value(Dict{{"type", "dense"}})}}}), "random"),
                    Catch::Contains("layer 1 ('dense_1')") && Catch::Contains("flatten"));
  CHECK_THROWS_WITH(
      create_model("small_convnet",
                   Value(Dict{{"layers", List{Value(Dict{{"type", "conv2d"}, {"kernel", 9}})}},
                              {"input", Value(Dict{{"height", 5}, {"width", 5}, {"channels", 3}})}}),
                   "random"),
      Catch::Contains("smaller than the window"));
}

TEST_CASE("small_convnet: architecture from a JSON file", "[models][small_convnet]") {
  std::string dir = temp_dir("arch");
  std::ofstream(dir + "/net.json") << R"({"input": {"height": 28, "width": 28, "channels": 1},
    "layers": [{"type": "conv2d", "filters": 8, "kernel": 3, "activation": "relu"}, {"type": "flatten"},
               {"type": "dense", "units": 10, "activation": "softmax"}]})";
  SimpleHost host(dir);
  auto model = create_model("small_convnet", Value(Dict{{"architecture", "net.json"}}), "random", &host);
  CHECK(model->parameter_count() == 8 * 9 + 8 + 26 * 26 * 8 * 10 + 10);
  CHECK(model->input_spec().height == 28);
  // A YAML file through Host::read_config: the book's model by reference.
  SimpleHost repo(VIZRUN_MODELS_SOURCE_DIR);
  auto book = create_model("small_convnet", Value(Dict{{"architecture", "configs/models/dlwp_cats_vs_dogs.yaml"}}),
                           "random", &repo);
  CHECK(book->parameter_count() == 3453121);
  CHECK(book->output_activation() == "sigmoid");
  CHECK_THROWS_WITH(create_model("small_convnet", Value(Dict{{"architecture", "configs/models/dlwp_cats_vs_dogs.yaml"}}),
                                 "random"),
                    Catch::Contains("YAML"));
}
