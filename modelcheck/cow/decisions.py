"""The policy's choices at one step, in words, and the step again with one of them the other way.

A step's choices are found by taking it again under the same policy wrapped
so that it notes every question a mechanism asks it, in order (``Asking``):
do_wp_page's reuse or copy, an unsharing fault's keep or copy, fork's share
or early copy per page, GUP's COW break or unshare, a skip of a maybe-pinned
page by clear_refs, mprotect, reclaim or unmap, a swap-in's reuse. Asked to
flip the n-th question, the wrapper gives the other answer to that one only.

Each choice says what the policy read (the page's counters, who holds the
references its refcount counts), the counter values that decided it (found by
asking the policy again with one or two counters changed: the nearest values
that give the other answer), and the rule that answered: the commit whose
piece of the era defines that decision (``policies.pieces``).
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from enum import Enum
from itertools import combinations
from typing import TYPE_CHECKING, Any, Callable, Sequence

from modelcheck.cow.actions import Act
from modelcheck.cow.kernel import Machine
from modelcheck.cow.layout import PTE_SWAP, VMA_DONTFORK, pte_page
from modelcheck.cow.policies import (GUP_PIN_COUNTING_BIAS, ForkPage, GupFirst, GupRequest, HugeWriteFault,
                                     PageInfo, Policy, Unshare, WriteFault)
from modelcheck.cow.policies.pieces import piece_of
from modelcheck.engine.model import Choice

if TYPE_CHECKING:
    from modelcheck.cow.model import CowModel

Answer = Any  # an enum member of the policy's interface, or a bool


@dataclass(frozen=True)
class Asked:
    """One question a mechanism asked the policy: which decision, with what, and the answers."""

    name: str
    args: tuple[Any, ...]
    answer: Answer  # the policy's own
    given: Answer   # what the mechanism got (the other one, if this is the flipped question)


def other_answer(name: str, args: tuple[Any, ...], answer: Answer) -> Answer | None:
    """The other way of a decision, or None where there is no other (a lock wait; GUP on a writable PTE or
    for FOLL_WRITE, which must fault; a drain of an LRU batch the page is not in)."""
    if name == "drains_lru_before_reuse" and not args[0].in_lru_batch:
        return None  # nothing to drain: either way is the same
    if isinstance(answer, bool):
        return not answer
    if name in ("write_fault", "hugetlb_write_fault"):
        return {WriteFault.REUSE: WriteFault.COPY, WriteFault.COPY: WriteFault.REUSE}.get(answer)
    if name == "unshare":
        return Unshare.COPY if answer is Unshare.KEEP else Unshare.KEEP
    if name in ("fork_page", "fork_huge", "fork_hugetlb"):
        return ForkPage.COPY if answer is ForkPage.SHARE else ForkPage.SHARE
    if name == "huge_write_fault":  # reuse against what the era does otherwise (split, or before v5.8 copy)
        return HugeWriteFault.REUSE if answer is not HugeWriteFault.REUSE else HugeWriteFault.SPLIT
    if name == "gup":
        request: GupRequest = args[0]
        if request.pte_writable or request.write:
            return None
        return GupFirst.UNSHARE if answer is GupFirst.NOTHING else GupFirst.NOTHING
    return None


class Asking(Policy):
    """A policy that notes the questions asked of it (``asked``) and may answer one the other way (``flip``).

    ``asking(policy)`` builds it for one policy: each decision of ``QUESTIONS``
    is the policy's own answer passed through ``_ask``.
    """

    asked: list[Asked]
    flip: int | None

    def _ask(self, name: str, args: tuple[Any, ...], answer: Answer) -> Answer:
        given = answer
        if self.flip == len(self.asked):
            other = other_answer(name, args, answer)
            given = answer if other is None else other
        self.asked.append(Asked(name, args, answer, given))
        return given


def _asked(name: str, own: Callable[..., Answer]) -> Callable[..., Answer]:
    """Decision ``name`` as the policy's own method ``own`` answers it, noted (and maybe flipped) on the way."""
    def ask(self: Asking, *args: Any) -> Answer:
        return self._ask(name, args, own(self, *args))
    ask.__name__ = name
    return ask


