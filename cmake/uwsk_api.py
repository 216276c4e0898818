#!/usr/bin/env python3
"""uwsk_api.py - libuwsk's public API, read from the public headers by the C compiler itself.

The headers under include/wdk and include/uwsk are the one list of what libuwsk offers. This
script never parses C: it asks the compiler.

  scan      Compile one translation unit that includes every public header, in the two views
            a consumer has (a driver: -fshort-wchar and the driver macros; plain C: the
            runtime's own view), with GCC's -aux-info, which prints every function prototype
            with the file and line that declare it. A function a public header declares is
            part of the API; one the header defines (static inline) is listed as inline.
            Variables: -aux-info lists functions only, so the `extern` object declarations are
            read from the preprocessed headers.
            Each declared name is then mapped to the symbol it links to (km/crt.h renames the
            names glibc shares, wcslen -> uwsk_wcslen, with asm labels) by compiling a file
            that takes the address of every function and reading the symbol each reference
            names in the assembly. A symbol that libc defines is libc's own (a header restates
            it or forbids it to drivers) and is not libuwsk's. Writes:
              functions.tsv    name, symbol, header, line, kind (extern|inline), prototype
              scan.stamp       touched on every run (the others change only with their text)
              libuwsk.map      the version script: exactly the symbols of the extern
                               functions, plus the internal allow-list
              link_check.c     a C program that takes the address of every extern function;
                               it links against libuwsk only if every one is defined
  check     Compare a built libuwsk.so (nm -D --defined-only) with functions.tsv: every
            exported symbol must be declared or allow-listed, every declared one exported.
  docs      Write docs/api.md: per header, every function (exported, inline, or missing),
            the function-like macros, and the constants grouped into families by prefix.
"""

import argparse
import collections
import os
import re
import subprocess
import sys
import tempfile

REF_PREFIX = "uwsk_api_ref__"


def public_headers(include_root):
    """Every public header, as a consumer spells its include: km/crt.h, uwsk/status.h."""
    headers = []
    for top, spelled_root in (("wdk", ""), ("uwsk", "uwsk/")):
        base = os.path.join(include_root, top)
        for dirpath, _, files in os.walk(base):
            for f in files:
                if f.endswith(".h"):
                    rel = os.path.relpath(os.path.join(dirpath, f), base)
                    headers.append(spelled_root + rel.replace(os.sep, "/"))
    return sorted(headers)


def header_of(path, include_root):
    """The include spelling of a path if it is a public header, else None."""
    path = os.path.realpath(path)
    for top, spelled_root in (("wdk", ""), ("uwsk", "uwsk/")):
        base = os.path.realpath(os.path.join(include_root, top)) + os.sep
        if path.startswith(base):
            return spelled_root + path[len(base):].replace(os.sep, "/")
    return None


def run(cmd, **kw):
    proc = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if proc.returncode != 0:
        sys.stderr.write("uwsk_api: command failed: %s\n%s%s" % (" ".join(cmd), proc.stdout, proc.stderr))
        sys.exit(1)
    return proc.stdout


def includes_source(headers):
    return "".join("#include <%s>\n" % h for h in headers)


MARKER_LINE = re.compile(r'^# (\d+) "([^"]+)"')
AUX_LINE = re.compile(r"^/\* (.+):(\d+):([NO])([CF]) \*/ (.*)$")
FUNC_NAME = re.compile(r"([A-Za-z_]\w*)\s*\(")
NOT_NAMES = {"__attribute__", "__typeof__", "typeof", "void", "char", "short", "int", "long",
             "float", "double", "signed", "unsigned", "const", "volatile", "struct", "union",
             "enum", "_Bool", "__int128"}


