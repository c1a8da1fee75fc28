# Hostile inputs (issue 13): alias bombs, non-UTF-8 text, NaN and infinity, numbers
# too large for the machine, decompression bombs. Each case checks the exit code,
# the one-line message and, for runs, the manifest's final state.
# tests/hostile/fuzz_config.sh fuzzes the YAML-to-JSON conversion (clang, not built here).
find_package(ZLIB REQUIRED)
add_executable(hostile_input_tests ${CMAKE_CURRENT_LIST_DIR}/hostile_test.cpp)
target_link_libraries(hostile_input_tests PRIVATE vizrun_test_support ZLIB::ZLIB)
add_dependencies(hostile_input_tests vizrun test_plugins)
if(VIZRUN_BUILD_PLUGINS)
  # The cases that run techniques use the shipped ones on the test model.
  add_dependencies(hostile_input_tests activations filter_ascent gradcam small_convnet)
  target_compile_definitions(hostile_input_tests PRIVATE VIZRUN_HOSTILE_WITH_PLUGINS=1
    VIZRUN_FUZZ_FINDINGS="${PROJECT_SOURCE_DIR}/tests/fuzz/findings")
endif()
vizrun_discover_tests(hostile_input_tests TEST_PREFIX "hostile: " PROPERTIES LABELS hostile TIMEOUT ${VIZRUN_TEST_TIMEOUT})
if(VIZRUN_SANITIZER_BUILD)
  # Instrumented code runs several times slower: the time bounds of "refused quickly" widen.
  target_compile_definitions(hostile_input_tests PRIVATE VIZRUN_SANITIZER_BUILD=1)
endif()
