// A loadable shared library that does not export vizrun_plugin_info.
extern "C" int vizrun_test_not_a_plugin() { return 42; }
