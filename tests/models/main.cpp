// Catch2 main of the model tests; LibTorch uses every core as the host does.
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>
#include <torch/torch.h>

#include <thread>

int main(int argc, char** argv) {
  torch::set_num_threads(static_cast<int>(std::max(1u, std::thread::hardware_concurrency())));
  return Catch::Session().run(argc, argv);
}
