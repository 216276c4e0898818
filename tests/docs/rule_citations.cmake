# Every numbered rule a comment in src/ cites exists where it points.
#  - "<kind> rule N" (also "<kind> rules N, M and K"), for each kind docs/design.md numbers: a
#    section of docs/design.md that says 'Code comments cite these as "<kind> rule N"' (or "cite
#    them as") must hold an item "N." in its numbered list.
#  - "<file>.hpp rule N": the header of that name under src/ must hold a numbered item "N." in a
#    comment ("//  N. " or "// N. ").
#  - "rule VN" (also "rules VN and VM"): docs/verifier.md must have a row for VN.
# A citation may be wrapped across comment lines. Prints every citation that points nowhere and
# fails on any; prints how many it checked.
#   cmake -DDESIGN=docs/design.md -DVERIFIER=docs/verifier.md -DSOURCE_DIR=src -P rule_citations.cmake
cmake_minimum_required(VERSION 3.20)
foreach(var DESIGN VERIFIER SOURCE_DIR)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "rule_citations: -D${var}=... is required")
  endif()
endforeach()

# ---- The kinds docs/design.md numbers, and the numbers each has --------------------------------
file(READ "${DESIGN}" design)
string(REPLACE ";" "<semicolon>" design "${design}")
string(REGEX MATCHALL "[^\n]*\n" design_lines "${design}")
set(kinds "")
set(kind "")
set(section_text "")
macro(close_section)
  # The kind a section names may be wrapped over two lines: look in the whole section's text.
  string(REPLACE "\n" " " flat "${section_text}")
  if(flat MATCHES "cite (these|them) as \"([A-Za-z ]+) rule N\"")
    set(kind "${CMAKE_MATCH_2}")
    string(REPLACE " " "_" key "${kind}")
    list(APPEND kinds "${kind}")
    string(REGEX MATCHALL "\n[0-9]+\\. " items "\n${section_text}")
    set(numbers_${key} "")
    foreach(item IN LISTS items)
      string(REGEX REPLACE "[^0-9]" "" n "${item}")
      list(APPEND numbers_${key} ${n})
    endforeach()
    if(NOT numbers_${key})
      message("docs/design.md: the section for \"${kind} rule N\" has no numbered rules")
      math(EXPR failures "${failures} + 1")
    endif()
  endif()
  set(section_text "")
endmacro()
set(failures 0)
foreach(line IN LISTS design_lines)
  if(line MATCHES "^#")
    close_section()
  endif()
  string(APPEND section_text "${line}")
endforeach()
close_section()
if(NOT kinds)
  message(FATAL_ERROR "rule_citations: docs/design.md names no kind of rule (\"... rule N\")")
endif()
list(REMOVE_DUPLICATES kinds)
string(REPLACE ";" "|" kinds_regex "${kinds}")

# The rule numbers (the first number of each line, with its V if any) of the lines of `file` that
# match `regex`.
function(rule_numbers file regex out)
  file(STRINGS "${file}" lines REGEX "${regex}")
  set(result "")
  foreach(line IN LISTS lines)
    string(REGEX MATCH "V?[0-9]+" n "${line}")
    list(APPEND result ${n})
  endforeach()
  set(${out} "${result}" PARENT_SCOPE)
endfunction()

# ---- The verifier's rules (docs/verifier.md: a table row "| VN | ...") ---------------------------
rule_numbers("${VERIFIER}" "^\\| V[0-9]+ \\|" verifier_rules)
if(NOT verifier_rules)
  message(FATAL_ERROR "rule_citations: docs/verifier.md lists no rule (\"| VN |\")")
endif()

# ---- The citations ------------------------------------------------------------------------------

# Counts each rule `citation` names (its numbers, after `prefix_regex`) and reports those not in
# the list `known` (by name), saying where they should have been (`place`).
macro(check_cited citation prefix_regex known place)
  string(REGEX REPLACE "${prefix_regex}" "" cited_list "${citation}")
  string(REGEX MATCHALL "V?[0-9]+" cited_numbers "${cited_list}")
  foreach(n IN LISTS cited_numbers)
    math(EXPR checked "${checked} + 1")
    if(NOT n IN_LIST ${known})
      message("src/${where}: \"${citation}\": ${place} has no rule ${n}")
      math(EXPR failures "${failures} + 1")
    endif()
  endforeach()
endmacro()
file(GLOB_RECURSE sources "${SOURCE_DIR}/*.cpp" "${SOURCE_DIR}/*.hpp" "${SOURCE_DIR}/*.h"
     "${SOURCE_DIR}/*.c")
set(checked 0)
set(numbers "[0-9]+((, [0-9]+)*,? and [0-9]+)?")
foreach(source IN LISTS sources)
  file(READ "${source}" text)
  string(REPLACE ";" "<semicolon>" text "${text}")
  # Join comment lines, so that a citation wrapped over two of them reads as one.
  string(REGEX REPLACE "\n[ \t]*//+[ \t]*" " " text "${text}")
  string(REGEX REPLACE "[ \t]+" " " text "${text}")
  file(RELATIVE_PATH where "${SOURCE_DIR}" "${source}")

  string(REGEX MATCHALL "(${kinds_regex}) rules? ${numbers}" cited "${text}")
  foreach(citation IN LISTS cited)
    string(REGEX MATCH "^(${kinds_regex}) rules? " prefix "${citation}")
    string(REGEX REPLACE " rules? $" "" kind "${prefix}")
    string(REPLACE " " "_" key "${kind}")
    check_cited("${citation}" "^(${kinds_regex}) rules? " numbers_${key} "docs/design.md (${kind})")
  endforeach()

  string(REGEX MATCHALL "rules? V[0-9]+((, V[0-9]+)*,? and V[0-9]+)?" cited "${text}")
  foreach(citation IN LISTS cited)
    check_cited("${citation}" "^rules? " verifier_rules "docs/verifier.md")
  endforeach()

  string(REGEX MATCHALL "[a-z_/]+\\.hpp rules? ${numbers}" cited "${text}")
  foreach(citation IN LISTS cited)
    string(REGEX MATCH "^[a-z_/]+\\.hpp" header "${citation}")
    get_filename_component(header_name "${header}" NAME)
    file(GLOB_RECURSE candidates "${SOURCE_DIR}/*/${header_name}")
    set(found "")
    foreach(candidate IN LISTS candidates)
      file(RELATIVE_PATH relative "${SOURCE_DIR}" "${candidate}")
      string(LENGTH "${relative}" relative_length)
      string(LENGTH "${header}" header_length)
      if(relative_length GREATER_EQUAL header_length)
        math(EXPR start "${relative_length} - ${header_length}")
        string(SUBSTRING "${relative}" ${start} -1 tail)
        if(tail STREQUAL header)
          list(APPEND found "${candidate}")
        endif()
      endif()
    endforeach()
    list(LENGTH found found_count)
    if(NOT found_count EQUAL 1)
      message("src/${where}: \"${citation}\": ${found_count} headers under src/ match ${header}")
      math(EXPR failures "${failures} + 1")
      continue()
    endif()
    rule_numbers("${found}" "^// +[0-9]+\\. " header_numbers)
    check_cited("${citation}" "^[a-z_/]+\\.hpp rules? " header_numbers "${header}")
  endforeach()
endforeach()

if(failures GREATER 0)
  message(FATAL_ERROR "${failures} rule citation(s) point nowhere")
endif()
message("${checked} rule citations checked against docs/design.md (${kinds}), docs/verifier.md "
        "and the headers")
