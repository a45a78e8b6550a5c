# vanelia_add_library(NAME SRCS ... DEPS ... [PRIVATE_DEPS ...])
#   A static, position-independent library `vanelia_<NAME>` (linked into the
#   CLI and into the Python module), with our warning flags.
# vanelia_add_test(MODULE SRCS ... DEPS ... [LABELS ...])
#   One GoogleTest binary per module, `vanelia_<MODULE>_test`; each TEST is a
#   CTest test named `<MODULE>/<Suite>.<Name>`.

function(vanelia_set_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic)
  if(VANELIA_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
endfunction()

function(vanelia_add_library NAME)
  cmake_parse_arguments(ARG "" "" "SRCS;DEPS;PRIVATE_DEPS" ${ARGN})
  add_library(vanelia_${NAME} STATIC ${ARG_SRCS})
  target_include_directories(vanelia_${NAME} PUBLIC ${VANELIA_INCLUDE_DIR})
  target_link_libraries(vanelia_${NAME} PUBLIC ${ARG_DEPS} PRIVATE ${ARG_PRIVATE_DEPS})
  set_target_properties(vanelia_${NAME} PROPERTIES POSITION_INDEPENDENT_CODE ON)
  vanelia_set_warnings(vanelia_${NAME})
endfunction()

function(vanelia_add_test MODULE)
  cmake_parse_arguments(ARG "" "" "SRCS;DEPS;LABELS" ${ARGN})
  set(target vanelia_${MODULE}_test)
  add_executable(${target} ${ARG_SRCS})
  target_link_libraries(${target} PRIVATE ${ARG_DEPS} GTest::gmock GTest::gtest_main)
  target_include_directories(${target} PRIVATE ${VANELIA_SOURCE_ROOT}/tests/native)
  target_compile_definitions(${target} PRIVATE
    VANELIA_SOURCE_DIR="${VANELIA_SOURCE_ROOT}"
    VANELIA_BINARY_DIR="${CMAKE_BINARY_DIR}")
  vanelia_set_warnings(${target})
  set(labels ${MODULE} ${ARG_LABELS})
  gtest_discover_tests(${target}
    TEST_PREFIX "${MODULE}/"
    DISCOVERY_MODE PRE_TEST
    DISCOVERY_TIMEOUT 60
    WORKING_DIRECTORY ${VANELIA_SOURCE_ROOT}
    PROPERTIES LABELS "${labels}")
endfunction()
