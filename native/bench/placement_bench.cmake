# placement_bench: automatic placement (floor/placement.hpp) on a 300-frame
# orbit with 20000 points, and on any track files given.
if(TARGET vanelia_floor)
  add_executable(placement_bench ${CMAKE_CURRENT_LIST_DIR}/placement_bench.cpp)
  target_link_libraries(placement_bench PRIVATE vanelia_floor)
  target_include_directories(placement_bench PRIVATE ${CMAKE_CURRENT_LIST_DIR})
  vanelia_set_warnings(placement_bench)
endif()
