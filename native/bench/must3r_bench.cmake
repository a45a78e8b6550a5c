# must3r_bench: MUSt3R video mode, random weights in the real sizes (ViT-L
# encoder, ViT-B decoder). LibTorch + Eigen only (builds on the GPU machine).
if(TARGET vanelia_model)
  add_executable(must3r_bench ${CMAKE_CURRENT_LIST_DIR}/must3r_bench.cpp)
  target_link_libraries(must3r_bench PRIVATE vanelia_model)
  target_include_directories(must3r_bench PRIVATE ${CMAKE_CURRENT_LIST_DIR})
  # Peak GPU memory and device synchronisation need LibTorch's CUDA part.
  if(TARGET torch_cuda OR TORCH_CUDA_LIBRARIES)
    target_compile_definitions(must3r_bench PRIVATE VANELIA_BENCH_CUDA)
  endif()
  vanelia_set_warnings(must3r_bench)
endif()
