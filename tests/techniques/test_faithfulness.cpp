// Faithfulness metrics (vizrun/faithfulness.h) against pytorch-grad-cam 1.5.7's metrics
// module and a RISE implementation from the paper
// (tests/oracles/techniques/make_metrics_fixtures.py), and bounded memory over long curves.
#include <ATen/ATen.h>

#include "catch.h"
#include <cmath>
#include <cstdio>
#include <fstream>
#include <unistd.h>

#include "fakes.h"
#include "gradcam.h"
#include "npy.h"
#include "tiny_model.h"
#include "vizrun/faithfulness.h"

using namespace vizrun;
using namespace vizrun::testing;
namespace fm = vizrun::faithfulness;

namespace {
at::Tensor fixture(const std::string& name) { return read_npy(technique_fixtures() + "/metrics/" + name + ".npy"); }

struct Setup {
  TinyNet model{technique_fixtures() + "/tiny_net"};
  at::Tensor input = model.preprocess(fixture("photos"));
  at::Tensor maps = fixture("maps");
  std::vector<std::int64_t> classes;
  Setup() {
    const at::Tensor c = fixture("classes");
    for (std::int64_t i = 0; i < c.numel(); ++i) classes.push_back(c[i].item<std::int64_t>());
  }
};

fm::MetricsOptions options_with(std::vector<std::string> which) {
  fm::MetricsOptions o;
  o.which = std::move(which);
  o.road_noise = 0;  // the fixtures' imputer has no noise
  return o;
}

double max_error(const std::vector<double>& got, const at::Tensor& want) {
  REQUIRE(static_cast<std::int64_t>(got.size()) == want.numel());
  double err = 0;
  for (std::size_t i = 0; i < got.size(); ++i) err = std::max(err, std::fabs(got[i] - want.flatten()[static_cast<std::int64_t>(i)].item<double>()));
  return err;
}

std::vector<double> value_of(const std::vector<fm::MapMetrics>& results, const std::string& metric) {
  std::vector<double> out;
  for (const auto& r : results) out.push_back(r.values.at(metric));
  return out;
}

double rss_mb() {
  std::ifstream in("/proc/self/statm");
  long pages = 0, resident = 0;
  in >> pages >> resident;
  return static_cast<double>(resident) * static_cast<double>(sysconf(_SC_PAGESIZE)) / (1024.0 * 1024.0);
}
}  // namespace

TEST_CASE("confidence metrics equal pytorch-grad-cam's within 1e-4", "[metrics][oracle]") {
  Setup s;
  const auto results = fm::evaluate(s.model, s.input, s.maps, s.classes,
                                    options_with({"cam_mult_confidence_change", "drop_in_confidence", "increase_in_confidence"}));
  std::vector<double> base;
  for (const auto& r : results) base.push_back(r.score);
  const double errs[] = {max_error(base, fixture("base_score")),
                         max_error(value_of(results, "cam_mult_confidence_change"), fixture("cam_mult")),
                         max_error(value_of(results, "drop_in_confidence"), fixture("drop_in_confidence")),
                         max_error(value_of(results, "increase_in_confidence"), fixture("increase_in_confidence"))};
  for (double e : errs) CHECK(e < 1e-4);
  fm::MetricsOptions logit = options_with({"cam_mult_confidence_change"});
  logit.score = "logit";
  const double logit_err = max_error(value_of(fm::evaluate(s.model, s.input, s.maps, s.classes, logit), "cam_mult_confidence_change"),
                                     fixture("cam_mult_logit"));
  CHECK(logit_err < 1e-4);
  std::printf("metrics oracle: base %.3g, cam_mult %.3g, drop %.3g, increase %.3g, cam_mult (logit) %.3g\n", errs[0], errs[1],
              errs[2], errs[3], logit_err);
}