def aux_declarations(cc, flags, source, workdir, include_root):
    """(name, header, line, kind, prototype) of every function the public headers declare."""
    aux = os.path.join(workdir, "decls.aux")
    run([cc] + flags + ["-fsyntax-only", "-aux-info", aux, source])
    out = []
    with open(aux) as f:
        for line in f:
            m = AUX_LINE.match(line.rstrip("\n"))
            if not m:
                continue
            path, lineno, _, cf, text = m.groups()
            header = header_of(path, include_root)
            if header is None:
                continue
            proto = text.split(" /*", 1)[0].strip().rstrip(";").strip()
            if cf == "F":
                kind = "inline"  # defined in the header (static inline, or GNU extern inline)
            elif proto.startswith("static "):
                continue  # a forward declaration of a header's own static function
            else:
                kind = "extern"
            # The name is the first identifier followed by "(" that is not a keyword: in
            # "T (*f (args)) (args)" (a function returning a function pointer) that is f.
            name = None
            for candidate in FUNC_NAME.findall(proto):
                if candidate not in NOT_NAMES:
                    name = candidate
                    break
            if name is None:
                continue
            proto = re.sub(r"^(extern|static)\s+", "", proto)
            out.append((name, header, int(lineno), kind, proto))
    return out


def variable_declarations(cc, flags, source, include_root):
    """(name, header, line, "data", declaration) of every `extern` object the public headers
    declare. -aux-info lists functions only; objects are read from the preprocessed headers,
    where a declaration is a statement that starts with `extern` and has no parameter list."""
    out = run([cc] + flags + ["-E", source])
    # The statements of the public headers, each with where it starts.
    statements = []
    header, lineno, text, start = None, 0, [], None
    for line in out.splitlines():
        m = MARKER_LINE.match(line)
        if m:
            header = header_of(m.group(2), include_root) if m.group(2)[0] != "<" else None
            lineno = int(m.group(1))
            text, start = [], None
            continue
        if header is not None:
            for part in re.split(r"([;{}])", line):
                if part in (";", "{", "}"):
                    if part == ";" and start is not None:
                        statements.append((header, start, " ".join(text)))
                    text, start = [], None
                elif part.strip():
                    if start is None:
                        start = lineno
                    text.append(part.strip())
        lineno += 1
    decls = []
    for header, line, stmt in statements:
        if not stmt.startswith("extern ") or stmt.startswith('extern "') or "(" in stmt:
            continue
        m = re.search(r"([A-Za-z_]\w*)\s*(?:\[[^\]]*\])?$", stmt)
        if m:
            decls.append((m.group(1), header, line, "data", stmt[len("extern "):]))
    return decls


def symbols_of(cc, flags, headers, names, workdir):
    """The symbol each function name links to, read from the assembly of its address."""
    src = os.path.join(workdir, "refs.c")
    with open(src, "w") as f:
        f.write(includes_source(headers))
        for n in names:
            f.write("void *const %s%s = (void *)&%s;\n" % (REF_PREFIX, n, n))
    asm = run([cc] + flags + ["-fno-pic", "-w", "-S", "-o", "-", src])
    symbols = {}
    current = None
    label = re.compile(r"^%s(\w+):" % REF_PREFIX)
    data = re.compile(r"^\s*\.(?:quad|xword|8byte|dword)\s+([^\s,]+)")
    for line in asm.splitlines():
        m = label.match(line)
        if m:
            current = m.group(1)
            continue
        if current is not None:
            m = data.match(line)
            if m:
                symbols[current] = m.group(1).strip('"')
                current = None
    missing = [n for n in names if n not in symbols]
    if missing:
        sys.stderr.write("uwsk_api: no symbol found for: %s\n" % " ".join(missing))
        sys.exit(1)
    return symbols


def defined_dynamic(nm, library):
    out = run([nm, "-D", "--defined-only", library])
    names = set()
    for line in out.splitlines():
        parts = line.split()
        if len(parts) >= 3:
            names.add(parts[2].split("@", 1)[0])
    return names


