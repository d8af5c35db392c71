"""The analogy questions file of evaluation (``: section`` lines, then
``a b c d``: embforge.evaluation.read_analogies), plain or compressed."""
import sys

import _harness

with _harness.instrumented():
    from embforge.evaluation import read_analogies

ALLOWED = (ValueError,)
NAMES_PATH = True


def one_input(data: bytes) -> None:
    for name, questions in read_analogies(_harness.SCRATCH.file(data), bool(len(data) % 2)):
        for question in questions:
            if len(question.words) != 4:
                raise _harness.ContractViolation(f"section {name!r}: {question!r}")


def seeds():
    import bz2
    plain = b": capital-common-countries\nAthens Greece Baghdad Iraq\n: family\nboy girl brother sister\n"
    return {"plain": plain, "bzip2": bz2.compress(plain),
            "odd_lines": ": s\r\na b c\na b c d e\n\n".encode()}


if __name__ == "__main__":
    _harness.main(sys.modules[__name__])
