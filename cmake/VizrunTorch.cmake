# Finds LibTorch: Debian's libtorch-dev (1.13, CPU) or the LibTorch inside PyPI's torch
# wheel (2.x, CUDA; CMAKE_PREFIX_PATH = torch.utils.cmake_prefix_path, scripts/setup.sh
# --torch pypi). Two quirks of the wheel are bridged here, before and after its config:
#
# 1. TorchConfig.cmake finds libtorch.so and libc10.so with find_library(... PATHS
#    <wheel>/lib), and PATHS are searched after the system folders: where libtorch-dev
#    is installed as well, Debian's 1.13 libraries would be linked under the wheel's 2.x
#    headers. The wheel's lib/ is put in front for that one call.
#    Likewise its find_package(Caffe2 PATHS ...): a project that names only Torch_DIR
#    (a plugin built against an installed SDK) would get Debian's Caffe2 config, and
#    with it Debian's torch_cpu. Caffe2_DIR is pointed at the wheel's.
# 2. With CUDA, the wheel's config links the CUDA runtime of the toolkit it found (nvcc,
#    e.g. /usr/local/cuda at 13.0), while the wheel's libtorch_cuda.so loads its own
#    (nvidia/cu13/lib, 13.2). Both are libcudart.so.13: whichever the executable names
#    first is the one torch gets too. The wheel's own runtime is linked instead.
#
# Included once, from the top-level CMakeLists.txt and from the installed vizrunConfig.cmake.
include_guard(GLOBAL)

set(_vizrun_torch_wheel "")
foreach(_dir IN LISTS Torch_DIR CMAKE_PREFIX_PATH)
  foreach(_config "${_dir}/TorchConfig.cmake" "${_dir}/Torch/TorchConfig.cmake")
    # A wheel's config sits at <site-packages>/torch/share/cmake/Torch.
    if(NOT _vizrun_torch_wheel AND EXISTS "${_config}")
      get_filename_component(_root "${_config}/../../../.." ABSOLUTE)
      if(EXISTS "${_root}/lib/libtorch.so" AND EXISTS "${_root}/__init__.py")
        set(_vizrun_torch_wheel "${_root}")
      endif()
    endif()
  endforeach()
endforeach()

set(_vizrun_saved_library_path "${CMAKE_LIBRARY_PATH}")
if(_vizrun_torch_wheel)
  list(PREPEND CMAKE_LIBRARY_PATH "${_vizrun_torch_wheel}/lib")
  set(Caffe2_DIR "${_vizrun_torch_wheel}/share/cmake/Caffe2" CACHE PATH "The wheel's Caffe2 config" FORCE)
endif()
find_package(Torch REQUIRED)
set(CMAKE_LIBRARY_PATH "${_vizrun_saved_library_path}")

set(VIZRUN_TORCH_SOURCE debian)
if(_vizrun_torch_wheel)
  set(VIZRUN_TORCH_SOURCE pypi)
  get_filename_component(_linked "${TORCH_LIBRARY}" DIRECTORY)
  if(NOT _linked STREQUAL "${_vizrun_torch_wheel}/lib")
    message(FATAL_ERROR "LibTorch: the wheel at ${_vizrun_torch_wheel} was found, but its config chose "
                        "${TORCH_LIBRARY}; clear TORCH_LIBRARY and c10_LIBRARY from the cache (or use a new build folder)")
  endif()
  file(GLOB _wheel_cudart "${_vizrun_torch_wheel}/../nvidia/cu*/lib/libcudart.so.*")
  file(GLOB _wheel_nvrtc "${_vizrun_torch_wheel}/../nvidia/cu*/lib/libnvrtc.so.*")
  if(TARGET torch::cudart AND _wheel_cudart)
    list(GET _wheel_cudart 0 _wheel_cudart)
    set_property(TARGET torch::cudart PROPERTY INTERFACE_LINK_LIBRARIES "${_wheel_cudart}")
  endif()
  if(CUDA_NVRTC_LIB AND _wheel_nvrtc)
    list(GET _wheel_nvrtc 0 _wheel_nvrtc)
    list(REMOVE_ITEM TORCH_LIBRARIES "${CUDA_NVRTC_LIB}")
    list(APPEND TORCH_LIBRARIES "${_wheel_nvrtc}")
  endif()
  # Installed binaries keep the wheel's library folders in their RPATH (Dockerfile.cuda
  # installs such a build): the wheel's libraries are nowhere the loader looks by itself.
  set(CMAKE_INSTALL_RPATH_USE_LINK_PATH ON)
  message(STATUS "LibTorch: PyPI's torch wheel at ${_vizrun_torch_wheel}")
else()
  message(STATUS "LibTorch: ${TORCH_LIBRARY}")
endif()