def read_allow(path):
    """The internal allow-list: `symbol  reason` per line, # comments."""
    allow = {}
    with open(path) as f:
        for line in f:
            line = line.split("#", 1)[0].strip()
            if line:
                sym, _, reason = line.partition(" ")
                if not reason.strip():
                    sys.stderr.write("uwsk_api: %s: %s has no reason\n" % (path, sym))
                    sys.exit(1)
                allow[sym] = reason.strip()
    return allow


def write_if_changed(path, text):
    """Writes a file only when its text changes, so that what depends on it (libuwsk's link,
    on the version script) is not redone for a header change that changes no export."""
    try:
        with open(path) as f:
            if f.read() == text:
                return
    except FileNotFoundError:
        pass
    write(path, text)


def write(path, text):
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    with open(path, "w") as f:
        f.write(text)


def cmd_scan(a):
    headers = public_headers(a.include_root)
    os.makedirs(a.out_dir, exist_ok=True)
    libc = defined_dynamic(a.nm, a.libc)
    views = {"driver": a.driver_flag, "plain": a.plain_flag}
    rows = {}  # symbol -> row; the driver's view names a symbol first
    driver_names = set()
    with tempfile.TemporaryDirectory() as work:
        source = os.path.join(work, "all_headers.c")
        with open(source, "w") as f:
            f.write(includes_source(headers))
        for view in ("driver", "plain"):
            flags = views[view]
            decls = aux_declarations(a.cc, flags, source, work, a.include_root)
            decls += variable_declarations(a.cc, flags, source, a.include_root)
            first = collections.OrderedDict()
            for d in decls:
                first.setdefault(d[0], d)
            externs = [n for n, d in first.items() if d[3] != "inline"]
            if view == "driver":
                driver_names = set(first)
            syms = symbols_of(a.cc, flags, headers, externs, work)
            for name, d in first.items():
                symbol = syms.get(name, name) if d[3] != "inline" else ""
                if symbol in libc:
                    continue
                key = symbol if symbol else "inline:" + name
                rows.setdefault(key, (name, symbol, d[1], d[2], d[3], d[4]))
    ordered = sorted(rows.values(), key=lambda r: (r[2], r[3], r[0]))
    write_if_changed(os.path.join(a.out_dir, "functions.tsv"),
                     "".join("\t".join(str(x) for x in r) + "\n" for r in ordered))
    allow = read_allow(a.allow)
    exported = sorted({r[1] for r in ordered if r[4] != "inline"} | set(allow))
    write_if_changed(os.path.join(a.out_dir, "libuwsk.map"),
                     "/* Generated by cmake/uwsk_api.py from the public headers: do not edit. */\n"
                     "{\n  global:\n" + "".join("    %s;\n" % s for s in exported) +
                     "  local: *;\n};\n")
    externs = [r for r in ordered if r[4] != "inline"]
    # The link check references each function by its driver-visible name where the driver view
    # declares it; names only the plain view declares are referenced by their symbol directly.
    lines = ["/* Generated by cmake/uwsk_api.py: the address of every function the public headers",
             " * declare, so that this program links only if libuwsk defines each one. */",
             includes_source(headers).rstrip("\n")]
    plain_only = []
    for r in externs:
        if r[0] in driver_names:
            lines.append("void *const %s%s = (void *)&%s; /* %s */" % (REF_PREFIX, r[0], r[0], r[2]))
        else:
            plain_only.append(r)
    for r in plain_only:
        lines.append("extern char %s[]; /* %s, declared for code without -fshort-wchar */" % (r[1], r[2]))
        lines.append("void *const %s%s = (void *)%s;" % (REF_PREFIX, r[1], r[1]))
    lines.append("int main(void) { return 0; }")
    write_if_changed(os.path.join(a.out_dir, "link_check.c"), "\n".join(lines) + "\n")
    write(os.path.join(a.out_dir, "scan.stamp"), "")
    return 0


def read_functions(path):
    rows = []
    with open(path) as f:
        for line in f:
            name, symbol, header, lineno, kind, proto = line.rstrip("\n").split("\t")
            rows.append((name, symbol, header, int(lineno), kind, proto))
    return rows


