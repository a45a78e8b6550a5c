# Finds the third-party packages. Eigen and nlohmann_json are required; the
# rest switch features off when their option is OFF. On the GPU machine,
# where Debian's -dev packages are absent, point VANELIA_EXTRA_PREFIX at a
# folder holding nlohmann's header and googletest's sources (see
# native/bench/README.md).

set(VANELIA_EXTRA_PREFIX "" CACHE PATH "Extra prefix for carried headers/sources")
if(VANELIA_EXTRA_PREFIX)
  list(APPEND CMAKE_PREFIX_PATH ${VANELIA_EXTRA_PREFIX})
endif()

find_package(Eigen3 3.3 REQUIRED NO_MODULE)
find_package(nlohmann_json 3.9 QUIET)
if(NOT nlohmann_json_FOUND)
  find_path(VANELIA_NLOHMANN_INCLUDE nlohmann/json.hpp
            HINTS ${VANELIA_EXTRA_PREFIX}/include REQUIRED)
  add_library(nlohmann_json::nlohmann_json INTERFACE IMPORTED)
  target_include_directories(nlohmann_json::nlohmann_json INTERFACE ${VANELIA_NLOHMANN_INCLUDE})
endif()

if(VANELIA_BUILD_TESTS)
  find_package(GTest QUIET)
  if(NOT GTest_FOUND)
    set(gtest_src ${VANELIA_EXTRA_PREFIX}/src/googletest)
    if(NOT EXISTS ${gtest_src}/CMakeLists.txt)
      set(gtest_src /usr/src/googletest)
    endif()
    set(INSTALL_GTEST OFF CACHE BOOL "" FORCE)
    add_subdirectory(${gtest_src} ${CMAKE_BINARY_DIR}/googletest EXCLUDE_FROM_ALL)
    add_library(GTest::gtest_main ALIAS gtest_main)
    add_library(GTest::gmock ALIAS gmock)
  endif()
  include(GoogleTest)
endif()

set(VANELIA_HAVE_FFMPEG OFF)
if(VANELIA_WITH_FFMPEG)
  find_package(PkgConfig REQUIRED)
  pkg_check_modules(LIBAV REQUIRED IMPORTED_TARGET
                    libavformat libavcodec libavutil libswscale)
  set(VANELIA_HAVE_FFMPEG ON)
endif()

set(VANELIA_HAVE_OPENCV OFF)
if(VANELIA_WITH_OPENCV)
  find_package(OpenCV 4 REQUIRED COMPONENTS core imgproc features2d video calib3d)
  find_package(Ceres 2 REQUIRED)
  set(VANELIA_HAVE_OPENCV ON)
endif()

set(VANELIA_HAVE_TORCH OFF)
if(VANELIA_WITH_TORCH)
  find_package(Torch REQUIRED)
  # Treat LibTorch's headers as system headers so -Werror applies to ours only.
  add_library(vanelia_torch_deps INTERFACE)
  target_link_libraries(vanelia_torch_deps INTERFACE ${TORCH_LIBRARIES})
  target_include_directories(vanelia_torch_deps SYSTEM INTERFACE ${TORCH_INCLUDE_DIRS})
  set(VANELIA_HAVE_TORCH ON)
endif()

if(VANELIA_WITH_PYTHON)
  if(NOT Python3_EXECUTABLE AND EXISTS /usr/bin/python3)
    # Build for the system Python, the one Blender (Debian) embeds.
    set(Python3_EXECUTABLE /usr/bin/python3)
  endif()
  find_package(Python3 REQUIRED COMPONENTS Interpreter Development.Module)
  set(PYTHON_EXECUTABLE ${Python3_EXECUTABLE})
  find_package(pybind11 2.10 CONFIG REQUIRED)
endif()