def asking(policy: Policy) -> Asking:
    """``policy`` wrapped in an ``Asking``: a class of its own whose every decision the world words
    (``QUESTIONS``) is the policy class's own method, noted; flags and everything else stay the policy's."""
    own = type(policy)
    methods = {name: _asked(name, getattr(own, name)) for name in QUESTIONS}
    cls = type(f"Asking{own.__name__}", (Asking, own), {"__module__": __name__, **methods})
    wrapped: Asking = cls()
    wrapped.asked, wrapped.flip = [], None
    return wrapped


# -- words -------------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Said:
    """An answer in words: what it did (past), what it would have done (participle), doing it (gerund)."""

    past: str
    participle: str
    gerund: str


_REUSED = Said("reused it", "reused it", "reusing it")
_COPIED = Said("copied it", "copied it", "copying it")
_LEFT_WRITABLE = Said("left it writable", "left it writable", "leaving it writable")
_PROTECTED = Said("write-protected it", "write-protected it", "write-protecting it")

QUESTIONS: dict[str, tuple[str, dict[Answer, Said]]] = {
    "write_fault": ("{who}'s write fault on page {page}",
                    {WriteFault.REUSE: _REUSED, WriteFault.COPY: _COPIED}),
    "unshare": ("the unsharing fault on page {page}",
                {Unshare.KEEP: Said("kept it", "kept it", "keeping it"), Unshare.COPY: _COPIED}),
    "fork_page": ("fork on page {page}",
                  {ForkPage.SHARE: Said("shared it with the child", "shared it with the child", "sharing it"),
                   ForkPage.COPY: Said("copied it for the child", "copied it for the child",
                                       "copying it for the child")}),
    "huge_write_fault": ("{who}'s fault on the PMD-mapped THP of page {page}",
                         {HugeWriteFault.REUSE: _REUSED, HugeWriteFault.COPY: Said("copied it whole", "copied it whole",
                                                                                   "copying it whole"),
                          HugeWriteFault.SPLIT: Said("split its PMD", "split its PMD", "splitting its PMD")}),
    "hugetlb_write_fault": ("{who}'s fault on the hugetlb page {page}",
                            {WriteFault.REUSE: _REUSED, WriteFault.COPY: _COPIED}),
    "fork_hugetlb": ("fork on the hugetlb page {page}",
                     {ForkPage.SHARE: Said("shared it with the child", "shared it with the child", "sharing it"),
                      ForkPage.COPY: Said("copied it for the child", "copied it for the child",
                                          "copying it for the child")}),
    "fork_huge": ("fork on the PMD-mapped THP of page {page}",
                  {ForkPage.SHARE: Said("shared it with the child", "shared it with the child", "sharing it"),
                   ForkPage.COPY: Said("split it to copy its pages for the child", "split it",
                                       "splitting it to copy its pages for the child")}),
    "gup": ("{who}'s GUP on page {page}",
            {GupFirst.NOTHING: Said("took the page as mapped", "taken the page as mapped",
                                    "taking the page as mapped"),
             GupFirst.WRITE_FAULT: Said("broke COW first", "broken COW first", "breaking COW first"),
             GupFirst.UNSHARE: Said("unshared it first", "unshared it first", "unsharing it first")}),
    "gup_refuses": ("{who}'s GUP of page {page}",
                    {True: Said("refused it (-EFAULT)", "refused it", "refusing it"),
                     False: Said("allowed it", "allowed it", "allowing it")}),
    "iouring_refuses": ("io_uring's registration of page {page}",
                        {True: Said("refused it as file-backed (-EOPNOTSUPP)", "refused it", "refusing it"),
                         False: Said("registered it", "registered it", "registering it")}),
    "clear_refs_skips": ("clear_refs on {who}'s PTE of page {page}",
                         {True: Said("left it alone (soft-dirty)", "left it alone", "leaving it alone"),
                          False: Said("write-protected and cleaned it", "write-protected and cleaned it",
                                      "write-protecting and cleaning it")}),
    "wrprotect_skips": ("write-protecting {who}'s PTE of page {page}", {True: _LEFT_WRITABLE, False: _PROTECTED}),
    "mprotect_makes_writable": ("mprotect(PROT_READ|PROT_WRITE) of {who}'s PTE of page {page}",
                                {True: Said("made it writable at once", "made it writable at once",
                                            "making it writable at once"),
                                 False: Said("left it read-only", "left it read-only", "leaving it read-only")}),
    "forced_write_follows": ("{who}'s forced write (FOLL_FORCE) on page {page}",
                             {True: Said("wrote through the read-only PTE", "written through the read-only PTE",
                                         "writing through the read-only PTE"),
                              False: Said("faulted first", "faulted first", "faulting first")}),
    "reclaim_skips": ("reclaim of page {page}",
                      {True: Said("kept it out of the swap cache", "kept it out of the swap cache",
                                  "keeping it out of the swap cache"),
                       False: Said("added it to the swap cache", "added it to the swap cache",
                                   "adding it to the swap cache")}),
    "unmap_refuses": ("try_to_unmap of page {page}",
                      {True: Said("gave up on it", "given up on it", "giving up on it"),
                       False: Said("unmapped it", "unmapped it", "unmapping it")}),
    "swapin_reuse": ("{who}'s swap-in write fault on page {page}",
                     {True: Said("mapped it writable at once", "mapped it writable at once",
                                 "mapping it writable at once"),
                      False: Said("mapped it read-only", "mapped it read-only", "mapping it read-only")}),
    "drains_lru_before_reuse": ("{who}'s write fault on page {page}",
                                {True: Said("drained the LRU batch first", "drained the LRU batch first",
                                            "draining the LRU batch first"),
                                 False: Said("left the LRU batch alone", "left the LRU batch alone",
                                             "leaving the LRU batch alone")}),
    "uffdio_move_refuses": ("{who}'s UFFDIO_MOVE of page {page}",
                            {True: Said("refused to move it (EBUSY)", "refused to move it", "refusing to move it"),
                             False: Said("moved it", "moved it", "moving it")}),
}


