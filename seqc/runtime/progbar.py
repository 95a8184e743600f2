"""Keras 3 style progress bar.

This reproduces the output of ``keras.utils.Progbar`` (Keras 3,
``keras/src/utils/progbar.py``) character for character:

verbose=1 (one line rewritten in place, ANSI bold/green/white)::

    \\r\\x1b[1m32/32\\x1b[0m \\x1b[32m━━━━━━━━━━━━━━━━━━━━\\x1b[0m\\x1b[37m\\x1b[0m \\x1b[1m0s\\x1b[0m 2ms/step - accuracy: 0.5000 - loss: 0.6931\\n

verbose=2 (one line per finished bar)::

    32/32 - 0s - 2ms/step - accuracy: 0.5000 - loss: 0.6931\\n

Like Keras, the in-place redraw ("\\b" * previous width followed by "\\r")
is used whenever ``_dynamic_display`` is true, and Keras's test for it
includes ``"posix" in sys.modules`` -- so on Linux/macOS the redraw form is
used even when stdout is not a tty (a pipe or a file receives every
intermediate redraw, throttled to one per ``interval`` seconds). Only when
``_dynamic_display`` is false is each update put on a new line instead.
"""

import math
import os
import sys
import time

import numpy as np

from .. import distributed

__all__ = ["Progbar", "print_msg"]


def _replace_special_unicode_character(message):
    # Keras falls back to the Keras 2 look when stdout can't encode '━'.
    return str(message).replace("━", "=")


def print_msg(message, line_break=True):
    """Write ``message`` to stdout and flush (Keras ``io_utils.print_msg``); under mpirun, on
    rank 0 only (seqc.distributed)."""
    if not distributed.is_root():
        return
    message = str(message)
    message = f"{message}\n" if line_break else message
    try:
        sys.stdout.write(message)
    except UnicodeEncodeError:
        message = _replace_special_unicode_character(message)
        encoding = getattr(sys.stdout, "encoding", None) or "utf-8"
        message = message.encode(encoding, errors="ignore").decode(encoding)
        sys.stdout.write(message)
    sys.stdout.flush()


