"""Prints the fuzzers' counts at the end of the run (see fuzz_summary.py)."""
import fuzz_summary


def pytest_terminal_summary(terminalreporter):
    mode = "long" if fuzz_summary.LONG else "bounded"
    for fuzzer, counts in sorted(fuzz_summary.COUNTS.items()):
        terminalreporter.write_line(f"fuzz summary ({mode} mode) {fuzzer}: "
                                    + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))