def _counter_words(name: str, value: Any) -> str:
    flags = {"exclusive": "PageAnonExclusive", "has_pinned": "MMF_HAS_PINNED", "in_lru_batch": "in an LRU batch",
             "in_swapcache": "in the swap cache", "locked": "locked by another", "ksm": "a KSM page",
             "large": "a page of a THP", "maybe_shared": "maybe mapped shared (MM-owner tracking)",
             "holds_owner_slot": "in an MM-owner slot of this MM"}
    if name == "anon":
        return "an anonymous page" if value else "a page that is not anonymous"
    if isinstance(value, bool):
        return f"{flags[name]} {'set' if value else 'clear'}" if name in ("exclusive", "has_pinned") \
            else (flags[name] if value else f"not {flags[name]}")
    return f"{name.replace('count', ' count') if name == 'swapcount' else name} {value}"


def _candidates(name: str, value: Any, page: PageInfo) -> list[Any]:
    """The values a counter is tried at, nearest first: one more and one less, the small ones, a pin more
    or less, and for the refcount the mapcount (no reference but the mappings)."""
    if isinstance(value, bool):
        return [not value]
    tried = {value - 1, value + 1, 0, 1, 2, value + GUP_PIN_COUNTING_BIAS, value - GUP_PIN_COUNTING_BIAS}
    if name == "refcount":
        tried.add(page.mapcount)
    return sorted((v for v in tried if v >= 0 and v != value), key=lambda v: (abs(v - value), v))


