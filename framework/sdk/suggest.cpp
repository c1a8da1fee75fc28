// The one edit-distance matcher of vizrun (vizrun/suggest.h).
#include "vizrun/suggest.h"

#include <algorithm>
#include <utility>

namespace vizrun {

std::size_t edit_distance(std::string_view a, std::string_view b) {
  // Three rows of the dynamic programme: i-2, i-1 and i.
  const std::size_t n = b.size();
  std::vector<std::size_t> before(n + 1), prev(n + 1), cur(n + 1);
  for (std::size_t j = 0; j <= n; ++j) prev[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (std::size_t j = 1; j <= n; ++j) {
      const std::size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) cur[j] = std::min(cur[j], before[j - 2] + 1);
    }
    std::swap(before, prev);
    std::swap(prev, cur);
  }
  return prev[n];
}

std::vector<std::string> close_matches(std::string_view word, const std::vector<std::string>& candidates,
                                       std::size_t limit) {
  const std::size_t tolerance = std::max<std::size_t>(2, word.size() / 3);
  std::vector<std::pair<std::size_t, std::size_t>> scored;  // (distance, index in candidates)
  for (std::size_t i = 0; i < candidates.size(); ++i) {
    const std::string& c = candidates[i];
    if (c == word) continue;
    std::size_t d = edit_distance(word, c);
    if (word.size() >= 3 && c.find(word) != std::string::npos) d = std::min<std::size_t>(d, 1);
    if (d <= tolerance) scored.emplace_back(d, i);
  }
  std::stable_sort(scored.begin(), scored.end(), [](const auto& x, const auto& y) { return x.first < y.first; });
  std::vector<std::string> out;
  for (const auto& [d, i] : scored) {
    if (out.size() >= limit) break;
    if (std::find(out.begin(), out.end(), candidates[i]) == out.end()) out.push_back(candidates[i]);
  }
  return out;
}

std::string closest_match(std::string_view word, const std::vector<std::string>& candidates) {
  const auto best = close_matches(word, candidates, 1);
  return best.empty() ? std::string() : best.front();
}

std::string did_you_mean(std::string_view word, const std::vector<std::string>& candidates, std::size_t limit) {
  const auto close = close_matches(word, candidates, limit);
  if (close.empty()) return {};
  std::string out = "did you mean ";
  for (std::size_t i = 0; i < close.size(); ++i) {
    if (i) out += i + 1 == close.size() ? " or " : ", ";
    out += "'" + close[i] + "'";
  }
  return out + "?";
}

}  // namespace vizrun
