# environment_bench: the environment map of a run (issue 21;
# pipeline/environment_stage.hpp) against decoding the same clip, on the
# bundled sample or the clips given.
if(TARGET vanelia_pipeline)
  add_executable(environment_bench ${CMAKE_CURRENT_LIST_DIR}/environment_bench.cpp)
  target_link_libraries(environment_bench PRIVATE vanelia_pipeline)
  target_include_directories(environment_bench PRIVATE ${CMAKE_CURRENT_LIST_DIR})
  target_compile_definitions(environment_bench PRIVATE
    VANELIA_SOURCE_ROOT="${VANELIA_SOURCE_ROOT}")
  vanelia_set_warnings(environment_bench)
endif()
