# video_decode_bench: decode + RGB frames/s (needs FFmpeg; the 1080p clips are
# generated with the ffmpeg CLI into the build folder on first run).
if(TARGET vanelia_decode AND VANELIA_HAVE_FFMPEG)
  add_executable(video_decode_bench ${CMAKE_CURRENT_LIST_DIR}/video_decode_bench.cpp)
  target_link_libraries(video_decode_bench PRIVATE vanelia_decode)
  target_include_directories(video_decode_bench PRIVATE ${CMAKE_CURRENT_LIST_DIR})
  target_compile_definitions(video_decode_bench PRIVATE
    VANELIA_SOURCE_DIR="${VANELIA_SOURCE_ROOT}"
    VANELIA_BINARY_DIR="${CMAKE_BINARY_DIR}")
  vanelia_set_warnings(video_decode_bench)
endif()
