# dust3r_bench: DUSt3R pairs + global alignment, random weights in the real
# DUSt3R_ViTLarge_BaseDecoder_512_dpt sizes. LibTorch + Eigen only (builds on
# the GPU machine); its upstream peer is dust3r_upstream_bench.py.
if(TARGET vanelia_model)
  add_executable(dust3r_bench ${CMAKE_CURRENT_LIST_DIR}/dust3r_bench.cpp)
  target_link_libraries(dust3r_bench PRIVATE vanelia_model)
  target_include_directories(dust3r_bench PRIVATE ${CMAKE_CURRENT_LIST_DIR})
  if(TARGET torch_cuda OR TORCH_CUDA_LIBRARIES)
    target_compile_definitions(dust3r_bench PRIVATE VANELIA_BENCH_CUDA)
  endif()
  vanelia_set_warnings(dust3r_bench)
endif()
