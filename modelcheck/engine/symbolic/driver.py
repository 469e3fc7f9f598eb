"""The one driver of symbolic runs: replay a prefix of choices, take the first feasible one, queue the others.

Code that meets a question it cannot answer alone (is this term true? which
value has it? which outcome has this test?) asks ``Choices.take`` with the
feasible answers. The first run takes the first answer at every question and
queues every other answer with the choices before it; each later run replays
a queued prefix and goes on from there. ``every_run`` runs the code once per
combination of feasible answers: the bounded model checker's paths through a
step and the outcomes of a test of unknown counts are both this.
"""

from __future__ import annotations

from typing import Callable, Hashable, Sequence, TypeVar

T = TypeVar("T")
C = TypeVar("C", bound="Choices")


class Infeasible(Exception):
    """A question has no feasible answer: the choices so far contradict each other."""


class Choices:
    """The answers of one run: those of ``prefix`` first, then the first feasible one at each question."""

    def __init__(self, prefix: tuple[Hashable, ...] = ()) -> None:
        self.prefix = prefix
        self.taken: list[Hashable] = []
        self.pending: list[tuple[Hashable, ...]] = []  # prefixes of the runs still to make

    def replaying(self) -> bool:
        """Whether the next question is answered by the prefix."""
        return len(self.taken) < len(self.prefix)

    def take(self, feasible: Callable[[], Sequence[Hashable]]) -> Hashable:
        """The answer to the next question: the prefix's, else the first of ``feasible()``, queueing the rest."""
        if self.replaying():
            answer = self.prefix[len(self.taken)]
        else:
            answers = feasible()
            if not answers:
                raise Infeasible("no answer is feasible")
            answer = answers[0]
            self.pending.extend(tuple(self.taken) + (other,) for other in answers[1:])
        self.taken.append(answer)
        return answer

    def end(self) -> None:
        """The run is over (a solver-backed run takes its constraints off here)."""


def every_run(begin: Callable[[tuple[Hashable, ...]], C], run: Callable[[C], T],
              skip: type[Exception] | tuple[type[Exception], ...] = ()) -> list[tuple[T, C]]:
    """Run ``run`` once per combination of feasible answers; each result with its choices. A run that raises
    one of ``skip`` (an infeasible path, say) gives no result."""
    results: list[tuple[T, C]] = []
    todo: list[tuple[Hashable, ...]] = [()]
    while todo:
        choices = begin(todo.pop())
        try:
            results.append((run(choices), choices))
        except skip:
            pass
        finally:
            choices.end()
        todo.extend(choices.pending)
    return results
