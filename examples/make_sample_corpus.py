"""Builds examples/data/pydocs.txt.gz, the small corpus the README trains on.

The text is the docstrings of CPython's standard library (Python Software
Foundation License, see examples/data/README.md), lower-cased and reduced to
a-z tokens like text8, one docstring paragraph a line. Run with the CPython
whose library you want to read:  python examples/make_sample_corpus.py
"""
import ast
import gzip
import os
import re
import sysconfig

OUT = os.path.join(os.path.dirname(__file__), "data", "pydocs.txt.gz")
WORD = re.compile(r"[a-z]+")


def docstrings(path):
    try:
        with open(path, encoding="utf-8") as source:
            tree = ast.parse(source.read())
    except (SyntaxError, UnicodeDecodeError, ValueError):
        return
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            text = ast.get_docstring(node)
            if text:
                yield text


def main():
    root = sysconfig.get_paths()["stdlib"]
    lines = []
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d not in ("test", "tests", "site-packages", "idle_test"))
        for name in sorted(files):
            if name.endswith(".py"):
                for text in docstrings(os.path.join(folder, name)):
                    for paragraph in text.split("\n\n"):
                        tokens = WORD.findall(paragraph.lower())
                        if len(tokens) >= 5:
                            lines.append(" ".join(tokens))
    with gzip.GzipFile(OUT, "wb", mtime=0) as out:
        out.write(("\n".join(lines) + "\n").encode())
    print(f"{OUT}: {len(lines)} lines, {sum(len(l.split()) for l in lines)} tokens")


if __name__ == "__main__":
    main()