def deciding_counters(ask: Callable[[PageInfo], Answer], page: PageInfo) -> tuple[dict[str, Any], dict[str, Any]]:
    """The counters whose values decided ``ask``'s answer on ``page``: one counter changed to its nearest value
    that gives another answer, or failing that the nearest pair; (those counters now, their values then)."""
    answer = ask(page)
    names = [f.name for f in fields(PageInfo) if f.name != "ksm" or page.ksm]  # (only a KSM page is asked as one)
    for size in (1, 2):
        for chosen in combinations(names, size):
            for values in _value_tuples(chosen, page):
                if ask(replace(page, **dict(zip(chosen, values)))) != answer:
                    return ({n: getattr(page, n) for n in chosen}, dict(zip(chosen, values)))
    return {}, {}


def _value_tuples(chosen: Sequence[str], page: PageInfo) -> list[tuple[Any, ...]]:
    lists = [_candidates(name, getattr(page, name), page) for name in chosen]
    if len(lists) == 1:
        return [(v,) for v in lists[0]]
    return [(a, b) for a in lists[0] for b in lists[1]]


def rule_of(policy: Policy, name: str) -> dict[str, Any]:
    """The rule that answers decision ``name`` for ``policy``: the first class of its composition that defines
    it (for GUP, also the read-unshare test it asks), as a commit's piece, the rule before 2020, or the
    default no era changed."""
    names = (name, "read_gup_unshares") if name == "gup" else (name,)
    for cls in type(policy).__mro__:
        if cls is Asking or not any(n in vars(cls) for n in names):
            continue
        try:
            piece = piece_of(cls)
        except KeyError:
            piece = None
        if piece is not None:
            return {"policy": policy.name, "commit": piece.key if piece.merged else None, "subject": piece.subject,
                    "changes": piece.changes}
        if cls is Policy:
            break
        doc = (cls.__doc__ or "").strip().splitlines()
        return {"policy": policy.name, "commit": None, "subject": cls.__name__,
                "changes": doc[0].rstrip(".") if doc else ""}
    return {"policy": policy.name, "commit": None, "subject": "Policy",
            "changes": "as before 2020: no commit of this era changes it"}


def _rule_words(rule: dict[str, Any]) -> str:
    if rule["commit"]:
        return f"by {rule['commit']} (\"{rule['subject']}\": {rule['changes']})"
    return f"by {rule['policy']}'s rule ({rule['changes']})"


# -- the adapter -------------------------------------------------------------------------------------------------

