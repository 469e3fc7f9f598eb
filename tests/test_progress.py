"""The progress bar appears only where a person can see it."""

import io
import time

from modelcheck.engine import SearchOptions, check
from modelcheck.engine.progress import Progress, TqdmProgress, progress_for
from toy_models import Counter


class FakeTerminal(io.StringIO):
    def isatty(self):
        return True


def test_no_bar_when_quiet_or_not_a_terminal():
    assert type(progress_for(quiet=False, stream=io.StringIO())) is Progress
    assert type(progress_for(quiet=True, stream=FakeTerminal())) is Progress
    assert isinstance(progress_for(quiet=False, stream=FakeTerminal()), TqdmProgress)


def test_bar_reports_states_frontier_and_depth():
    stream = FakeTerminal()
    bar = TqdmProgress(stream, delay=0)
    bar.start("toy")
    bar.update(states=1234, transitions=5000, frontier=17, depth=3)
    bar.close()
    shown = stream.getvalue()
    assert "toy" in shown and "1.23k states" in shown and "frontier=17" in shown and "depth=3" in shown


class Recorder(Progress):
    def __init__(self):
        self.updates = []

    def update(self, **figures):
        self.updates.append(figures)


def test_search_feeds_the_progress_while_it_runs():
    recorder = Recorder()
    result = check(Counter(1_500_000), SearchOptions(), recorder)  # about a second: several reports
    assert result.stats.states == 1_500_001
    assert recorder.updates, "no progress was reported during a run of over a second"
    states = [u["states"] for u in recorder.updates]
    assert states == sorted(states) and 0 < states[-1] <= 1_500_001
    assert set(recorder.updates[0]) == {"states", "transitions", "frontier", "depth"}


def test_bar_waits_for_its_delay_then_is_erased_when_closed():
    """Nothing before the delay; after it the bar is drawn, and closing it leaves an empty line behind, so
    the report's first line is not glued to the bar's last frame."""
    stream = FakeTerminal()
    bar = TqdmProgress(stream, delay=0.3)
    bar.start("toy")
    bar.update(states=10, transitions=20, frontier=1, depth=1)
    assert "toy" not in stream.getvalue(), "drawn before its delay"
    time.sleep(0.35)
    bar.update(states=20, transitions=40, frontier=1, depth=2)
    assert "toy" in stream.getvalue(), "never drawn after its delay"
    bar.close()
    last_frame = stream.getvalue().split("\r")[-1]
    assert last_frame.strip() == "", f"the bar's last frame stays on the line: {last_frame!r}"
