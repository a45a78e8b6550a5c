# proxies_bench: proxy shapes (floor/proxies.hpp) of 100000 points (the
# track file's most: floor, five boxes, a wall, outliers), and of any track
# files given.
if(TARGET vanelia_floor)
  add_executable(proxies_bench ${CMAKE_CURRENT_LIST_DIR}/proxies_bench.cpp)
  target_link_libraries(proxies_bench PRIVATE vanelia_floor)
  target_include_directories(proxies_bench PRIVATE ${CMAKE_CURRENT_LIST_DIR})
  vanelia_set_warnings(proxies_bench)
endif()