class PolicyChoices:
    """``engine.Decisive`` for a COW transition core: its policy's choices at a step, and the step flipped."""

    def __init__(self, core: CowModel) -> None:
        self.core = core
        self._asker: tuple[CowModel, Asking] | None = None

    def _asking_model(self) -> tuple[CowModel, Asking]:
        if self._asker is None:
            from modelcheck.cow.model import CowModel

            core = self.core
            policy = asking(core.policy)
            machine = Machine.for_policy(core.world, core.invariant_names, policy)
            self._asker = CowModel(core.world, policy, core.invariant_names, machine), policy
        return self._asker

    def _take(self, before: tuple, act: Act, flip: int | None) -> tuple[list[Asked], tuple[Act, tuple] | None]:
        model, policy = self._asking_model()
        policy.asked, policy.flip = [], flip
        label = self.core.action_label(act)
        found = next(((a, t) for a, t in model.take(before, self.core.key_of(act))
                      if model.action_label(a) == label), None)
        return policy.asked, found

    def choices(self, before: tuple, act: Act) -> list[Choice]:
        asked, _ = self._take(before, act, None)
        pages = self._pages(before, act, asked)
        found = []
        for n, (question, page) in enumerate(zip(asked, pages)):
            other = other_answer(question.name, question.args, question.answer)
            if other is None:
                continue
            found.append(self._choice(before, act, question, other, page, n))
        return found

    def take_flipped(self, before: tuple, act: Act, which: int) -> tuple[Act, tuple] | None:
        """The ``which``-th choice (as ``choices`` counts them) the other way."""
        asked, _ = self._take(before, act, None)
        real = [n for n, q in enumerate(asked) if other_answer(q.name, q.args, q.answer) is not None]
        _, found = self._take(before, act, real[which])
        return found

    def _choice(self, before: tuple, act: Act, question: Asked, other: Answer, page: int | None,
                n: int) -> Choice:
        core = self.core
        subject, said = QUESTIONS[question.name]
        info = next((a for a in question.args if isinstance(a, PageInfo)), None)
        if info is None:  # a refusal: decided by the request and the VMA, not by the page's counters
            rule = rule_of(core.policy, question.name)
            why = (subject.format(who=act.actor if act.proc >= 0 else "the kernel",
                                  page=page if page is not None else "?")
                   + f" {said[question.answer].past}, " + _rule_words(rule))
            return Choice(kind=question.name, outcome=_answer_name(question.answer),
                          alternative=_answer_name(other), why=why, alternative_words=said[other].gerund,
                          data={"page": page, "question": n, "rule": rule, "read": {}, "references": [],
                                "deciding_counters": {}, "other_way_at": {}})
        at = question.args.index(info)
        method = getattr(core.policy, question.name)

        def ask(changed: PageInfo) -> Answer:
            return method(*question.args[:at], changed, *question.args[at + 1:])

        now, then = deciding_counters(ask, info)
        read = {f.name: getattr(info, f.name) for f in fields(PageInfo)
                if (f.name != "ksm" or info.ksm)
                and (f.name not in ("large", "pincount", "large_mapcount", "maybe_shared", "entire_mapcount",
                                    "nr_pages") or info.large)
                and (f.name != "holds_owner_slot" or not info.holds_owner_slot)}  # (said only where it is not)
        references = core.words.references(before, page) if page is not None else []
        held = [words for words, _ in references]
        counters = f"mapcount {info.mapcount}, refcount {info.refcount}"
        if held and sum(weight for _, weight in references) == info.refcount:
            counters += ": " + ", ".join(held)
        extra = [_counter_words(name, value) for name, value in read.items()
                 if name not in ("mapcount", "refcount", "anon") and value and name not in now]
        why = (subject.format(who=act.actor if act.proc >= 0 else "the kernel",
                              page=page if page is not None else "?")
               + f" {said[question.answer].past} ({counters}" + "".join(f"; {e}" for e in extra) + ")")
        if now:
            instead = ask(replace(info, **then))  # what the policy does with those counters (not always ``other``)
            why += (" because of " + " and ".join(_counter_words(k, v) for k, v in now.items())
                    + " (with " + " and ".join(_counter_words(k, v) for k, v in then.items())
                    + f" it would have {said.get(instead, said[other]).participle})")
        rule = rule_of(core.policy, question.name)
        why += ", " + _rule_words(rule)
        data = {"page": page, "question": n, "rule": rule, "read": read,
                "references": held, "deciding_counters": now, "other_way_at": then}
        return Choice(kind=question.name, outcome=_answer_name(question.answer), alternative=_answer_name(other),
                      why=why, alternative_words=said[other].gerund, data=data)

    def _pages(self, before: tuple, act: Act, asked: Sequence[Asked]) -> list[int | None]:
        """The page each question was about. The mechanisms ask in a fixed order: fork and clear_refs once per
        page they visit (addresses in order), an event on a page about it, an operation about its address."""
        L = self.core.layout
        if act.page >= 0:
            return [act.page] * len(asked)
        if act.kind in ("fork", "clear_refs"):
            proc = 0 if act.kind == "fork" else act.proc
            visited = []
            for a in range(L.addresses):
                pte = before[L.pte_index(proc, a)]
                if not pte or pte & PTE_SWAP:
                    continue
                if act.kind == "fork" and L.features.vma and before[L.vma_base + a] & VMA_DONTFORK:
                    continue
                visited.append(pte_page(pte))
            return [visited[n] if n < len(visited) else None for n in range(len(asked))]
        if act.proc >= 0 and act.addr >= 0:
            pte = before[L.pte_index(act.proc, act.addr)]
            return [pte_page(pte) if pte else None] * len(asked)
        return [None] * len(asked)


def _answer_name(answer: Answer) -> str:
    if isinstance(answer, Enum):
        return str(answer.value)
    return "yes" if answer else "no"
