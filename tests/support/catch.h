#pragma once
/// Include this instead of <catch2/catch.hpp>. Debian's LibTorch logs through glog,
/// whose CHECK macro aborts instead of recording a failure; whichever header comes
/// last wins. Pull glog in first and let Catch2 define CHECK.
#include <c10/util/Logging.h>
#undef CHECK
#include <catch2/catch.hpp>
