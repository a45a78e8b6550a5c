# classical_track_bench: frames/s of decode + track + solve with the
# classical tracker on given clips (needs the video and track modules).
if(TARGET vanelia_track AND TARGET vanelia_decode AND VANELIA_HAVE_OPENCV)
  add_executable(classical_track_bench ${CMAKE_CURRENT_LIST_DIR}/classical_track_bench.cpp)
  target_link_libraries(classical_track_bench PRIVATE vanelia_track vanelia_decode)
  vanelia_set_warnings(classical_track_bench)
endif()