TEST_CASE("ROAD equals pytorch-grad-cam's: masks, imputed images, scores, averages, combined", "[metrics][oracle][road]") {
  Setup s;
  const at::Tensor x0 = s.input[0];
  double image_err = 0;
  for (const int p : {20, 80}) {
    const at::Tensor mask = fm::road_keep_mask(s.maps[0], p, true);
    CHECK(mask.equal(fixture("mask_morf_" + std::to_string(p))));
    for (const bool morf : {true, false}) {
      const at::Tensor imputed = fm::noisy_linear_impute(x0, fm::road_keep_mask(s.maps[0], p, morf), 0.0, 0);
      const at::Tensor want = fixture(std::string("imputed_") + (morf ? "morf_" : "lerf_") + std::to_string(p));
      image_err = std::max(image_err, (imputed - want).abs().max().item<double>());
    }
  }
  CHECK(image_err < 1e-4);
  const auto results = fm::evaluate(s.model, s.input, s.maps, s.classes, options_with({"road_morf", "road_lerf", "road_combined"}));
  std::vector<double> morf, lerf;
  for (const auto& r : results) {
    morf.insert(morf.end(), r.road_morf.begin(), r.road_morf.end());
    lerf.insert(lerf.end(), r.road_lerf.begin(), r.road_lerf.end());
  }
  const double errs[] = {max_error(morf, fixture("road_morf")), max_error(lerf, fixture("road_lerf")),
                         max_error(value_of(results, "road_morf"), fixture("road_morf_average")),
                         max_error(value_of(results, "road_lerf"), fixture("road_lerf_average")),
                         max_error(value_of(results, "road_combined"), fixture("road_combined"))};
  for (double e : errs) CHECK(e < 1e-4);
  std::printf("ROAD oracle: imputed images %.3g, MoRF %.3g, LeRF %.3g, MoRF avg %.3g, LeRF avg %.3g, combined %.3g\n", image_err,
              errs[0], errs[1], errs[2], errs[3], errs[4]);
}

TEST_CASE("ROAD's imputer: noise of the given size, NaN when nothing is kept, percentile as numpy", "[metrics][road]") {
  Setup s;
  const at::Tensor keep = fm::road_keep_mask(s.maps[1], 50, true);
  const at::Tensor clean = fm::noisy_linear_impute(s.input[1], keep, 0.0, 0);
  const at::Tensor noisy = fm::noisy_linear_impute(s.input[1], keep, 0.01, 5);
  const at::Tensor removed = (keep == 0).unsqueeze(0).expand_as(clean);
  const double spread = (noisy - clean).masked_select(removed).std().item<double>();
  CHECK(std::fabs(spread - 0.01) < 0.002);
  CHECK((noisy - clean).masked_select(removed.logical_not()).abs().max().item<double>() == 0.0);
  CHECK(fm::noisy_linear_impute(s.input[1], keep, 0.01, 5).equal(noisy));  // same seed, same noise
  CHECK(fm::noisy_linear_impute(s.input[1], at::zeros({32, 32}), 0.0, 0).isnan().all().item<bool>());
  CHECK(fm::percentile(at::tensor({1.0f, 2.0f, 3.0f, 4.0f}), 50) == Approx(2.5));
  CHECK(fm::percentile(at::tensor({1.0f, 2.0f, 3.0f, 4.0f}), 10) == Approx(1.3));
}

TEST_CASE("deletion and insertion equal the RISE oracle within 1e-4", "[metrics][oracle][rise]") {
  Setup s;
  CHECK((fm::gaussian_blur(s.input.narrow(0, 0, 1), 11, 5.0)[0] - fixture("blurred0")).abs().max().item<double>() < 1e-5);
  for (const std::int64_t steps : {16, 100}) {
    for (const std::string& kind : {"deletion_zero", "deletion_blur", "insertion_blur"}) {
      fm::MetricsOptions o = options_with({kind.substr(0, kind.find('_'))});
      o.steps = steps;
      o.deletion_substrate = kind == "deletion_blur" ? "blur" : "zero";
      o.memory_mb = 1;  // several batches per curve
      const auto results = fm::evaluate(s.model, s.input, s.maps, s.classes, o);
      std::vector<double> curves, aucs;
      for (const auto& r : results) {
        const auto& c = kind[0] == 'd' ? r.deletion : r.insertion;
        curves.insert(curves.end(), c.begin(), c.end());
        aucs.push_back(r.values.at(kind.substr(0, kind.find('_'))));
      }
      const std::string name = kind + "_" + std::to_string(steps);
      const double curve_err = max_error(curves, fixture(name)), auc_err = max_error(aucs, fixture(name + "_auc"));
      CHECK(curve_err < 1e-4);
      CHECK(auc_err < 1e-4);
      std::printf("RISE oracle %s: curve %.3g, AUC %.3g\n", name.c_str(), curve_err, auc_err);
    }
  }
  CHECK(fm::auc({1.0, 0.0}) == Approx(0.5));
  CHECK(fm::auc({0.0, 1.0, 1.0}) == Approx(0.75));
}

