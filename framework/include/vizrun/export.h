#pragma once
/// \file export.h
/// Symbol visibility. Plugins build with -fvisibility=hidden, so anything the SDK
/// library defines for plugins to use (key functions, typeinfo, helpers) is marked.

#define VIZRUN_SDK_API __attribute__((visibility("default")))