def cmd_check(a):
    rows = read_functions(a.functions)
    allow = read_allow(a.allow)
    declared = {r[1]: r for r in rows if r[4] != "inline"}
    exported = defined_dynamic(a.nm, a.library)
    # The linker's own markers of a shared object's sections, not functions.
    exported -= {"_init", "_fini", "__bss_start", "_edata", "_end"}
    failed = False
    for s in sorted(exported - set(declared) - set(allow)):
        print("exported but declared in no public header: %s" % s)
        failed = True
    for s in sorted(set(declared) - exported):
        r = declared[s]
        print("declared in %s:%d but not exported: %s (symbol %s)" % (r[2], r[3], r[0], s))
        failed = True
    for s in sorted(set(allow) - exported):
        print("allow-listed but not exported (remove it from the list): %s" % s)
        failed = True
    print("%d exported symbols, %d declared functions, %d allow-listed" %
          (len(exported), len(declared), len(allow)))
    return 1 if failed else 0


DEFINE = re.compile(r"^#define ([A-Za-z_]\w*)(\([^)]*\))?(?:\s(.*))?$")
MARKER = re.compile(r'^# \d+ "([^"]+)"')


def macros_by_header(cc, flags, include_root):
    """{header: {name: (params or None, body)}} of the macros each public header defines."""
    headers = public_headers(include_root)
    with tempfile.TemporaryDirectory() as work:
        source = os.path.join(work, "all_headers.c")
        with open(source, "w") as f:
            f.write(includes_source(headers))
        out = run([cc] + flags + ["-E", "-dD", source])
    result = collections.defaultdict(dict)
    current = None
    for line in out.splitlines():
        m = MARKER.match(line)
        if m:
            current = header_of(m.group(1), include_root) if m.group(1)[0] != "<" else None
            continue
        if current is None:
            continue
        m = DEFINE.match(line)
        if m:
            name, params, body = m.group(1), m.group(2), (m.group(3) or "").strip()
            if params is None and not body and re.search(r"_H_?$", name):
                continue  # an include guard
            result[current][name] = (params, body)
        elif line.startswith("#undef "):
            result[current].pop(line.split()[1], None)
    return result


def families(names):
    """Group constant names by prefix: the first word (STATUS_*, AI_*, SO_*), split into two-word
    families (WSK_FLAG_*, FILE_SHARE_*) where a family is not huge and the two-word one has at
    least three members. Names sharing no prefix with another go to '(others)'."""
    def words(n):
        return n.lstrip("_").split("_")

    def lead(n):
        return n[:len(n) - len(n.lstrip("_"))]

    first = collections.defaultdict(list)
    for n in names:
        w = words(n)
        key = lead(n) + w[0] + "_*" if len(w) > 1 else None
        first[key].append(n)
    groups = collections.defaultdict(list)
    for key, members in first.items():
        if key is None or len(members) < 2:
            groups["(others)"].extend(members)
            continue
        if len(members) >= 200:
            groups[key].extend(members)
            continue
        second = collections.defaultdict(list)
        for n in members:
            w = words(n)
            second[lead(n) + "_".join(w[:2]) + "_*" if len(w) > 2 else None].append(n)
        rest = []
        for k2, m2 in second.items():
            if k2 is not None and len(m2) >= 3 and len(m2) < len(members):
                groups[k2].extend(m2)
            else:
                rest.extend(m2)
        if rest:
            groups[key if len(rest) >= 2 else "(others)"].extend(rest)
    return groups


