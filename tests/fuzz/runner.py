"""The coverage-guided fuzzer behind ``scripts/fuzz``: atheris (libFuzzer) over the targets.

Our packages are instrumented for coverage once per batch process, which then forks a child
per target (libFuzzer exits when it is done). A target starts from the committed seed corpus
(``tests/fuzz/corpus/<target>/``, read only) and a growing work corpus
(``<workdir>/corpus/<target>/``). A target that raises anything but a StackError, hangs
(``-timeout``) or runs out of memory is a finding: libFuzzer writes the input to
``<workdir>/findings/<target>/`` and the run exits non-zero.

Reproduce a finding: ``scripts/fuzz TARGET --reproduce FILE`` (runs the input once, without
atheris, and shows the traceback).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Final

ROOT: Final = Path(__file__).resolve().parents[2]
CORPUS: Final = ROOT / "tests" / "fuzz" / "corpus"
INSTRUMENTED: Final = ["p2pstack", "tests.fuzz"]
MAX_LEN: Final = 4096
TIMEOUT: Final = 10
"""Seconds one input may take before libFuzzer calls it a hang."""
RSS_LIMIT_MB: Final = 2048


def target_names() -> list[str]:
    from .targets import TARGETS

    return sorted(TARGETS)


def _instrumented_targets() -> dict[str, Callable[[bytes], None]]:
    import atheris

    with atheris.instrument_imports(include=INSTRUMENTED):
        from .targets import TARGETS
    return TARGETS


def _fuzz_in_child(fn: Callable[[bytes], None], name: str, seconds: int, workdir: Path) -> None:
    """In a forked child: fuzz ``fn`` with libFuzzer, output to the log (never returns)."""
    import atheris

    log = os.open(_log(workdir, name), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    os.dup2(log, 1)
    os.dup2(log, 2)
    work = workdir / "corpus" / name
    work.mkdir(parents=True, exist_ok=True)
    seeds = CORPUS / name
    args = [
        sys.argv[0],
        str(work),
        *([str(seeds)] if seeds.is_dir() else []),
        f"-max_total_time={seconds}",
        f"-max_len={MAX_LEN}",
        f"-timeout={TIMEOUT}",
        f"-rss_limit_mb={RSS_LIMIT_MB}",
        f"-artifact_prefix={_findings_dir(workdir, name)}/",
        "-print_final_stats=1",
    ]
    findings = _findings_dir(workdir, name)

    def guarded(data: bytes) -> None:
        try:
            fn(data)
        except BaseException:
            # libFuzzer writes crash-<sha1> too, but not for a seed that fails at start-up
            (findings / f"crash-{hashlib.sha1(data).hexdigest()}").write_bytes(data)
            raise

    atheris.Setup(args, guarded)
    atheris.Fuzz()
    os._exit(0)  # not reached: libFuzzer exits


def _batch(names: list[str], seconds: int, workdir: Path) -> int:
    """Instrument once, then fuzz each target in a forked child; print a line per target."""
    targets = _instrumented_targets()
    failed = 0
    for name in names:
        _findings_dir(workdir, name).mkdir(parents=True, exist_ok=True)
        started = time.monotonic()
        sys.stdout.flush()
        pid = os.fork()
        if pid == 0:
            try:
                _fuzz_in_child(targets[name], name, seconds, workdir)
            finally:
                os._exit(70)
        _, status = os.waitpid(pid, 0)
        code = os.waitstatus_to_exitcode(status)
        _exit_file(workdir, name).write_text(str(code))
        outcome = _outcome(name, code, time.monotonic() - started, workdir)
        failed += not outcome.ok
        # one write per line: batches share the parent's stdout, and print() writes the text
        # and the newline separately (lines of parallel batches interleaved)
        sys.stdout.write(outcome.line() + "\n")
        sys.stdout.flush()
    return 1 if failed else 0


def _findings_dir(workdir: Path, name: str) -> Path:
    return workdir / "findings" / name


def _exit_file(workdir: Path, name: str) -> Path:
    return workdir / "logs" / f"{name}.exit"


def _log(workdir: Path, name: str) -> Path:
    path = workdir / "logs" / f"{name}.log"
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


@dataclass
class Outcome:
    name: str
    returncode: int
    seconds: float
    executions: int
    findings: list[Path]
    log: Path

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and not self.findings

    def line(self) -> str:
        status = "ok" if self.ok else "FINDING"
        text = (
            f"{status:8} {self.name:20} {self.executions:>9} execs {self.seconds:6.1f} s "
            f"exit {self.returncode}"
        )
        for path in self.findings:
            text += f"\n         input: {path}"
        if not self.ok:
            text += f"\n         log:   {self.log}"
        return text


_EXECUTED = re.compile(rb"stat::number_of_executed_units:\s*(\d+)")


def _outcome(name: str, code: int, seconds: float, workdir: Path) -> Outcome:
    log = _log(workdir, name)
    match = _EXECUTED.search(log.read_bytes()) if log.exists() else None
    findings = sorted(p for p in _findings_dir(workdir, name).iterdir() if p.is_file())
    return Outcome(name, code, seconds, int(match.group(1)) if match else 0, findings, log)


def fuzz(names: list[str], seconds: int, workdir: Path, jobs: int) -> int:
    """Fuzz each target for ``seconds`` in ``jobs`` parallel batches; 1 if anything was found.

    Findings left in the findings dir by earlier runs count too: delete them once fixed.
    """
    started = time.monotonic()
    for name in names:
        _exit_file(workdir, name).unlink(missing_ok=True)
    batches = [names[i::jobs] for i in range(min(jobs, len(names)))]
    procs = [
        subprocess.Popen(
            [
                *(sys.executable, "-m", "tests.fuzz.runner", "--batch", ",".join(batch)),
                *("--seconds", str(seconds), "--workdir", str(workdir)),
            ],
            cwd=ROOT,
        )
        for batch in batches
    ]
    codes = [proc.wait() for proc in procs]
    outcomes = []
    for name in names:
        exit_file = _exit_file(workdir, name)
        code = int(exit_file.read_text()) if exit_file.exists() else -1
        outcomes.append(_outcome(name, code, 0.0, workdir))
    bad = [o.name for o in outcomes if not o.ok]
    total = sum(o.executions for o in outcomes)
    elapsed = time.monotonic() - started
    print(
        f"{len(names)} target(s), {total} executions in {elapsed:.0f} s; "
        f"findings: {', '.join(bad) if bad else 'none'}",
        flush=True,
    )
    return 1 if bad or any(codes) else 0


def reproduce(name: str, path: Path) -> int:
    from .targets import TARGETS

    TARGETS[name](path.read_bytes())
    print(f"{name}: {path} ran without a finding")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="scripts/fuzz",
        description="Coverage-guided fuzzing (atheris/libFuzzer) of every decoder of remote "
        "bytes. Invariant: a decoder returns a value or raises a StackError subclass.",
    )
    parser.add_argument("targets", nargs="*", metavar="TARGET", help="targets to fuzz (--list)")
    parser.add_argument("--list", action="store_true", help="list the targets and exit")
    parser.add_argument("--all", action="store_true", help="fuzz every target in turn")
    parser.add_argument("--seconds", type=int, default=60, help="time per target (default 60)")
    parser.add_argument("--jobs", type=int, default=1, help="targets fuzzed at once (default 1)")
    parser.add_argument(
        "--workdir",
        type=Path,
        default=ROOT / "build" / "fuzz",
        help="findings/, corpus/ (grown inputs) and logs/ go here (default build/fuzz)",
    )
    parser.add_argument("--reproduce", type=Path, metavar="FILE", help="run one input once")
    parser.add_argument("--batch", metavar="TARGETS", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.batch:
        return _batch(args.batch.split(","), args.seconds, args.workdir.resolve())
    names = target_names()
    if args.list:
        print("\n".join(names))
        return 0
    if args.all == bool(args.targets):
        parser.error("give TARGET(s) or --all")
    unknown = set(args.targets) - set(names)
    if unknown:
        parser.error(f"unknown target(s) {', '.join(sorted(unknown))} (see --list)")
    if args.reproduce:
        if len(args.targets) != 1:
            parser.error("--reproduce needs one TARGET")
        return reproduce(args.targets[0], args.reproduce)
    if args.seconds < 1 or args.jobs < 1:
        parser.error("--seconds and --jobs must be at least 1")
    try:
        import atheris  # noqa: F401
    except ImportError:
        print(
            "scripts/fuzz: atheris is not installed (scripts/setup installs the 'fuzz' extra)",
            file=sys.stderr,
        )
        return 2
    workdir = args.workdir.resolve()
    os.makedirs(workdir, exist_ok=True)
    return fuzz(names if args.all else args.targets, args.seconds, workdir, args.jobs)


if __name__ == "__main__":
    sys.exit(main())
