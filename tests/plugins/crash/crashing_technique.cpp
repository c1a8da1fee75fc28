// Test-only techniques that end the way a buggy plugin can, compiled once per way
// (CRASH_NAME and CRASH_HOW come from tests/plugins/CMakeLists.txt):
//   segfaults   writes through a wild pointer (SIGSEGV)
//   aborts      calls std::abort() (SIGABRT)
//   throws_int  throws an int, not a std::exception
//   exits       calls std::exit(0) in the middle of the run
//   hangs       sleeps for ever, without progress or stop checks (the watchdog's case)
// Before that, it writes the activation of each layer before `crash_at` as .npy, so
// the run has complete files to keep.
#include <ATen/ops/ones.h>

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "vizrun/plugin.h"

#define CRASH_SEGFAULT 1
#define CRASH_ABORT 2
#define CRASH_THROW_INT 3
#define CRASH_EXIT 4
#define CRASH_HANG 5

#if !defined(CRASH_NAME) || !defined(CRASH_HOW)
#error "define CRASH_NAME and CRASH_HOW"
#endif

namespace {

constexpr const char* kSchema = R"({
  "$schema": "http://json-schema.org/draft-07/schema#",
  "type": "object",
  "additionalProperties": false,
  "properties": {
    "layers": {"type": "array", "items": {"type": "string"}, "default": ["conv1", "pool1", "conv2"], "description": "Layers to save, in order."},
    "crash_at": {"type": "integer", "minimum": 0, "default": 1, "description": "Index of the layer at which the plugin crashes."}
  }
})";

[[noreturn]] void crash() {
#if CRASH_HOW == CRASH_SEGFAULT
  volatile std::uintptr_t address = 16;  // not known at compile time: a real fault, not a trap
  *reinterpret_cast<volatile int*>(address) = 1;
  std::abort();  // not reached
#elif CRASH_HOW == CRASH_ABORT
  std::abort();
#elif CRASH_HOW == CRASH_THROW_INT
  throw 42;
#elif CRASH_HOW == CRASH_EXIT
  std::exit(0);
#elif CRASH_HOW == CRASH_HANG
  for (;;) std::this_thread::sleep_for(std::chrono::milliseconds(200));  // a deadlock, say
#else
#error "unknown CRASH_HOW"
#endif
}

class Crashing final : public vizrun::Technique {
 public:
  explicit Crashing(const vizrun::CreateArgs& args) : m_args(args) {}

  void run(vizrun::ModelBackend& model, vizrun::Output& out) override {
    std::vector<std::string> layers;
    for (const auto& l : m_args.options.at("layers").as_list()) layers.push_back(l.as_string());
    const auto crash_at = static_cast<std::size_t>(m_args.options.at("crash_at").as_int());
    const auto spec = model.input_spec();
    const at::Tensor input = at::ones({1, spec.channels, spec.height, spec.width});
    const auto acts = model.forward(model.preprocess(input.mul(128)), layers);
    for (std::size_t i = 0; i < layers.size(); ++i) {
      m_args.host->check_stop();
      m_args.host->progress(layers[i], i, layers.size());
      if (i == crash_at) crash();
      out.array(layers[i], acts.at(layers[i])[0].contiguous(), {{"layer", layers[i]}});
    }
  }

 private:
  vizrun::CreateArgs m_args;
};

}  // namespace

VIZRUN_PLUGIN(Crashing, CRASH_NAME, "1.0.0", "Test-only: a technique that crashes on purpose", kSchema)
