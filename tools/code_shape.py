"""The shape of the Rust code under a folder: lines per file (with and without test modules),
and the longest functions and `impl` blocks, counted from the opening line to the closing brace.
Relies on rustfmt's layout (a block closes with `}` at the indent it opened at).

    python3 tools/code_shape.py [src] [--top N]
"""

import re
import sys
from pathlib import Path

ITEM = re.compile(r"^(\s*)(?:pub(?:\([^)]*\))?\s+)?(?:async\s+|const\s+|unsafe\s+)*(fn|impl)\b(.*)")


def test_module_start(lines):
    """Index of the first line of the file's `#[cfg(test)] mod tests {` block, if any."""
    for i, line in enumerate(lines):
        if line.startswith("#[cfg(test)]") and i + 1 < len(lines) and lines[i + 1].startswith("mod ") and lines[i + 1].rstrip().endswith("{"):
            return i
    return len(lines)


def bodiless(lines, start, end):
    """A signature, over however many lines, that ends in `;` before any `{`."""
    for line in lines[start:end]:
        code = line.split("//")[0]
        if "{" in code:
            return False
        if code.rstrip().endswith(";"):
            return True
    return False


def items(path, lines, end):
    for i in range(end):
        m = ITEM.match(lines[i])
        if not m:
            continue
        indent, kind, rest = m.groups()
        if kind == "fn" and bodiless(lines, i, end):
            continue  # a trait method without a body
        for j in range(i, end):
            if lines[j].rstrip() == indent + "}" or (j == i and lines[i].rstrip().endswith("}")):
                yield kind, j - i + 1, f"{path}:{i + 1}", lines[i].strip()[:70]
                break


def main():
    args = sys.argv[1:]
    top = 5
    if "--top" in args:
        top = int(args[args.index("--top") + 1])
        del args[args.index("--top"):args.index("--top") + 2]
    root = Path(args[0] if args else "src")
    found = []
    print(f"{'lines':>6} {'no tests':>8}  file")
    for path in sorted(root.rglob("*.rs")):
        lines = path.read_text().splitlines()
        # A `tests.rs`, and the files of a `tests/` folder beside it, are test modules whole.
        is_tests = path.name == "tests.rs" or "tests" in path.relative_to(root).parts[:-1]
        end = 0 if is_tests else test_module_start(lines)
        print(f"{len(lines):>6} {end:>8}  {path}")
        found.extend(items(path, lines, end))
    for kind in ("fn", "impl"):
        longest = sorted((f for f in found if f[0] == kind), key=lambda f: -f[1])[:top]
        print(f"\nlongest {kind} (outside test modules):")
        for _, n, where, text in longest:
            print(f"{n:>6}  {where}  {text}")


if __name__ == "__main__":
    main()
