# The Chinese README keeps in step with the English one: every command and option the English
# README names must also appear in README.zh-CN.md. Checked: each line of the English README's
# shell code blocks (comments after '#' stripped), every `make TARGET`, every long option
# (--name), every UWSK_* environment variable, and every link into docs/zh-CN/ from the Chinese
# README must name a file that exists.
#   cmake -DENGLISH=README.md -DCHINESE=README.zh-CN.md -DROOT=<repo> -P translation_in_step.cmake
foreach(var ENGLISH CHINESE ROOT)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "translation_in_step: -D${var}=... is required")
  endif()
endforeach()

file(READ "${ENGLISH}" english)
file(READ "${CHINESE}" chinese)
set(missing "")

# Code blocks: the command part of each line of every block that is not CMake. Lines are split by
# hand so that a ';' in them stays text.
string(REPLACE ";" "<semicolon>" escaped "${english}")
string(REGEX MATCHALL "[^\n]*\n" lines "${escaped}")
set(in_block FALSE)
set(checked FALSE)
foreach(line IN LISTS lines)
  string(REGEX REPLACE "\n$" "" line "${line}")
  if(line MATCHES "^```")
    if(in_block)
      set(in_block FALSE)
    else()
      set(in_block TRUE)
      if(line MATCHES "^```(sh|bash|console)?$")
        set(checked TRUE)
      else()
        set(checked FALSE)
      endif()
    endif()
    continue()
  endif()
  if(in_block AND checked)
    string(REGEX REPLACE "[ \t]+#.*$" "" command "${line}")
    string(STRIP "${command}" command)
    string(REPLACE "<semicolon>" ";" command "${command}")
    if(command STREQUAL "" OR command MATCHES "^#")
      continue()
    endif()
    string(FIND "${chinese}" "${command}" at)
    if(at EQUAL -1)
      list(APPEND missing "command: ${command}")
    endif()
  endif()
endforeach()

# Make targets, long options and environment variables anywhere in the English README.
string(REGEX MATCHALL "`make [a-z][a-z-]*" targets "${english}")
string(REPLACE "`" "" targets "${targets}")
string(REGEX MATCHALL "--[a-z][a-z0-9-]+" options "${english}")
string(REGEX MATCHALL "UWSK_[A-Z0-9_]+" variables "${english}")
set(tokens ${targets} ${options} ${variables})
list(REMOVE_DUPLICATES tokens)
foreach(token IN LISTS tokens)
  string(FIND "${chinese}" "${token}" at)
  if(at EQUAL -1)
    list(APPEND missing "token: ${token}")
  endif()
endforeach()

# Links from the Chinese README into docs/zh-CN/ name files that exist.
string(REGEX MATCHALL "\\(docs/zh-CN/[A-Za-z0-9_.-]+\\.md" links "${chinese}")
foreach(link IN LISTS links)
  string(SUBSTRING "${link}" 1 -1 path)
  if(NOT EXISTS "${ROOT}/${path}")
    list(APPEND missing "link to a missing page: ${path}")
  endif()
endforeach()

if(missing)
  list(LENGTH missing count)
  string(REPLACE ";" "\n  " listed "${missing}")
  message(FATAL_ERROR
    "README.zh-CN.md is behind README.md (${count}):\n  ${listed}\n"
    "Translate the new commands and options into README.zh-CN.md (and docs/zh-CN/).")
endif()
message(STATUS "README.zh-CN.md names every command and option of README.md")
