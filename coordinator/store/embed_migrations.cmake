# Writes OUT: a C++ file holding every db/migrations/NNNN_name.sql, in order, as raw strings, so
# binaries carry their schema wherever they run.
file(GLOB files "${DIR}/*.sql")
list(SORT files)
set(body "")
foreach(f ${files})
  get_filename_component(name ${f} NAME_WE)
  string(REGEX MATCH "^[0-9]+" version ${name})
  # Without leading zeros: C++ would read 0008 as a (bad) octal literal.
  string(REGEX REPLACE "^0+([0-9])" "\\1" version ${version})
  file(READ ${f} sql)
  string(APPEND body "    {${version}, \"${name}\", R\"sfsql(${sql})sfsql\"},\n")
endforeach()
file(WRITE ${OUT}.tmp "// Generated from db/migrations by embed_migrations.cmake. Do not edit.\n#include \"coordinator/store/migrations.h\"\n\nnamespace sweepfarm::store {\n\nconst std::vector<Migration>& EmbeddedMigrations() {\n  static const auto* m = new std::vector<Migration>{\n${body}  };\n  return *m;\n}\n\n}  // namespace sweepfarm::store\n")
file(COPY_FILE ${OUT}.tmp ${OUT} ONLY_IF_DIFFERENT)
