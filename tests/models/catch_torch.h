#pragma once
// LibTorch (built with glog) defines a CHECK macro of its own; include it first and
// let Catch's CHECK win.
#include <torch/torch.h>
#undef CHECK
#include <catch2/catch.hpp>
