"""The command line's parser and dispatch (`embforge.cli.main` runs it).

One module per command family (vocab, train, evaluate: eval and similar,
cooccur, finetune, lm: train and generate, chat, plot), each with an
``add_*_parser(subparsers)`` and the ``run_*(args)`` it sets as the command's
``run``.
"""
from __future__ import annotations

import argparse
import logging
import os
import sys
from typing import List, NoReturn, Optional

from ..distributed.collectives import PeerError
from ..distributed.group import launched_processes, owns_environment, shutdown_environment
from .common import say
from .chat import add_chat_parser
from .cooccur import add_cooccur_parser
from .evaluate import add_eval_parser, add_similar_parser
from .finetune import add_finetune_parser
from .lm import add_lm_parser
from .plot import add_plot_parser
from .train import add_train_parser
from .vocab import add_vocab_parser

__all__ = ["build_parser", "leave_now", "run", "ACROSS_PROCESSES"]

# The commands that share their work among the processes of a torchrun job
# (each rank its share of the corpus, rank 0 writes). Any other, launched
# by torchrun with several processes, would run whole in every one of them
# (N times the work, N fine-tunings writing one file, N printouts), so it
# refuses at once, before reading anything.
ACROSS_PROCESSES = ("train", "cooccur", "vocab")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="embforge",
        description="Fast word-embedding training (skip-gram, CBOW, GloVe) on CPU threads and "
                    "CUDA GPUs. Run 'embforge COMMAND --help' for a command's options.")
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress details")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for add in (add_vocab_parser, add_train_parser, add_eval_parser, add_similar_parser,
                add_cooccur_parser, add_finetune_parser, add_lm_parser, add_chat_parser,
                add_plot_parser):
        add(sub)
    return parser


def run(argv: Optional[List[str]] = None) -> int:
    """Parses `argv` and runs its command; returns the exit status."""
    try:
        return _main(argv)
    finally:
        shutdown_environment()


def leave_now(status: int) -> NoReturn:
    """Ends the process with `status` at once: logging and the standard
    streams flushed, the interpreter's teardown skipped. Used where that
    teardown is only cost: after a collective failed, it would first destroy
    the broken process group, whose gloo threads can still be finishing the
    operation that failed (about a second more, measured, before torchrun
    sees the rank end); after a counting command (cli/__init__.py: script),
    it frees the corpus arrays and modules one by one. Every `finally` has
    run by then (temporary files removed, saves complete), so only the
    buffered output is left to flush."""
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            # as the interpreter's own exit does when it cannot flush: 120
            # rather than a success (a reader that left the pipe was
            # answered earlier, with SIGPIPE's status)
            status = status or 120
    os._exit(status)


def _check_launch(command: str) -> None:
    """Raises ValueError when `command` is not one of ACROSS_PROCESSES and
    this process is one of several of a torchrun job."""
    world = launched_processes()
    if command in ACROSS_PROCESSES or world <= 1:
        return
    raise ValueError(f"{command} runs in one process, and this is one of {world} (torchrun's "
                     f"WORLD_SIZE), each of which would run it whole: run it without torchrun "
                     f"(under torchrun: {', '.join(ACROSS_PROCESSES)}), or, started from a "
                     f"process of such a job, with WORLD_SIZE unset")


def _main(argv: Optional[List[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    try:
        _check_launch(args.command)
        code: int = args.run(args)
        return code
    except BrokenPipeError:
        # The reader of stdout left (`embforge similar ... | head`): end as the
        # standard tools do, quietly, with SIGPIPE's status; stdout goes to
        # /dev/null so that the interpreter's final flush does not fail again.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 128 + 13
    except PeerError as error:  # another rank died or stopped answering: say so, fail
        say(f"embforge {args.command}: error: {error}")
        if owns_environment():
            leave_now(1)
        return 1
    except (ValueError, OSError, RuntimeError, FloatingPointError, ImportError) as error:
        # ImportError: an optional dependency the command needs is missing
        # (torch under torchrun, matplotlib for plots); the message says which
        say(f"embforge {args.command}: error: {error}")
        return 2
    except KeyboardInterrupt as interrupt:
        # Training commands catch Ctrl-C themselves (they stop at the next
        # sentence and write what was trained, exit 130); what reaches here
        # came before any result existed (reading, counting) or kept nothing.
        say(f"embforge {args.command}: interrupted (Ctrl-C): {str(interrupt) or 'nothing was written'}")
        return 130
