// A well-formed plugin whose declared name differs from its file name.
#include "vizrun/plugin.h"

namespace {
class Renamed final : public vizrun::Technique {
 public:
  explicit Renamed(const vizrun::CreateArgs&) {}
  void run(vizrun::ModelBackend&, vizrun::Output&) override {}
};
}  // namespace

VIZRUN_PLUGIN(Renamed, "something_else", "1.0.0", "name does not match the file", R"({"type": "object"})")
