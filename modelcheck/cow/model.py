"""The COW world bound to one policy: states, actions and what they do.

Every action is atomic (one lock hold of the kernel). States are flat tuples
(see ``layout``); actions are ``Act`` tuples built once per model, so the
search never allocates an action. Page counters are derived on demand.
"""

from __future__ import annotations

from typing import Any, NamedTuple, Sequence

from modelcheck.cow.layout import Layout, pte_make, pte_page, pte_writable
from modelcheck.cow.policies import PageCounts, Policy, WriteFault
from modelcheck.cow.world import CowWorld
from modelcheck.cow import invariants as _invariants


class Act(NamedTuple):
    """An action instance: its kind, the process (-1 for the kernel), the address, the page."""

    kind: str
    proc: int = -1
    addr: int = -1
    page: int = -1


def process_name(proc: int) -> str:
    return "parent" if proc == 0 else f"child{proc}"


class CowModel:
    """The transition system of ``world`` under ``policy`` (implements ``engine.Model``)."""

    def __init__(self, world: CowWorld, policy: Policy, invariant_names: Sequence[str]) -> None:
        self.world = world
        self.policy = policy
        self.layout = L = Layout(world.processes, world.addresses, world.speculative)
        self.invariant_names = tuple(invariant_names)
        self._properties = tuple(_invariants.build(name, self) for name in self.invariant_names)
        P, M, G = L.processes, L.addresses, L.pages
        on = world.actions
        # Per (process, address): the address actions that this world enables, built once.
        self._addr_actions = [[tuple(Act(kind, p, a) for kind in ("write", "read", "munmap")
                                     if kind in on) for a in range(M)] for p in range(P)]
        self._vmsplice_acts = [[Act("vmsplice", p, a) if "vmsplice" in on else None for a in range(M)]
                          for p in range(P)]
        self._pipe_read_acts = [Act("pipe_read", p) if "pipe_read" in on else None for p in range(P)]
        self._fork_act = Act("fork", 0) if "fork" in on and P > 1 else None
        spec_on = L.speculative > 0
        self._spec_get = [Act("spec_get", -1, -1, g) for g in range(G)] if spec_on and "spec_get" in on else None
        self._spec_put = [Act("spec_put", -1, -1, g) for g in range(G)] if spec_on and "spec_put" in on else None
        initial = [0] * L.size
        for a in range(M):
            initial[L.pte_index(0, a)] = pte_make(a, True)
            initial[L.value_base + a] = L.tag(0, 0)
        self._initial = tuple(initial)

    # -- derived counters ---------------------------------------------------------
    def mapcount(self, s: tuple, page: int) -> int:
        """PTEs mapping the page: its read-only and its writable PTE codes, counted."""
        L = self.layout
        ptes = s[L.pte_base:L.pipe_base]
        code = (page + 1) << 1
        return ptes.count(code) + ptes.count(code | 1)

    def refcount(self, s: tuple | list, page: int) -> int:
        """Mappings + pipe buffers + speculative references: every holder of the page."""
        L = self.layout
        ptes = s[L.pte_base:L.pipe_base]
        code = (page + 1) << 1
        count = ptes.count(code) + ptes.count(code | 1) + s[L.pipe_base:L.value_base].count(page + 1)
        if L.speculative:
            count += s[L.spec_base + page]
        return count

    def counts(self, s: tuple, page: int) -> PageCounts:
        return PageCounts(mapcount=self.mapcount(s, page), refcount=self.refcount(s, page))

    def _release(self, t: list, page: int) -> None:
        """A holder of ``page`` let go: free the page when nothing references it any more."""
        if self.refcount(t, page) == 0:
            t[self.layout.value_base + page] = 0

    def _lowest_free(self, s: tuple) -> int:
        L = self.layout
        vb = L.value_base
        for g in range(L.pages):
            if s[vb + g] == 0:
                return g
        raise RuntimeError("no free page slot: the world's page budget is wrong")

    # -- the transitions ------------------------------------------------------------
    def write_decision(self, s: tuple, page: int) -> WriteFault:
        return self.policy.write_fault(self.counts(s, page))

    def _write(self, s: tuple, proc: int, k: int, pte: int) -> tuple:
        L = self.layout
        page = pte_page(pte)
        tag = L.tag(proc, s[0])
        v = L.value_base + page
        if pte & 1:  # writable: the store goes to the page
            if s[v] == tag:
                return s
            t = list(s)
            t[v] = tag
            return tuple(t)
        if self.policy.write_fault(self.counts(s, page)) is WriteFault.REUSE:
            t = list(s)
            t[k] = pte | 1
            t[v] = tag
            return tuple(t)
        new = self._lowest_free(s)
        t = list(s)
        t[L.value_base + new] = tag
        t[k] = pte_make(new, True)
        self._release(t, page)
        return tuple(t)

    def _munmap(self, s: tuple, k: int, pte: int) -> tuple:
        t = list(s)
        t[k] = 0
        self._release(t, pte_page(pte))
        return tuple(t)

    def _vmsplice(self, s: tuple, proc: int, pte: int) -> tuple:
        t = list(s)
        t[self.layout.pipe_base + proc] = pte_page(pte) + 1
        return tuple(t)

    def _pipe_read(self, s: tuple, proc: int) -> tuple:
        L = self.layout
        t = list(s)
        page = t[L.pipe_base + proc] - 1
        t[L.pipe_base + proc] = 0
        self._release(t, page)
        return tuple(t)

    def _do_fork(self, s: tuple) -> tuple:
        """The parent's COW mappings are write-protected and shared with the new child."""
        L = self.layout
        M = L.addresses
        child = s[0] + 1
        t = list(s)
        t[0] = child
        for a in range(M):
            pte = t[1 + a]
            if pte:
                shared = pte & ~1
                t[1 + a] = shared
                t[1 + child * M + a] = shared
        return tuple(t)

    def _spec(self, s: tuple, page: int, delta: int) -> tuple:
        t = list(s)
        t[self.layout.spec_base + page] += delta
        if delta < 0:
            self._release(t, page)
        return tuple(t)

    # -- engine.Model ---------------------------------------------------------------
    def initial_states(self) -> list[tuple]:
        return [self._initial]

    def properties(self):
        return self._properties

    def successors(self, s: tuple) -> list[tuple[Act, tuple]]:
        L = self.layout
        M = L.addresses
        pipe_base = L.pipe_base
        out = []
        nforks = s[0]
        k = 1
        for p in range(nforks + 1):
            pipe_empty = s[pipe_base + p] == 0
            acts_p = self._addr_actions[p]
            for a in range(M):
                pte = s[k]
                if pte:
                    for act in acts_p[a]:
                        kind = act.kind
                        if kind == "write":
                            out.append((act, self._write(s, p, k, pte)))
                        elif kind == "read":
                            out.append((act, s))
                        else:
                            out.append((act, self._munmap(s, k, pte)))
                    if pipe_empty and (vs := self._vmsplice_acts[p][a]) is not None:
                        out.append((vs, self._vmsplice(s, p, pte)))
                k += 1
            if not pipe_empty and (pr := self._pipe_read_acts[p]) is not None:
                out.append((pr, self._pipe_read(s, p)))
        if self._fork_act is not None and nforks < L.processes - 1:
            out.append((self._fork_act, self._do_fork(s)))
        if L.speculative:
            sb, vb = L.spec_base, L.value_base
            specs = s[sb:sb + L.pages]
            if self._spec_get is not None and sum(specs) < L.speculative:
                for g in range(L.pages):
                    if s[vb + g]:
                        out.append((self._spec_get[g], self._spec(s, g, +1)))
            if self._spec_put is not None:
                for g in range(L.pages):
                    if specs[g]:
                        out.append((self._spec_put[g], self._spec(s, g, -1)))
        return out

    # -- observations (what invariants judge) -------------------------------------------
    def observation(self, s: tuple, act: Act) -> tuple[int, int, int] | None:
        """(observer, page, value code) when ``act`` is a read or a pipe read, else None."""
        L = self.layout
        if act.kind == "read":
            page = pte_page(s[L.pte_index(act.proc, act.addr)])
        elif act.kind == "pipe_read":
            page = s[L.pipe_base + act.proc] - 1
        else:
            return None
        return act.proc, page, s[L.value_base + page]

    # -- words for people -------------------------------------------------------------
    def action_actor(self, act: Act) -> str:
        return "kernel" if act.proc < 0 else process_name(act.proc)

    def action_label(self, act: Act) -> str:
        who = self.action_actor(act)
        if act.kind in ("spec_get", "spec_put"):
            return f"{who} {act.kind}(page {act.page})"
        if act.addr >= 0:
            return f"{who} {act.kind}(a{act.addr})"
        return f"{who} {act.kind}()"

    def value_words(self, code: int) -> str:
        writer, n = self.layout.decode_tag(code)
        if writer == 0:
            return f"({writer},{n}) " + ("[initial contents]" if n == 0 else
                                         f"[the parent's write after fork {n}]")
        return f"({writer},{n}) [a write by child{writer}]"

    def describe_transition(self, before: tuple, act: Act, after: tuple) -> list[str]:
        L = self.layout
        lines: list[str] = []
        if act.kind == "write":
            pte = before[L.pte_index(act.proc, act.addr)]
            if not pte_writable(pte):
                page = pte_page(pte)
                c = self.counts(before, page)
                decision = self.write_decision(before, page).value
                lines.append(f"write fault on read-only page {page} (mapcount {c.mapcount}, "
                             f"refcount {c.refcount}): {self.policy.name} decides {decision}")
        seen = self.observation(before, act)
        if seen is not None:
            who, page, code = seen
            lines.append(f"{process_name(who)} observes {self.value_words(code)} on page {page}")
        if after[0] != before[0]:
            lines.append(f"child{after[0]} created (fork {after[0]}); shared PTEs made read-only")
        for p in range(L.processes):
            name = process_name(p)
            for a in range(L.addresses):
                i = L.pte_index(p, a)
                if before[i] != after[i]:
                    lines.append(f"{name} PTE a{a}: {self._pte_words(before[i])} -> {self._pte_words(after[i])}")
            i = L.pipe_base + p
            if before[i] != after[i]:
                lines.append(f"{name} pipe: {self._pipe_words(before[i])} -> {self._pipe_words(after[i])}")
        for g in range(L.pages):
            old, new = self._page_words(before, g), self._page_words(after, g)
            if old != new:
                lines.append(f"page {g}: {old} -> {new}")
        return lines

    @staticmethod
    def _pte_words(pte: int) -> str:
        if not pte:
            return "none"
        return f"page {pte_page(pte)} " + ("writable" if pte_writable(pte) else "read-only")

    @staticmethod
    def _pipe_words(code: int) -> str:
        return "empty" if code == 0 else f"page {code - 1}"

    def _page_words(self, s: tuple, g: int) -> str:
        L = self.layout
        code = s[L.value_base + g]
        if code == 0:
            return "free"
        writer, n = L.decode_tag(code)
        c = self.counts(s, g)
        spec = s[L.spec_base + g] if L.speculative else 0
        text = f"value ({writer},{n}) mapcount {c.mapcount} refcount {c.refcount}"
        return text + (f" spec {spec}" if spec else "")

    def state_to_json(self, s: tuple) -> dict[str, Any]:
        L = self.layout
        processes = {}
        for p in range(s[0] + 1):
            ptes = {}
            for a in range(L.addresses):
                pte = s[L.pte_index(p, a)]
                ptes[f"a{a}"] = {"page": pte_page(pte), "writable": pte_writable(pte)} if pte else None
            pipe = s[L.pipe_base + p]
            processes[process_name(p)] = {"pte": ptes, "pipe": pipe - 1 if pipe else None}
        pages = {}
        for g in range(L.pages):
            code = s[L.value_base + g]
            if code:
                c = self.counts(s, g)
                pages[str(g)] = {"value": list(L.decode_tag(code)), "mapcount": c.mapcount,
                                 "refcount": c.refcount,
                                 "spec": s[L.spec_base + g] if L.speculative else 0}
        return {"nforks": s[0], "processes": processes, "pages": pages}
