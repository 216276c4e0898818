# Run at install time (from install.cmake's install(CODE) rules), not at configure time: keeps
# the record that lets share/uwsk/uninstall.cmake remove an installation again.
#
# The record, PREFIX/share/uwsk/install_manifest.txt, lists paths relative to the prefix: every
# file installed, then the directories that uninstalling removes when they are empty, deepest
# first (each ending in "/"; "./" is the prefix itself). Those directories are the ones uwsk owns
# (include/uwsk and everything under it, lib/cmake/uwsk, share/uwsk, share/doc/uwsk) and the
# ones this installation, or an earlier one into the same prefix, had to create; a directory that
# existed before, such as /usr/local/bin, stays.
#
# The settings (UWSK_RECORD_*) come from install.cmake. uwsk_record_begin runs before the first
# file is installed, uwsk_record_end after the last. They are macros so that what they do to
# CMAKE_INSTALL_MANIFEST_FILES reaches the install script's own scope. Under CPack
# (UWSK_PACKAGING) they do nothing: the package manager keeps the record.

# The install script sets no policies; these macros run with the ones they are defined under.
cmake_policy(VERSION 3.25)

# "$ENV{DESTDIR}${CMAKE_INSTALL_PREFIX}" without a trailing slash ("" for "/").
macro(uwsk_record_root out)
  set(${out} "$ENV{DESTDIR}${CMAKE_INSTALL_PREFIX}")
  string(REGEX REPLACE "/+$" "" ${out} "${${out}}")
endmacro()

macro(uwsk_record_begin)
  if(NOT UWSK_PACKAGING)
    uwsk_record_root(uwsk_root)
    set(UWSK_RECORD_CREATED "")
    if(NOT IS_DIRECTORY "${uwsk_root}/")
      list(APPEND UWSK_RECORD_CREATED ".")
    endif()
    foreach(uwsk_dir IN LISTS UWSK_RECORD_DESTINATIONS)
      while(NOT uwsk_dir STREQUAL "" AND NOT uwsk_dir STREQUAL ".")
        if(NOT IS_DIRECTORY "${uwsk_root}/${uwsk_dir}")
          list(APPEND UWSK_RECORD_CREATED "${uwsk_dir}")
        endif()
        get_filename_component(uwsk_dir "${uwsk_dir}" DIRECTORY)
      endwhile()
    endforeach()
    # Installing again over an earlier installation keeps what that one created.
    set(uwsk_record "${uwsk_root}/${UWSK_RECORD_DATADIR}/install_manifest.txt")
    if(EXISTS "${uwsk_record}")
      file(STRINGS "${uwsk_record}" uwsk_earlier REGEX "/$")
      foreach(uwsk_dir IN LISTS uwsk_earlier)
        string(REGEX REPLACE "/$" "" uwsk_dir "${uwsk_dir}")
        list(APPEND UWSK_RECORD_CREATED "${uwsk_dir}")
      endforeach()
    endif()
    list(REMOVE_DUPLICATES UWSK_RECORD_CREATED)
  endif()
endmacro()

