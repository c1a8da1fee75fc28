// Passes the handshake but its constructor throws: creation must fail with the
// plugin's message, and nothing may be thrown across the C boundary.
#include "vizrun/plugin.h"

namespace {
class Throws final : public vizrun::Technique {
 public:
  explicit Throws(const vizrun::CreateArgs&) { throw vizrun::Error("cannot start: the moon is in the wrong phase"); }
  void run(vizrun::ModelBackend&, vizrun::Output&) override {}
};
}  // namespace

VIZRUN_PLUGIN(Throws, "throws_on_create", "1.0.0", "always fails to construct", R"({"type": "object"})")
