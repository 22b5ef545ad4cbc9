# Writes OUT (a header defining SWEEPFARM_COMMIT) from `git describe` of SOURCE_DIR, only when it
# changes: run on every build (common/CMakeLists.txt), so a new commit rebuilds one file.
execute_process(COMMAND git -C "${SOURCE_DIR}" describe --always --dirty --abbrev=12
                OUTPUT_VARIABLE commit OUTPUT_STRIP_TRAILING_WHITESPACE
                RESULT_VARIABLE failed ERROR_QUIET)
if(failed OR commit STREQUAL "")
  set(commit "unknown")  # Not a git checkout (a copied tree, a source archive).
endif()
set(text "#define SWEEPFARM_COMMIT \"${commit}\"\n")
if(EXISTS "${OUT}")
  file(READ "${OUT}" old)
endif()
if(NOT old STREQUAL text)
  file(WRITE "${OUT}" "${text}")
endif()
