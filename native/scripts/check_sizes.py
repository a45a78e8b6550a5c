#!/usr/bin/env python3
"""The size limits of the house style, measured: no source file over 600
lines and no function over 80 lines in native/src, native/tools,
native/python and addon/ (tests, fixtures, benches and data generators are
outside these folders and are not checked).

C++: comments, string and character literals and preprocessor lines are
blanked, then braces are matched; a brace block whose head (the text since
the previous `;`, `{` or `}` of its scope) is a parameter list is a function
(free function, method, constructor, TEST or PYBIND11_MODULE body), counted
from the line of its name to its closing brace. Namespace and class bodies
are scanned for the functions inside them; a lambda counts toward the
function that holds it. Python: every `def` (ast), from `def` to its last
line.

Usage: check_sizes.py [--max-file-lines N] [--max-function-lines N] [ROOT]
Prints one line per violation (path:line: what, lines > limit) and a
summary; exits 1 when there is any.
"""

import argparse
import ast
import os
import re
import sys

FOLDERS = ("native/src", "native/tools", "native/python", "addon")
CPP_EXT = (".cpp", ".hpp", ".cc", ".h")

# Functions allowed past the limit, by (path, name), each with its reason.
EXEMPT = {
    (
        "native/src/model/checkpoint/pickle.cpp",
        "Unpickler::Dispatch",
    ): "the opcode dispatch: one short case per pickle opcode, read as a "
    "table; splitting it would scatter the table",
}

_CONTROL = re.compile(r"\b(if|for|while|switch|catch|do|else|try)\s*(\(|$)")
_NAME = re.compile(r"([A-Za-z_][\w:~<>,\s]*?)\s*\($")


def blank_cpp(text):
    """The text with comments, literals and preprocessor lines replaced by
    spaces (newlines kept, so line numbers hold)."""
    out = []
    i, n = 0, len(text)
    line_start = True
    while i < n:
        c = text[i]
        if line_start and c == "#":
            # A preprocessor line (with its continuations).
            while i < n and text[i] != "\n":
                if text[i] == "\\" and i + 1 < n and text[i + 1] == "\n":
                    out.append(" \n")
                    i += 2
                    continue
                out.append(" ")
                i += 1
            continue
        if c == "/" and text.startswith("//", i):
            while i < n and text[i] != "\n":
                out.append(" ")
                i += 1
            continue
        if c == "/" and text.startswith("/*", i):
            end = text.find("*/", i + 2)
            end = n if end < 0 else end + 2
            out.append(re.sub(r"[^\n]", " ", text[i:end]))
            i = end
            continue
        if c == "R" and text.startswith('R"', i):
            m = re.match(r'R"([^(\s]*)\(', text[i:])
            if m:
                close = ")" + m.group(1) + '"'
                end = text.find(close, i + m.end())
                end = n if end < 0 else end + len(close)
                out.append(re.sub(r"[^\n]", " ", text[i:end]))
                i = end
                continue
        if c in "\"'":
            j = i + 1
            while j < n and text[j] != c and text[j] != "\n":
                j += 2 if text[j] == "\\" else 1
            out.append(" " * (min(j + 1, n) - i))
            i = j + 1
            continue
        out.append(c)
        line_start = c == "\n" or (line_start and c in " \t")
        i += 1
    return "".join(out)


def _classify(head):
    """'ns', 'class', 'func' or 'other' for the text before a `{`."""
    h = " ".join(head.split())
    if re.search(r"\bnamespace\b", h) or re.match(r"^extern\s*$", h):
        return "ns"
    if re.search(r"\b(class|struct|union|enum)\b[^()]*$", h):
        return "class"
    if "=" in h.split("(")[0] or h.endswith("=") or h.endswith(","):
        return "other"
    if ")" in h and not _CONTROL.search(h):
        return "func"
    return "other"


def _function_name(head):
    h = " ".join(head.split())
    # Drop a constructor's initializer list: "Foo::Foo(args) : a_(x)".
    depth, cut = 0, len(h)
    for k, ch in enumerate(h):
        if ch == "(":
            if depth == 0:
                cut = k
                break
    m = re.search(r"([\w:~]+(?:<[^<>]*>)?)\s*$", h[:cut])
    return m.group(1) if m else h[:40]


def cpp_functions(text):
    """[(name, first_line, last_line)] of the functions of a C++ source."""
    code = blank_cpp(text)
    functions = []
    stack = []  # (kind, name, start_line)
    head_start = 0
    line = 1
    i = 0
    for i, c in enumerate(code):
        if c == "\n":
            line += 1
            continue
        in_body = any(kind in ("func", "other") for kind, _, _ in stack)
        if c == "{":
            if in_body:
                stack.append(("other", "", line))
            else:
                head = code[head_start:i]
                kind = _classify(head)
                first = line - head.rstrip().count("\n")
                # The first line of the head that holds a non-blank.
                stripped = head.lstrip()
                first = line - code[i - len(stripped) : i].count("\n")
                name = _function_name(head) if kind == "func" else ""
                stack.append((kind, name, first))
            head_start = i + 1
        elif c == "}":
            if stack:
                kind, name, first = stack.pop()
                if kind == "func":
                    functions.append((name, first, line))
            head_start = i + 1
        elif c == ";" and not in_body:
            head_start = i + 1
    return functions


def python_functions(text, path):
    tree = ast.parse(text, filename=path)
    out = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            out.append((node.name, node.lineno, node.end_lineno))
    return out


def source_files(root):
    for folder in FOLDERS:
        base = os.path.join(root, folder)
        for dirpath, dirnames, filenames in os.walk(base):
            dirnames[:] = sorted(d for d in dirnames if d != "__pycache__")
            for name in sorted(filenames):
                if name.endswith(CPP_EXT) or name.endswith(".py"):
                    yield os.path.relpath(os.path.join(dirpath, name), root)


def check(root, max_file, max_function):
    problems = []
    files = 0
    functions = 0
    for rel in source_files(root):
        with open(os.path.join(root, rel), encoding="utf-8") as f:
            text = f.read()
        files += 1
        lines = text.count("\n") + (0 if text.endswith("\n") else 1)
        if lines > max_file:
            problems.append(f"{rel}:1: file has {lines} lines > {max_file}")
        if rel.endswith(".py"):
            found = python_functions(text, rel)
        else:
            found = cpp_functions(text)
        for name, first, last in found:
            functions += 1
            length = last - first + 1
            if length > max_function and (rel, name) not in EXEMPT:
                problems.append(
                    f"{rel}:{first}: function {name} has {length} lines " f"> {max_function}"
                )
    return problems, files, functions


def main(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("root", nargs="?", default=".")
    p.add_argument("--max-file-lines", type=int, default=600)
    p.add_argument("--max-function-lines", type=int, default=80)
    args = p.parse_args(argv)
    problems, files, functions = check(args.root, args.max_file_lines, args.max_function_lines)
    for problem in problems:
        print(problem)
    print(
        f"check_sizes: {files} files, {functions} functions; "
        f"{len(problems)} over the limits (file {args.max_file_lines}, "
        f"function {args.max_function_lines} lines)"
    )
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
