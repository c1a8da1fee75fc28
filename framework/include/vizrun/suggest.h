#pragma once
/// \file suggest.h
/// The one "did you mean" of vizrun: the host (config keys, enum values, plugin
/// names), the model kit (layer names) and techniques (layers, class names) all
/// suggest with these functions, so a typo gets the same suggestions whichever
/// part of vizrun complains.
///
/// The rule: a candidate is a plausible typo of `word` when their edit distance
/// (insertions, deletions, substitutions and swaps of two neighbouring characters,
/// each counting 1) is at most max(2, |word| / 3), or when `word` has at least 3
/// characters and is a part of the candidate ("conv3" for "block3_conv3"). Suggestions
/// come closest first (containment ranks as distance 1), ties in candidate order.

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "vizrun/export.h"

namespace vizrun {

/// Optimal-string-alignment distance: Levenshtein plus adjacent transpositions.
VIZRUN_SDK_API std::size_t edit_distance(std::string_view a, std::string_view b);

/// The plausible typos of `word` among `candidates` (see the rule above), best first,
/// at most `limit`. Candidates equal to `word` are skipped (nothing to suggest).
VIZRUN_SDK_API std::vector<std::string> close_matches(std::string_view word, const std::vector<std::string>& candidates,
                                                      std::size_t limit = 3);

/// The best of close_matches, or "" when no candidate is plausible.
VIZRUN_SDK_API std::string closest_match(std::string_view word, const std::vector<std::string>& candidates);

/// "did you mean 'a'?", "did you mean 'a' or 'b'?", "did you mean 'a', 'b' or 'c'?",
/// or "" when close_matches(word, candidates, limit) is empty: for error messages.
VIZRUN_SDK_API std::string did_you_mean(std::string_view word, const std::vector<std::string>& candidates,
                                        std::size_t limit = 3);

}  // namespace vizrun
