# Hostile-input tests of plugin isolation (issue 13, defects 3, 4 and 11): damaged
# plugin files, crashing plugins under the supervisor, SIGKILL and resume, a full disk.
add_executable(hostile_isolation_tests
  ${CMAKE_CURRENT_LIST_DIR}/isolation_util.cpp
  ${CMAKE_CURRENT_LIST_DIR}/plugin_file_test.cpp
  ${CMAKE_CURRENT_LIST_DIR}/crash_test.cpp
  ${CMAKE_CURRENT_LIST_DIR}/disk_test.cpp)
target_link_libraries(hostile_isolation_tests PRIVATE vizrun_test_support)
add_dependencies(hostile_isolation_tests test_plugins test_crash_plugins vizrun)
vizrun_discover_tests(hostile_isolation_tests TEST_PREFIX "hostile: " PROPERTIES TIMEOUT ${VIZRUN_TEST_TIMEOUT})