def cmd_docs(a):
    rows = read_functions(a.functions)
    exported = defined_dynamic(a.nm, a.library)
    flags = a.driver_flag
    macros = macros_by_header(a.cc, flags, a.include_root)
    headers = public_headers(a.include_root)
    by_header = collections.defaultdict(list)
    for r in rows:
        by_header[r[2]].append(r)

    def status(r):
        if r[4] == "inline":
            return "inline"
        return "exported" if r[1] in exported else "**missing**"

    def anchor(h):
        return re.sub(r"[^a-z0-9_-]", "", h.lower())

    totals = collections.Counter((r[4] == "data", status(r)) for r in rows)
    n_const = sum(1 for h in macros for m in macros[h].values() if m[0] is None)
    n_fmacro = sum(1 for h in macros for m in macros[h].values() if m[0] is not None)
    out = []
    w = out.append
    w("# libuwsk API reference")
    w("")
    w("Generated from the public headers (`include/wdk`, `include/uwsk`) by `cmake/uwsk_api.py`;")
    w("do not edit. After changing a header, run `cmake --build build --target uwsk_api_docs_update`")
    w("and commit the result: the test `api.docs_current` fails while this file is out of date.")
    w("")
    w("A function or variable is **exported** when libuwsk defines its symbol, **inline** when the")
    w("header defines it, and **missing** when a header declares it but libuwsk does not define it")
    w("(a driver that uses it does not link; the test `api.declared_link` fails). Where km/crt.h")
    w("renames a C library name to libuwsk's own symbol, the symbol is shown. Headers are named as")
    w("a driver includes them; macros are listed as a driver sees them (`-fshort-wchar` and the")
    w("driver macros of `uwsk_add_driver`). Constants are grouped into families by name prefix.")
    w("The WSK calls a client makes through the provider's dispatch tables (`WskSocket`, `WskSend`,")
    w("...) are members of those tables, not functions the headers declare, so they are not listed.")
    w("")
    w("| | Count |")
    w("|---|---:|")
    w("| Headers | %d |" % len(headers))
    w("| Functions exported by libuwsk | %d |" % totals[(False, "exported")])
    w("| Functions inline in the headers | %d |" % totals[(False, "inline")])
    w("| Functions declared but missing | %d |" % totals[(False, "**missing**")])
    w("| Variables exported by libuwsk | %d |" % totals[(True, "exported")])
    w("| Variables declared but missing | %d |" % totals[(True, "**missing**")])
    w("| Function-like macros | %d |" % n_fmacro)
    w("| Object-like macros (constants and aliases) | %d |" % n_const)
    w("")
    w("| Header | Exported | Inline | Missing | Function-like macros | Object-like macros |")
    w("|---|---:|---:|---:|---:|---:|")
    for h in headers:
        c = collections.Counter(status(r) for r in by_header[h])
        ms = macros.get(h, {})
        w("| [%s](#%s) | %d | %d | %d | %d | %d |" % (
            h, anchor(h), c["exported"], c["inline"], c["**missing**"],
            sum(1 for m in ms.values() if m[0] is not None),
            sum(1 for m in ms.values() if m[0] is None)))
    for h in headers:
        w("")
        w("## %s" % h)
        ms = macros.get(h, {})
        for title, kinds in (("Functions", ("extern", "inline")), ("Variables", ("data",))):
            rs = [r for r in by_header[h] if r[4] in kinds]
            if not rs:
                continue
            w("")
            w("%s (%d):" % (title, len(rs)))
            w("")
            w("| Name | Status | Declaration |")
            w("|---|---|---|")
            for r in sorted(rs, key=lambda r: r[0]):
                st = status(r)
                if r[4] != "inline" and r[1] != r[0]:
                    st += " as `%s`" % r[1]
                w("| `%s` | %s | `%s` |" % (r[0], st, r[5].replace("|", "\\|")))
        fmacros = sorted(n for n, m in ms.items() if m[0] is not None)
        if fmacros:
            w("")
            w("Function-like macros (%d): %s" % (
                len(fmacros), ", ".join("`%s%s`" % (n, ms[n][0]) for n in fmacros)))
        consts = sorted(n for n, m in ms.items() if m[0] is None)
        if consts:
            groups = families(consts)
            w("")
            w("Object-like macros (constants and aliases, %d), by family:" % len(consts))
            w("")
            for key in sorted(groups, key=lambda k: (k == "(others)", k)):
                members = sorted(groups[key])
                label = "others" if key == "(others)" else "`%s`" % key
                w("- %s (%d): %s" % (label, len(members), ", ".join("`%s`" % n for n in members)))
    text = "\n".join(out) + "\n"
    write(a.out, text)
    return 0


