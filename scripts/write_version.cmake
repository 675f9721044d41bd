# Writes lib/base/version.cpp.in to OUT with the commit SOURCE_DIR is at (cmake -P; VERSION and
# SOURCE_DIR given with -D). configure_file leaves OUT untouched when nothing changed, so running
# this at every build recompiles one file after a commit and nothing otherwise.
execute_process(COMMAND git -C ${SOURCE_DIR} rev-parse --short=12 HEAD
                OUTPUT_VARIABLE MODELPRESS_GIT_COMMIT OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
if(NOT MODELPRESS_GIT_COMMIT)
  set(MODELPRESS_GIT_COMMIT unknown)
endif()
set(PROJECT_VERSION ${VERSION})
set(CMAKE_SOURCE_DIR ${SOURCE_DIR})
configure_file(${SOURCE_DIR}/lib/base/version.cpp.in ${OUT} @ONLY)