TEST_CASE("a long curve does not raise peak memory: inputs go through in budgeted batches", "[metrics][memory]") {
  Setup s;
  const at::Tensor input = at::rand({1, 3, 96, 96});
  const at::Tensor maps = at::rand({1, 96, 96});
  fm::MetricsOptions o = options_with({"deletion", "insertion"});
  o.memory_mb = 8;
  const std::int64_t batch = fm::perturbation_batch(s.model, 96, 96, o.memory_mb);
  CHECK(batch >= 1);
  CHECK(batch < 2000);
  o.steps = 50;
  fm::evaluate(s.model, input, maps, {0}, o);  // warm up the allocator
  const double before = rss_mb();
  o.steps = 4000;  // 8002 inputs of 108 KiB: 860 MiB if they were held at once
  const auto results = fm::evaluate(s.model, input, maps, {0}, o);
  const double after = rss_mb();
  REQUIRE(results[0].deletion.size() == 4001);
  INFO("rss before " << before << " MB, after " << after << " MB, batch " << batch);
  CHECK(after - before < 40.0);
}

TEST_CASE("MetricsLog records one entry per map in the manifest, the schema fragment fills defaults", "[metrics]") {
  Setup s;
  const std::string schema = std::string(R"({"type": "object", "properties": {"metrics": )") + VIZRUN_FAITHFULNESS_SCHEMA + "}}";
  Value options = Dict{{"metrics", Dict{{"steps", 8}, {"which", List{"deletion", "insertion", "road_combined"}}}}};
  fill_defaults(options, schema);
  CHECK(options.at("metrics").at("percentiles").as_list().size() == 9);
  fm::MetricsLog log(options.at("metrics"), "metrics", 3);
  REQUIRE(log.enabled());
  KeepOutput out;
  log.evaluate(s.model, out, s.input, s.maps, s.classes, {{"a.png", "gradcam", "conv2"}, {"b.png", "gradcam", "conv2"}});
  log.evaluate(s.model, out, s.input.narrow(0, 0, 1), s.maps.narrow(0, 0, 1), {s.classes[0]}, {{"a.png", "hirescam", "conv2"}});
  const auto& entries = out.records.at("metrics").as_list();
  REQUIRE(entries.size() == 3);
  CHECK(entries[2].at("method").as_string() == "hirescam");
  CHECK(entries[0].at("curves").at("deletion").as_list().size() == 9);
  CHECK(entries[0].at("values").contains("road_combined"));
  CHECK(entries[0].at("road").at("morf").as_list().size() == 9);
  CHECK_FALSE(fm::MetricsLog(Value()).enabled());
  CHECK_THROWS_AS(fm::MetricsLog(Value(Dict{{"which", List{"average_dropp"}}})), Error);
}

TEST_CASE("gradcam's metrics option records every map's metrics", "[metrics][gradcam]") {
  TinyNet model(technique_fixtures() + "/tiny_net");
  FakeHost host;
  host.pictures["a"] = fixture("photos")[0];
  host.pictures["b"] = fixture("photos")[1];
  CreateArgs a;
  a.options = Value(Dict{{"images", List{"a", "b"}}, {"classes", Dict{{"top", 2}}}, {"batch_size", 1},
                         {"metrics", Dict{{"steps", 10}, {"which", List{"deletion", "insertion", "drop_in_confidence"}}}}});
  fill_defaults(a.options, techniques::kGradCamSchema);
  a.host = &host;
  KeepOutput out;
  techniques::GradCam(a).run(model, out);
  const auto& entries = out.records.at("metrics").as_list();
  REQUIRE(entries.size() == 4);  // 2 images x top 2
  for (const auto& e : entries) {
    CHECK(e.at("method").as_string() == "gradcam");
    CHECK(e.at("layer").as_string() == "conv3");
    CHECK(e.at("curves").at("insertion").as_list().size() == 11);
    CHECK(e.at("values").at("deletion").is_number());
  }
  // Without the option nothing is computed or recorded.
  CreateArgs plain = a;
  plain.options.as_dict().erase("metrics");
  KeepOutput quiet;
  techniques::GradCam(plain).run(model, quiet);
  CHECK(quiet.records.count("metrics") == 0);
}