class Progbar:
    """Displays a progress bar (same behaviour and output as Keras 3).

    Args:
        target: Total number of steps expected, None if unknown.
        width: Progress bar width on screen.
        verbose: Verbosity mode, 0 (silent), 1 (verbose), 2 (semi-verbose).
        interval: Minimum visual progress update interval (in seconds).
        stateful_metrics: Iterable of names of metrics that should *not* be
            averaged over time (displayed as given). If neither this nor
            ``stateless_metrics`` is given, every metric is averaged.
        stateless_metrics: Iterable of names of metrics that *should* be
            averaged over time; all others are displayed as given. Only one
            of ``stateful_metrics`` / ``stateless_metrics`` may be given.
        unit_name: Display name for step counts (usually "step" or "sample").
    """

    def __init__(
        self,
        target,
        width=20,
        verbose=1,
        interval=0.05,
        stateful_metrics=None,
        stateless_metrics=None,
        unit_name="step",
    ):
        if stateful_metrics is not None and stateless_metrics is not None:
            raise ValueError(
                "Only one of `stateful_metrics` or `stateless_metrics` "
                "can be provided. `stateful_metrics` is used to make metrics "
                "stateless by default (with an exclusion list), while "
                "`stateless_metrics` is used to make metrics stateful by "
                "default (with an exclusion list)."
            )
        self.target = target
        self.width = width
        self.verbose = verbose
        self.interval = interval
        self.unit_name = unit_name
        if stateful_metrics is not None:
            self.stateful_metrics = set(stateful_metrics)
            self.stateless_metrics = None
        elif stateless_metrics is not None:
            self.stateful_metrics = None
            self.stateless_metrics = set(stateless_metrics)
        else:
            self.stateful_metrics = set()
            self.stateless_metrics = None

        self._dynamic_display = (
            (hasattr(sys.stdout, "isatty") and sys.stdout.isatty())
            or "ipykernel" in sys.modules
            or "posix" in sys.modules
            or "PYCHARM_HOSTED" in os.environ
        )
        self._seen_so_far = 0
        self._values = {}
        self._values_order = []
        self._start = time.time()
        self._last_update = 0
        self._time_at_epoch_start = self._start
        self._time_after_first_step = None
        self._prev_total_width = 0

    def _is_stateless(self, name):
        if self.stateful_metrics is not None:
            return name not in self.stateful_metrics
        return name in self.stateless_metrics

    @staticmethod
    def _average(entry):
        value, count = entry
        if not isinstance(value, float):
            value = np.mean(value)
        return value / max(1, count)

    def update(self, current, values=None, finalize=None):
        """Updates the progress bar.

        Args:
            current: Index of current step (1-based count of steps done).
            values: List of ``(name, value)`` tuples. Stateless names are
                averaged over steps; stateful ones are displayed as given.
            finalize: Whether this is the last update for the progress bar.
                If None, defaults to ``current >= self.target``.
        """
        if finalize is None:
            if self.target is None:
                finalize = False
            else:
                finalize = current >= self.target

        values = values or []
        for k, v in values:
            if k not in self._values_order:
                self._values_order.append(k)
            if self._is_stateless(k):
                if finalize:
                    self._values[k] = [v, 1]
                else:
                    value_base = max(current - self._seen_so_far, 1)
                    if k not in self._values:
                        self._values[k] = [v * value_base, value_base]
                    else:
                        self._values[k][0] += v * value_base
                        self._values[k][1] += value_base
            else:
                self._values[k] = [v, 1]
        self._seen_so_far = current

        message = ""
        special_char_len = 0
        now = time.time()
        time_per_unit = self._estimate_step_duration(current, now)

        if self.verbose == 1:
            if now - self._last_update < self.interval and not finalize:
                return

            if self._dynamic_display:
                message += "\b" * self._prev_total_width
                message += "\r"
            else:
                message += "\n"

            if self.target is not None and self.target > 0:
                numdigits = int(math.log10(self.target)) + 1
                bar = (f"%{numdigits}d/%d") % (current, self.target)
                bar = f"\x1b[1m{bar}\x1b[0m "
                special_char_len += 8
                prog = float(current) / self.target
                prog_width = int(self.width * prog)
                if prog_width > 0:
                    bar += f"\x1b[32m{'━' * prog_width}\x1b[0m"
                    special_char_len += 9
                bar += f"\x1b[37m{'━' * (self.width - prog_width)}\x1b[0m"
                special_char_len += 9
            else:
                bar = "%7d/Unknown" % current
            message += bar

            if self.target is not None and self.target > 0 and not finalize:
                eta = time_per_unit * (self.target - current)
                if eta > 3600:
                    eta_format = "%d:%02d:%02d" % (
                        eta // 3600,
                        (eta % 3600) // 60,
                        eta % 60,
                    )
                elif eta > 60:
                    eta_format = "%d:%02d" % (eta // 60, eta % 60)
                else:
                    eta_format = "%ds" % eta
                info = f" \x1b[1m{eta_format}\x1b[0m"
            else:
                info = f" \x1b[1m{now - self._start:.0f}s\x1b[0m"
            special_char_len += 8

            info += self._format_time(time_per_unit, self.unit_name)

            for k in self._values_order:
                info += f" - {k}:"
                avg = self._average(self._values[k])
                if abs(avg) > 1e-3:
                    info += f" {avg:.4f}"
                else:
                    info += f" {avg:.4e}"
            message += info

            total_width = len(bar) + len(info) - special_char_len
            if self._prev_total_width > total_width:
                message += " " * (self._prev_total_width - total_width)
            if finalize:
                message += "\n"

            print_msg(message, line_break=False)
            self._prev_total_width = total_width
            message = ""

        elif self.verbose == 2:
            if finalize and self.target is not None and self.target > 0:
                numdigits = int(math.log10(self.target)) + 1
                count = f"%{numdigits}d/%d" % (current, self.target)
                info = f"{count} - {now - self._start:.0f}s"
                info += f" -{self._format_time(time_per_unit, self.unit_name)}"
                for k in self._values_order:
                    info += f" - {k}:"
                    avg = self._average(self._values[k])
                    # Keras 3 compares the signed value here (not abs()), so
                    # negative values are shown in scientific notation.
                    if avg > 1e-3:
                        info += f" {avg:.4f}"
                    else:
                        info += f" {avg:.4e}"
                info += "\n"
                message += info
                print_msg(message, line_break=False)
                message = ""

        self._last_update = now

    def add(self, n, values=None):
        self.update(self._seen_so_far + n, values)

    def _format_time(self, time_per_unit, unit_name):
        """Formats a per-unit duration as ' 2s/step', ' 15ms/step', ' 80us/step'."""
        formatted = ""
        if time_per_unit >= 1 or time_per_unit == 0:
            formatted += f" {time_per_unit:.0f}s/{unit_name}"
        elif time_per_unit >= 1e-3:
            formatted += f" {time_per_unit * 1000.0:.0f}ms/{unit_name}"
        else:
            formatted += f" {time_per_unit * 1000000.0:.0f}us/{unit_name}"
        return formatted

    def _estimate_step_duration(self, current, now):
        """Estimated duration of one step.

        The first step is excluded from the estimate once more than one step
        has been seen (it is assumed to be unrepresentative).
        """
        if current:
            if self._time_after_first_step is not None and current > 1:
                time_per_unit = (now - self._time_after_first_step) / (
                    current - 1
                )
            else:
                time_per_unit = (now - self._start) / current
            if current == 1:
                self._time_after_first_step = now
            return time_per_unit
        return 0
