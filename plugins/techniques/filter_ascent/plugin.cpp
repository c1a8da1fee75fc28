// The filter_ascent plugin's entry point.
#include "filter_ascent.h"

VIZRUN_PLUGIN(vizrun::techniques::FilterAscent, "filter_ascent", "1.0.0",
              "Filter patterns by gradient ascent in input space, many filters per batch",
              vizrun::techniques::kFilterAscentSchema)