macro(uwsk_record_end)
  if(NOT UWSK_PACKAGING)
    uwsk_record_root(uwsk_root)
    file(INSTALL "${UWSK_RECORD_UNINSTALL_SCRIPT}" # (file(INSTALL) adds DESTDIR itself)
      DESTINATION "${CMAKE_INSTALL_PREFIX}/${UWSK_RECORD_DATADIR}")
    set(uwsk_record "${uwsk_root}/${UWSK_RECORD_DATADIR}/install_manifest.txt")

    # The files, relative to the prefix. CMAKE_INSTALL_MANIFEST_FILES names them without DESTDIR;
    # the record's own path, added here, has it.
    string(REGEX REPLACE "/+$" "" uwsk_prefix "${CMAKE_INSTALL_PREFIX}")
    set(uwsk_files "")
    foreach(uwsk_file IN LISTS CMAKE_INSTALL_MANIFEST_FILES uwsk_record)
      set(uwsk_relative "")
      foreach(uwsk_base IN ITEMS "${uwsk_root}" "${uwsk_prefix}")
        string(LENGTH "${uwsk_base}/" uwsk_length)
        string(SUBSTRING "${uwsk_file}" 0 ${uwsk_length} uwsk_head)
        if(uwsk_relative STREQUAL "" AND uwsk_head STREQUAL "${uwsk_base}/")
          string(SUBSTRING "${uwsk_file}" ${uwsk_length} -1 uwsk_relative)
        endif()
      endforeach()
      if(uwsk_relative STREQUAL "")
        message(FATAL_ERROR "uwsk: installed ${uwsk_file}, outside the prefix ${uwsk_prefix}")
      endif()
      list(APPEND uwsk_files "${uwsk_relative}")
    endforeach()
    list(REMOVE_DUPLICATES uwsk_files)

    # The directories: the created ones, and every directory holding an installed file that is
    # one uwsk owns or lies inside one; each with its depth, to sort deepest first.
    set(uwsk_dirs "")
    foreach(uwsk_dir IN LISTS UWSK_RECORD_CREATED)
      list(APPEND uwsk_dirs "${uwsk_dir}")
    endforeach()
    foreach(uwsk_file IN LISTS uwsk_files)
      get_filename_component(uwsk_dir "${uwsk_file}" DIRECTORY)
      while(NOT uwsk_dir STREQUAL "")
        foreach(uwsk_owned IN LISTS UWSK_RECORD_OWNED)
          string(FIND "${uwsk_dir}/" "${uwsk_owned}/" uwsk_at)
          if(uwsk_at EQUAL 0)
            list(APPEND uwsk_dirs "${uwsk_dir}")
          endif()
        endforeach()
        get_filename_component(uwsk_dir "${uwsk_dir}" DIRECTORY)
      endwhile()
    endforeach()
    list(REMOVE_DUPLICATES uwsk_dirs)
    set(uwsk_keyed "")
    foreach(uwsk_dir IN LISTS uwsk_dirs)
      if(uwsk_dir STREQUAL ".")
        set(uwsk_depth 0)
      else()
        string(REGEX MATCHALL "/" uwsk_slashes "${uwsk_dir}/")
        list(LENGTH uwsk_slashes uwsk_depth)
      endif()
      math(EXPR uwsk_key "900 - ${uwsk_depth}") # three digits, so that they sort as numbers
      list(APPEND uwsk_keyed "${uwsk_key}|${uwsk_dir}/")
    endforeach()
    list(SORT uwsk_keyed)

    set(uwsk_text "# uwsk ${UWSK_RECORD_VERSION}: the files installed in this prefix (paths relative to it), then\n")
    string(APPEND uwsk_text "# the directories removed when empty (deepest first). Uninstall with:\n")
    string(APPEND uwsk_text "#   cmake -P ${CMAKE_INSTALL_PREFIX}/${UWSK_RECORD_DATADIR}/uninstall.cmake\n")
    foreach(uwsk_file IN LISTS uwsk_files)
      string(APPEND uwsk_text "${uwsk_file}\n")
    endforeach()
    foreach(uwsk_entry IN LISTS uwsk_keyed)
      string(REGEX REPLACE "^[0-9]+\\|" "" uwsk_entry "${uwsk_entry}")
      string(APPEND uwsk_text "${uwsk_entry}\n")
    endforeach()
    message(STATUS "Installing: ${uwsk_record}")
    file(WRITE "${uwsk_record}" "${uwsk_text}")
    # The build directory's install_manifest.txt names files without DESTDIR; so does this.
    list(APPEND CMAKE_INSTALL_MANIFEST_FILES "${uwsk_prefix}/${UWSK_RECORD_DATADIR}/install_manifest.txt")
  endif()
endmacro()