def cmd_status_check(a):
    """A C program that checks uwsk_status_name against every STATUS_* macro of ntstatus.h, as
    the compiler reads the header (independently of the build's table generator): each value's
    name is the first macro, in the header's order, that has that value."""
    flags = a.flag
    macros = macros_by_header(a.cc, flags, a.include_root).get("ntstatus.h", {})
    names = [n for n, m in macros.items() if m[0] is None and n.startswith("STATUS_")]
    if not names:
        sys.stderr.write("uwsk_api: ntstatus.h defines no STATUS_ macro\n")
        return 1
    lines = ["/* Generated by cmake/uwsk_api.py from ntstatus.h: do not edit. */",
             "#include <stdio.h>", "#include <string.h>", "#include <ntstatus.h>",
             "#include <uwsk/status.h>", "",
             "static const struct { NTSTATUS value; const char *name; } defined[] = {"]
    lines += ['    {%s, "%s"},' % (n, n) for n in names]
    lines += ["};", "",
              "int main(void) {",
              "  size_t count = sizeof defined / sizeof defined[0], failures = 0;",
              "  for (size_t i = 0; i < count; ++i) {",
              "    const char *expected = defined[i].name;",
              "    for (size_t j = 0; j < i; ++j) {",
              "      if (defined[j].value == defined[i].value) {",
              "        expected = defined[j].name; /* the first name of a shared value */",
              "        break;",
              "      }",
              "    }",
              "    const char *name = uwsk_status_name(defined[i].value);",
              "    if (name == NULL || strcmp(name, expected) != 0) {",
              '      printf("%s (0x%08x): uwsk_status_name gives %s, expected %s\\n", defined[i].name,',
              "             (unsigned)defined[i].value, name ? name : \"NULL\", expected);",
              "      ++failures;",
              "    }",
              "  }",
              '  printf("%zu status macros checked, %zu failures\\n", count, failures);',
              "  return failures == 0 && count > 0 ? 0 : 1;",
              "}"]
    write(a.out, "\n".join(lines) + "\n")
    return 0


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    sub = p.add_subparsers(dest="command", required=True)
    s = sub.add_parser("scan")
    s.add_argument("--cc", required=True)
    s.add_argument("--nm", required=True)
    s.add_argument("--libc", required=True, help="the libc shared object whose symbols are not ours")
    s.add_argument("--include-root", required=True)
    s.add_argument("--driver-flag", action="append", default=[], help="a compiler flag of a driver")
    s.add_argument("--plain-flag", action="append", default=[], help="a compiler flag of plain C")
    s.add_argument("--allow", required=True)
    s.add_argument("--out-dir", required=True)
    c = sub.add_parser("check")
    c.add_argument("--nm", required=True)
    c.add_argument("--functions", required=True)
    c.add_argument("--allow", required=True)
    c.add_argument("--library", required=True)
    d = sub.add_parser("docs")
    d.add_argument("--cc", required=True)
    d.add_argument("--nm", required=True)
    d.add_argument("--include-root", required=True)
    d.add_argument("--driver-flag", action="append", default=[])
    d.add_argument("--functions", required=True)
    d.add_argument("--library", required=True)
    d.add_argument("--out", required=True)
    t = sub.add_parser("status-check")
    t.add_argument("--cc", required=True)
    t.add_argument("--include-root", required=True)
    t.add_argument("--flag", action="append", default=[])
    t.add_argument("--out", required=True)
    a = p.parse_args()
    return {"scan": cmd_scan, "check": cmd_check, "docs": cmd_docs,
            "status-check": cmd_status_check}[a.command](a)


if __name__ == "__main__":
    sys.exit(main())
