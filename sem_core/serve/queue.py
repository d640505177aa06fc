"""The attack service's queue: bounded, fair between sessions, and the idle schedule on which memory is given back.

The next batch leads with the job of the session served least recently and fills up with compatible jobs of every
session, one image per session in turn; compatible jobs that arrive while a joinable batch runs may join it only
while nothing of another kind waits. The service's worker thread takes batches from here (``next_work``)."""
from __future__ import annotations

import threading
import time
from collections import deque

from ..errors import SemError
from .jobs import JobHandle, ServiceError
from .memory import TRIM_AFTER_S, TRIM_EVERY_S


class QueueFullError(ServiceError):
    """Too many jobs wait already; try again in a moment."""


class JobCancelled(ServiceError):
    """The job was cancelled before it finished."""


class Stopped(Exception):
    """The queue was closed (the service is shutting down)."""


class JobQueue:
    """Waiting and running jobs, guarded by one condition variable (``cond``).

    Args:
        max_batch: images per batch (a smaller limit per compatibility class after an out-of-memory: ``batch_limit``).
        max_queued / max_per_session: bounds on waiting jobs (all sessions / one session).
    """

    def __init__(self, max_batch: int, max_queued: int, max_per_session: int):
        self.max_batch, self.max_queued, self.max_per_session = max_batch, max_queued, max_per_session
        self.cond = threading.Condition()
        self._queue: list[JobHandle] = []         # jobs with images not yet taken, in submission order
        self.running: list[JobHandle] = []        # jobs in the batch now running
        self._served: dict[str, int] = {}         # session -> batch counter when last served
        self._batch_no = 0
        self.batch_limit: dict[tuple, int] = {}   # compat -> images per call after an OOM
        self.stopped = False
        self._last_activity, self._trim_stage = time.monotonic(), len(TRIM_AFTER_S)   # nothing to give back yet
        self._last_trim = time.monotonic()
        self.sessions: set[str] = set()           # sessions open (register_session), until release_session

    def __len__(self) -> int:
        return len(self._queue)

    def jobs_of_session(self, session: str) -> list[JobHandle]:
        """The waiting and running jobs of ``session``."""
        with self.cond:
            return [j for j in self._queue + self.running if j.session == session]

    def forget(self, session: str) -> None:
        """``session`` ended: no fairness record, no memory schedule for it."""
        with self.cond:
            self._served.pop(session, None)
            self.sessions.discard(session)
            self.touch()

    def close(self) -> list[JobHandle]:
        """Stop taking work; returns the jobs still waiting (the caller cancels them)."""
        with self.cond:
            self.stopped = True
            self.cond.notify_all()
            return list(self._queue)

    def admit(self, handle: JobHandle) -> None:
        """Queue ``handle`` (the caller holds ``cond``), or a ``QueueFullError`` / a stopped-service error."""
        if self.stopped:
            raise ServiceError("the attack service has stopped")
        mine = sum(1 for j in self._queue if j.session == handle.session)
        if mine >= self.max_per_session:
            raise QueueFullError(f"You already have {mine} jobs waiting (the limit is {self.max_per_session}); "
                                 "wait for them or cancel one.")
        if len(self._queue) >= self.max_queued:
            raise QueueFullError(f"The server is busy: {len(self._queue)} jobs are waiting (the limit is "
                                 f"{self.max_queued}). Please try again in a few seconds.")
        self._queue.append(handle)
        self._served.setdefault(handle.session, -1)
        self.touch()

    def cancel(self, job: JobHandle) -> None:
        """Stop ``job``: it leaves the queue; a running batch stops when no other job needs it."""
        with self.cond:
            if job.done():
                return
            if job in self._queue:
                self._queue.remove(job)
            job.pending.clear()
            job.finish(error=JobCancelled("The job was cancelled."), state="cancelled")
            self.cond.notify_all()

    def fail(self, job: JobHandle, error: SemError) -> None:
        """Finish ``job`` with ``error``; its images still waiting leave the queue."""
        with self.cond:
            if job in self._queue:
                self._queue.remove(job)
            job.pending.clear()
            job.finish(error=error)

    def position(self, job: JobHandle) -> int:
        """1 + the jobs ahead of ``job`` in the queue (0 once it runs or is finished)."""
        with self.cond:
            if job not in self._queue or job in self.running:
                return 0
            return 1 + (1 if self.running else 0) + self._queue.index(job)

    def take_batch(self, room: int | None = None, exclude: frozenset[str] = frozenset(),
                   lead_session: str | None = None) -> list[tuple[JobHandle, int]]:
        """Images for the next call: the least recently served session's oldest job leads (``lead_session``'s, if
        given); compatible jobs of every session fill the batch, one image per session in turn, up to ``room``
        images if given; sessions in ``exclude`` are left out (the caller holds the lock and knows such a job waits)."""
        lead = min((j for j in self._queue if j.session not in exclude and j.pending
                    and (lead_session is None or j.session == lead_session)),
                   key=lambda j: (self._served.get(j.session, -1), j.id))
        limit = self.batch_limit.get(lead.compat, self.max_batch)
        limit = limit if room is None else min(limit, room)
        by_session: dict[str, deque[JobHandle]] = {}
        for j in self._queue:
            if j.compat == lead.compat and j.pending and j.session not in exclude:
                by_session.setdefault(j.session, deque()).append(j)
        order = [lead.session] + sorted((s for s in by_session if s != lead.session), key=lambda s: self._served.get(s, -1))
        taken: list[tuple[JobHandle, int]] = []
        while len(taken) < limit and any(by_session.values()):
            for s in order:
                jobs = by_session[s]
                if jobs and len(taken) < limit:
                    taken.append((jobs[0], jobs[0].pending.popleft()))
                    if not jobs[0].pending:
                        jobs.popleft()
        self._batch_no += 1
        for j in jobs_of(taken):
            self._served[j.session] = self._batch_no
            if not j.pending:
                self._queue.remove(j)
            j.state, j.started = "running", j.started or time.monotonic()
            j.running += sum(1 for jj, _ in taken if jj is j)
            if j not in self.running:  # a job that joins a running batch with more of its images is there already
                self.running.append(j)
        return taken

    def touch(self) -> None:
        """Something happened (a job, a session's end): give memory back on the idle schedule (caller holds the lock)."""
        self._last_activity, self._trim_stage = time.monotonic(), 0
        self.cond.notify_all()

    def next_trim(self) -> float | None:
        """When to give memory back next: on the schedule after the last activity, then every ``TRIM_EVERY_S``
        while sessions are open (a closed session's objects are often cycles only a collection frees)."""
        if self._trim_stage < len(TRIM_AFTER_S):
            return self._last_activity + TRIM_AFTER_S[self._trim_stage]
        return self._last_trim + TRIM_EVERY_S if self.sessions else None

    def next_work(self) -> tuple[list | None, bool]:
        """(the next batch or None, whether to give memory back now); waits while there is nothing to do."""
        with self.cond:
            if not self._queue and not self.stopped:
                at = self.next_trim()
                self.cond.wait(timeout=None if at is None else max(0.0, at - time.monotonic()))
            if self.stopped:
                raise Stopped
            batch = self.take_batch() if self._queue else None
            at = self.next_trim()
            trim = batch is None and at is not None and time.monotonic() >= at
            if batch is not None:
                self.touch()
            elif trim:
                self._trim_stage = min(self._trim_stage + 1, len(TRIM_AFTER_S))
                self._last_trim = time.monotonic()
            return batch, trim

    def batch_ended(self, batch: list[tuple[JobHandle, int]]) -> None:
        """The worker finished ``batch``: its jobs leave the running list (finished when every row is in)."""
        with self.cond:
            for j in jobs_of(batch):
                j.running = 0
                if j in self.running:
                    self.running.remove(j)
                if not j.pending and not j.done() and all(p is not None for p in j.parts):
                    j.finish()
            self.touch()

    def waiting_sessions(self, exclude: frozenset[str]) -> list[str]:
        """The sessions outside ``exclude`` with images waiting, least recently served first."""
        with self.cond:
            sessions = {j.session for j in self._queue if j.pending and j.session not in exclude}
            return sorted(sessions, key=lambda s: self._served.get(s, -1))

    def take_for(self, session: str, exclude: frozenset[str]) -> list[tuple[JobHandle, int]]:
        """The next batch led by ``session``'s oldest waiting job (compatible images of every session outside
        ``exclude`` fill it), or [] when it has none waiting: a turn for ``session`` in a running job's pause."""
        with self.cond:
            if self.stopped or not any(j.session == session and j.pending for j in self._queue):
                return []
            batch = self.take_batch(exclude=exclude, lead_session=session)
            self.touch()
            return batch

    def take_joiners(self, compat: tuple, room: int) -> list[tuple[JobHandle, int]]:
        """Images of waiting jobs that may join the running batch of ``compat`` now: only when every waiting job
        is compatible with it (a job of another kind must not wait longer because this batch keeps growing)."""
        with self.cond:
            waiting = [j for j in self._queue if j.pending]
            if room <= 0 or self.stopped or not waiting or any(j.compat != compat for j in waiting):
                return []
            return self.take_batch(room)


def jobs_of(items: list[tuple[JobHandle, int]]) -> list[JobHandle]:
    """The distinct jobs of a batch's (job, image index) items, in order."""
    return list({id(j): j for j, _ in items}.values())
