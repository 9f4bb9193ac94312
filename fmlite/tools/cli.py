"""Command line (`python -m fmlite ...`, also installed as `fmlite`): one parser builder and one `cmd_*`
function per subcommand (`COMMANDS`); a new subcommand adds a `_add_<name>` parser builder and a `cmd_<name>`.

    python -m fmlite train digits                   # rebuild a shipped checkpoint (fmlite.tools.cli_train)
    python -m fmlite site [--out site/] [--execute] [--no-pictures] [--quick]   # the course as an offline, interactive HTML site
    python -m fmlite doctor                          # check this environment (fmlite.tools.doctor)
    python -m fmlite animate [--out flow.gif]        # noise flowing into FLOW, as a GIF (fmlite.tools.animate)
    python -m fmlite solutions DIR                   # solved copies of the notebooks (fmlite.tools.solutions)

Every command checks its output (a file where a folder is expected, a missing or unwritable folder, a bad
extension, an existing file without --force) before any work and refuses on one line with exit status 2;
files are written through temporary files (`fmlite.files`), and Ctrl-C exits with status 130, leaving every
file either as it was or complete.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .cli_train import INTERRUPTED, add_train as _add_train, cmd_train, fail

__all__ = ["main", "build_parser", "cmd_site", "cmd_doctor", "cmd_animate", "cmd_solutions", "COMMANDS"]


def _add_site(commands) -> None:
    p = commands.add_parser("site", help="build the course as a static HTML site (offline)")
    p.add_argument("--out", type=Path, default=Path("site"), help="folder of the site (default site/)")
    p.add_argument("--execute", action="store_true", help="re-run every notebook before converting it")
    p.add_argument("--force", action="store_true",
                   help="replace files in the folder that a build did not write or that were edited since")
    p.add_argument("--no-pictures", action="store_true",
                   help="fast build without the explorers' pictures (each explorer is a note on running it live)")
    p.add_argument("--quick", action="store_true", help="explorers on a few settings per control (for tests)")
    p.set_defaults(run=cmd_site)


def _add_doctor(commands) -> None:
    commands.add_parser("doctor", help="check this environment; one-line fix per failure").set_defaults(run=cmd_doctor)


def _add_animate(commands) -> None:
    p = commands.add_parser("animate", help="write a GIF of noise flowing into the word FLOW")
    p.add_argument("--out", type=Path, default=Path("flow.gif"), help="GIF file (default flow.gif)")
    p.add_argument("--force", action="store_true", help="replace an existing file")
    p.set_defaults(run=cmd_animate)


def _add_solutions(commands) -> None:
    p = commands.add_parser("solutions", help="write solved copies of the notebooks into DIR")
    p.add_argument("dir", type=Path, help="folder for the solved copies (not notebooks/ itself)")
    p.add_argument("--force", action="store_true", help="replace copies that were edited since they were written")
    p.set_defaults(run=cmd_solutions)


def cmd_site(args, parser, argv) -> int:
    """`python -m fmlite site [--out DIR] [--execute] [--force] [--no-pictures] [--quick]`: see fmlite.tools.site;
    a refusal is one line, exit 2."""
    from .site import main_site
    try:
        return main_site(args.out, execute=args.execute, force=args.force, pictures=not args.no_pictures,
                         quick=args.quick)
    except (RuntimeError, FileNotFoundError, ValueError) as err:
        fail(parser, str(err))


def cmd_doctor(args, parser, argv) -> int:
    """`python -m fmlite doctor`: see fmlite.tools.doctor; exit status 0 only when every check passes."""
    from .doctor import main_doctor
    return main_doctor()


def cmd_animate(args, parser, argv) -> int:
    """`python -m fmlite animate [--out FILE] [--force]`: see fmlite.tools.animate; a refusal is one line, exit 2."""
    from .animate import write_gif
    try:
        out = write_gif(args.out, force=args.force)
    except (ValueError, FileNotFoundError) as err:
        fail(parser, str(err))
    print(f"wrote {out} ({out.stat().st_size / 1e6:.2f} MB)")
    return 0


def cmd_solutions(args, parser, argv) -> int:
    """`python -m fmlite solutions DIR [--force]`: see fmlite.tools.solutions; a refusal is one line, exit 2."""
    from .solutions import main_solutions
    try:
        return main_solutions(args.dir, force=args.force)
    except (ValueError, FileNotFoundError) as err:
        fail(parser, str(err))


#: Subcommand name -> the function that runs it, cmd(args, parser, argv) -> exit status.
COMMANDS = {"train": cmd_train, "site": cmd_site, "doctor": cmd_doctor, "animate": cmd_animate,
            "solutions": cmd_solutions}
_PARSERS = (_add_train, _add_site, _add_doctor, _add_animate, _add_solutions)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of `python -m fmlite`: one subparser per entry of `COMMANDS`."""
    parser = argparse.ArgumentParser(prog="python -m fmlite", description="fmlite: the course's command line.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for add in _PARSERS:
        add(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of `python -m fmlite` and the `fmlite` console script; returns the exit status."""
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.run(args, parser, argv)
    except KeyboardInterrupt:
        print(f"{parser.prog} {args.command}: stopped by Ctrl-C; every file is either as it was or complete "
              "(each is written through a temporary file): run the command again", file=sys.stderr)
        return INTERRUPTED
