"""The GPU benchmark's report, kept on disk whatever happens to the run.

A device is lent for minutes: a timeout, a sticky CUDA fault or a crash
must not lose what was measured. :class:`ReportKeeper` rewrites the report
(atomically, :func:`.report.write_report`) after every step, on any
exception, on SIGTERM and from a watchdog thread a little past the budget,
which then ends the process (a kernel that hangs the main thread cannot
hold the report back).
"""
import copy
import os
import signal
import sys
import threading
from typing import Callable, Optional

from .report import evaluate_targets, write_report

__all__ = ['ReportKeeper', 'WATCHDOG_EXIT_CODE']

#: Exit status when the watchdog ends the run (SIGTERM gives 143).
WATCHDOG_EXIT_CODE = 3


class ReportKeeper:
    """Holds the live state of a run and writes it as the report.

    Args:
        report (dict): The report's fixed part (``environment``, ...).
        out_dir (str): Where the report files go.
        budget (Deadline): The run's budget; its ``elapsed`` is recorded.
        peak (float, optional): fp32 SGEMM TFLOP/s for the targets.
        watchdog_s (float, optional): Seconds after which the watchdog
            writes the report and ends the process; None for none.
        log (callable): Progress lines.
    """

    def __init__(self, report: dict, out_dir: str, budget,
                 peak: Optional[float] = None,
                 watchdog_s: Optional[float] = None,
                 log: Callable = print):
        self.report = report
        self.out_dir = out_dir
        self.budget = budget
        self.peak = peak
        self.cells = []
        self.models = []
        self.paths = None
        self._lock = threading.RLock()
        self._watchdog_s = watchdog_s
        self._timer = None
        self._previous_handler = None
        self._log = log
        report['status'] = 'running'

    def save(self, status: Optional[str] = None) -> dict:
        """Write the report as it stands (``status`` replaces the run's
        status) and return what was written."""
        with self._lock:
            if status is not None:
                self.report['status'] = status
            snapshot = copy.deepcopy(self.report)
            snapshot['grid'] = [c.to_dict() for c in self.cells]
            snapshot['models'] = [m.to_dict() for m in self.models]
            snapshot['targets'] = evaluate_targets(self.cells, self.models,
                                                   self.peak)
            snapshot['environment']['elapsed_s'] = self.budget.elapsed()
            self.paths = write_report(snapshot, self.out_dir)
        return snapshot

    def __enter__(self) -> 'ReportKeeper':
        if threading.current_thread() is threading.main_thread():
            self._previous_handler = signal.signal(signal.SIGTERM,
                                                   self._on_sigterm)
        if self._watchdog_s is not None:
            self._timer = threading.Timer(self._watchdog_s, self._on_watchdog)
            self._timer.daemon = True
            self._timer.start()
        self.save()
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if self._timer is not None:
            self._timer.cancel()
        if self._previous_handler is not None:
            signal.signal(signal.SIGTERM, self._previous_handler)
        if exc_type is None:
            self.save('complete')
        elif self.report['status'] == 'running':
            self.save(f'failed: {exc_type.__name__}: {exc}'[:500])

    def _on_sigterm(self, signum, frame) -> None:
        self.save('interrupted: SIGTERM')
        self._log(f'[report] interrupted by SIGTERM; report in '
                  f'{self.out_dir}')
        raise SystemExit(128 + signal.SIGTERM)

    def _on_watchdog(self) -> None:
        status = (f'stopped by the watchdog at {self._watchdog_s:.0f} s '
                  f'(budget {self.report["environment"]["budget_s"]} s)')
        for _ in range(3):  # the main thread may be changing a cell
            try:
                self.save(status)
                break
            except RuntimeError:
                continue
        self._log(f'[report] watchdog: the run passed '
                  f'{self._watchdog_s:.0f} s; report in {self.out_dir}')
        sys.stdout.flush()
        os._exit(WATCHDOG_EXIT_CODE)
