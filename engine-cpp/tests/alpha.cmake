# --- alpha (CGAL) ---
# Alpha-complex persistence (include/tda/core/alpha*.hpp, src/cli/alpha_cli.cpp,
# tests/alpha_test.cpp). Include this file from the engine's top-level
# CMakeLists.txt after the targets tda_core (and, optionally, tda-engine) exist:
#     include(tests/alpha.cmake)
# CGAL (Debian libcgal-dev, header-only; links GMP and MPFR) makes the engine
# GPL-3.0-or-later, see ../LICENSE.md.
set(TDA_ALPHA_ROOT "${CMAKE_CURRENT_LIST_DIR}/..")
get_filename_component(TDA_ALPHA_ROOT "${TDA_ALPHA_ROOT}" ABSOLUTE)

find_package(CGAL CONFIG REQUIRED)

add_library(tda_alpha INTERFACE)
target_link_libraries(tda_alpha INTERFACE tda_core CGAL::CGAL)

# The alpha CLI as a static library: CGAL's interface options (-frounding-math)
# stay on this translation unit, targets linking it only get GMP/MPFR.
add_library(tda_alpha_cli_lib STATIC "${TDA_ALPHA_ROOT}/src/cli/alpha_cli.cpp")
target_include_directories(tda_alpha_cli_lib PUBLIC "${TDA_ALPHA_ROOT}/src")
target_link_libraries(tda_alpha_cli_lib PRIVATE tda_alpha)
target_compile_options(tda_alpha_cli_lib PRIVATE -Wall -Wextra)

set_target_properties(tda_alpha_cli_lib PROPERTIES POSITION_INDEPENDENT_CODE ON)

# tda-engine: main.cpp hands `--algorithm alpha` to libtda_alpha_cli.so (next to
# the executable, loaded only then: a Rips run maps no GMP/MPFR). A target that
# includes tda/core/alpha.hpp itself (e.g. the gRPC service) links tda_alpha.
add_library(tda_alpha_cli_so SHARED "${TDA_ALPHA_ROOT}/src/cli/alpha_entry.cpp")
set_target_properties(tda_alpha_cli_so PROPERTIES OUTPUT_NAME tda_alpha_cli CXX_VISIBILITY_PRESET hidden VISIBILITY_INLINES_HIDDEN ON)
target_link_libraries(tda_alpha_cli_so PRIVATE tda_alpha_cli_lib)
target_compile_options(tda_alpha_cli_so PRIVATE -Wall -Wextra)
if(TARGET tda-engine)
  add_dependencies(tda-engine tda_alpha_cli_so)
endif()

# A CLI driver without the gRPC server (bench/alpha_bench.py uses it when
# tda-engine is not built).
add_executable(tda_alpha_cli "${TDA_ALPHA_ROOT}/tests/alpha_cli_main.cpp")
target_link_libraries(tda_alpha_cli PRIVATE tda_alpha_cli_lib)

if(NOT GTest_FOUND)
  find_package(GTest)
endif()
if(GTest_FOUND)
  include(GoogleTest)
  get_filename_component(TDA_ALPHA_FIXTURES "${TDA_ALPHA_ROOT}/../test/fixtures" ABSOLUTE)
  add_executable(alpha_test "${TDA_ALPHA_ROOT}/tests/alpha_test.cpp")
  target_link_libraries(alpha_test PRIVATE tda_alpha GTest::gtest_main)
  target_compile_definitions(alpha_test PRIVATE TDA_FIXTURES_DIR="${TDA_ALPHA_FIXTURES}")
  target_compile_definitions(alpha_test PRIVATE TDA_ALPHA_CLI="$<TARGET_FILE:tda_alpha_cli>")
  add_dependencies(alpha_test tda_alpha_cli)
  target_compile_options(alpha_test PRIVATE -Wall -Wextra)
  gtest_discover_tests(alpha_test DISCOVERY_TIMEOUT 60 PROPERTIES TIMEOUT 600)
else()
  message(WARNING "GoogleTest not found: alpha_test is not built")
endif()
# --- end alpha (CGAL) ---
