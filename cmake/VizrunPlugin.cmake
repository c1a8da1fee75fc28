# vizrun_add_plugin(<name> SOURCES <files...> [LIBRARIES <libs...>]
#                   [OUTPUT_DIRECTORY <dir>] [NO_INSTALL])
#
# Builds a vizrun plugin: a MODULE library named <name>.vizplugin.so, compiled with
# hidden visibility so that only its entry point `vizrun_plugin_info` is exported
# (two plugins can then never shadow each other's symbols), linked against the
# SDK and LibTorch only. Used in-tree and, after find_package(vizrun), out of tree.
function(vizrun_add_plugin name)
  cmake_parse_arguments(ARG "NO_INSTALL" "OUTPUT_DIRECTORY" "SOURCES;LIBRARIES" ${ARGN})
  if(NOT ARG_SOURCES)
    message(FATAL_ERROR "vizrun_add_plugin(${name}): SOURCES is required")
  endif()
  add_library(${name} MODULE ${ARG_SOURCES})
  set_target_properties(${name} PROPERTIES
    PREFIX ""
    SUFFIX ".vizplugin.so"
    CXX_STANDARD 17
    CXX_VISIBILITY_PRESET hidden
    VISIBILITY_INLINES_HIDDEN ON)
  if(ARG_OUTPUT_DIRECTORY)
    set_target_properties(${name} PROPERTIES LIBRARY_OUTPUT_DIRECTORY ${ARG_OUTPUT_DIRECTORY})
  elseif(VIZRUN_PLUGIN_OUTPUT_DIR)
    set_target_properties(${name} PROPERTIES LIBRARY_OUTPUT_DIRECTORY ${VIZRUN_PLUGIN_OUTPUT_DIR})
  endif()
  target_link_libraries(${name} PRIVATE vizrun::sdk ${ARG_LIBRARIES})
  # Fail at link time, not at load time, on an undefined symbol. -Bsymbolic-functions:
  # the plugin's own (hidden or inline) functions bind inside the plugin, never to a
  # same-named copy exported by the executable, which may have been compiled differently.
  if(VIZRUN_SANITIZER_BUILD AND CMAKE_CXX_COMPILER_ID MATCHES "Clang")
    target_link_options(${name} PRIVATE "LINKER:-Bsymbolic-functions")  # sanitizer runtime: in the executable
  else()
    target_link_options(${name} PRIVATE "LINKER:--no-undefined" "LINKER:-Bsymbolic-functions")
  endif()
  if(VIZRUN_PLUGIN_INSTALL_DIR AND NOT ARG_NO_INSTALL)
    install(TARGETS ${name} LIBRARY DESTINATION ${VIZRUN_PLUGIN_INSTALL_DIR})
  endif()
endfunction()
