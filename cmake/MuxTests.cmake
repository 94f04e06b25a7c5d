# Whether to build the tests: sets MUX_BUILD_TESTS from MUX_TESTS (ON, OFF,
# AUTO). The unit tests need cmocka, the integration tests Python 3; with
# AUTO and either missing, muxd, muxcat and libmux are still built and one
# notice says how to get the tests. ON without them is an error.
string(TOUPPER "${MUX_TESTS}" mux_tests_mode)
set(MUX_BUILD_TESTS OFF)
if(mux_tests_mode STREQUAL "OFF" OR mux_tests_mode STREQUAL "NO"
   OR mux_tests_mode STREQUAL "0" OR mux_tests_mode STREQUAL "FALSE")
  return()
endif()

find_path(CMOCKA_INCLUDE_DIR cmocka.h)
find_library(CMOCKA_LIBRARY cmocka)
find_package(Python3 QUIET COMPONENTS Interpreter)
set(mux_tests_missing)
if(NOT CMOCKA_INCLUDE_DIR OR NOT CMOCKA_LIBRARY)
  list(APPEND mux_tests_missing "cmocka (Debian: libcmocka-dev)")
endif()
if(NOT Python3_Interpreter_FOUND)
  list(APPEND mux_tests_missing "Python 3 (Debian: python3)")
endif()

if(NOT mux_tests_missing)
  set(MUX_BUILD_TESTS ON)
  return()
endif()
list(JOIN mux_tests_missing " and " mux_tests_missing)
if(mux_tests_mode STREQUAL "AUTO")
  message(NOTICE "muxd: tests not built: ${mux_tests_missing} not found "
                 "(install it, or run scripts/test.sh, which does)")
else()
  message(FATAL_ERROR "MUX_TESTS=${MUX_TESTS} needs ${mux_tests_missing}, "
                      "which was not found (install it, or configure with "
                      "-DMUX_TESTS=AUTO to build without the tests)")
endif()
