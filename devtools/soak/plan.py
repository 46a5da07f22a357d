"""The simulated calendar: intervals with their traffic, the drift episodes and the fault plan.

Pure functions of the soak's size, so a plan can be read (and tested) without Airflow.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from include.runtime.local.model_server_faults import GREEN_TARGET

CALENDAR_START = datetime(2026, 3, 1, tzinfo=UTC)

# Faults, each applied at one set point of the calendar.
SCHEDULER_KILL = "kill -9 of the scheduler mid-run, then restart"
BACKFILL_OVER_DRIFT = "backfill over a drifted day overlapping scheduled runs"
NO_NEW_DATA = "a day with no new data"
CORRUPT_CAPTURE = "a corrupt capture file"
RELABEL = "a review label for a photo already relabelled"
ENDPOINT_ERRORS = "endpoint 5xx bursts and throttling during inference"
WORKER_KILL = "kill -9 of a task's worker process mid-run"
TRAINING_JOB_KILL = "kill -9 of a training job mid-run"
ROLLBACK_DURING_DRIFT = "a blue/green deployment rolled back by its alarm during a drift episode"
FAULTS = (SCHEDULER_KILL, BACKFILL_OVER_DRIFT, NO_NEW_DATA, CORRUPT_CAPTURE, RELABEL, ENDPOINT_ERRORS, WORKER_KILL,
          TRAINING_JOB_KILL, ROLLBACK_DURING_DRIFT)
DAY_ZERO_FAULTS = (TRAINING_JOB_KILL,)
"""Faults of day zero (the first ingest, training and deployment), before the calendar's first interval."""
ENDPOINT_ERROR_BURST = ({"status": 500, "code": "InternalFailure"}, {"status": 503, "code": "ServiceUnavailable"},
                        {"status": 400, "code": "ThrottlingException"}) * 8
"""What the model server answers instead of the model during the burst: 5xx and throttling, interleaved."""
NEW_MODEL_ERROR = {"status": 500, "code": "ModelError", "target": GREEN_TARGET,
                   "message": "the retrained model fails on this photo (planned by the soak)"}
"""What the retrained (green) model answers during its bake: a server error, which trips the rollback alarm."""


@dataclass(frozen=True)
class DriftEpisode:
    drift: str
    first_day: int
    last_day: int

    def covers(self, day: int) -> bool:
        return self.first_day <= day <= self.last_day


@dataclass(frozen=True)
class Interval:
    """One data interval of the calendar: ``[start, end)``, its photos, their drift and its faults."""

    day: int
    index: int
    start: datetime
    end: datetime
    photos: int
    drift: str | None
    faults: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        hours = "" if self.end - self.start == timedelta(days=1) else f" {self.start:%H}:00-{self.end:%H}:00"
        return f"day {self.day + 1}{hours}"


EPISODES_APART_COOLDOWN_HOURS = 0.15
"""The wall-clock cooldown of a soak with several drift episodes: 9 minutes, longer than one two-day episode
takes to play (about 3 minutes here) and shorter than the fortnight between episodes (about 16): a day's
cooldown would span the whole run, and the second episode could only alert."""


@dataclass(frozen=True)
class SoakPlan:
    """How long, how busy, and where the drift episodes and faults fall.

    ``interval_hours`` compresses the hourly schedule: each run covers that many hours. Photos follow a
    daily rhythm (fewer at night, most at midday) around ``base_photos``; one interval gets
    ``busy_photos``. Day 1 is always normal traffic (the model's first day in service).
    """

    days: int = 3
    interval_hours: int = 12
    base_photos: int = 40
    busy_photos: int = 400
    seed: int = 14
    cooldown_hours: float | None = None
    """``monitor.retrain_cooldown_hours``, in wall-clock time (capture is written on the wall clock): by default
    a day for one episode, :data:`EPISODES_APART_COOLDOWN_HOURS` when there are several."""
    episodes: tuple[DriftEpisode, ...] = field(default=())

    def __post_init__(self) -> None:
        if self.days < 3:
            raise ValueError(f"a soak needs at least 3 simulated days (normal, drifted, after), not {self.days}")
        if 24 % self.interval_hours:
            raise ValueError(f"interval_hours must divide a day (1, 2, 3, 4, 6, 8, 12 or 24), "
                             f"not {self.interval_hours}")
        if not self.episodes:
            object.__setattr__(self, "episodes", default_episodes(self.days))
        if self.cooldown_hours is None:
            cooldown = 24.0 if len(self.episodes) == 1 else EPISODES_APART_COOLDOWN_HOURS
            object.__setattr__(self, "cooldown_hours", cooldown)

    @property
    def intervals_per_day(self) -> int:
        return 24 // self.interval_hours

    @property
    def schedule(self) -> str:
        """The cron schedule the inference and monitor DAGs get for this soak (DAG code unchanged)."""
        return "0 0 * * *" if self.interval_hours == 24 else f"0 */{self.interval_hours} * * *"

    def no_data_day(self) -> int:
        """The day with neither photos nor labels: the last day of a short soak, else one after the first episode."""
        return self.days - 1 if self.days < 5 else self.episodes[0].last_day + 2

    def backfill_day(self) -> int:
        """The day whose runs a backfill over the first episode's first day overlaps."""
        return self.episodes[0].last_day + 1

    def drift_on(self, day: int) -> str | None:
        return next((e.drift for e in self.episodes if e.covers(day)), None)

    def photos_in(self, day: int, index: int) -> int:
        if day == self.no_data_day():
            return 0
        if (day, index) == (0, self.intervals_per_day // 2):
            return self.busy_photos
        midday = (index + 0.5) * self.interval_hours
        rhythm = 0.4 + 0.6 * max(0.0, 1 - abs(midday - 13) / 11)  # 0.4 at night, 1.0 around 13:00
        return max(1, round(self.base_photos * rhythm))

    def faults_at(self, day: int, index: int) -> tuple[str, ...]:
        first = self.episodes[0]
        last_index = self.intervals_per_day - 1
        faults = []
        if (day, index) == (0, last_index):
            faults.append(CORRUPT_CAPTURE)
        if (day, index) == (0, self.intervals_per_day // 2):
            faults.append(ENDPOINT_ERRORS)   # the busy interval: the most photos in flight
        if (day, index) == (first.first_day, last_index):
            faults.append(WORKER_KILL)       # the drifted interval's monitor run, the one that retrains
            faults.append(ROLLBACK_DURING_DRIFT)   # the model trained after it (and the day's ingest) rolls back
        if (day, index) == (first.first_day, 0):
            faults.append(SCHEDULER_KILL)
        if (day, index) == (first.first_day, last_index):
            faults.append(RELABEL)
        if (day, index) == (self.backfill_day(), 0):
            faults.append(BACKFILL_OVER_DRIFT)
        if day == self.no_data_day() and index == 0:
            faults.append(NO_NEW_DATA)
        return tuple(faults)

    def day_start(self, day: int) -> datetime:
        return CALENDAR_START + timedelta(days=day)

    def intervals(self, day: int) -> list[Interval]:
        step = timedelta(hours=self.interval_hours)
        return [Interval(day, index, self.day_start(day) + index * step, self.day_start(day) + (index + 1) * step,
                         self.photos_in(day, index), self.drift_on(day) if self.photos_in(day, index) else None,
                         self.faults_at(day, index))
                for index in range(self.intervals_per_day)]


def default_episodes(days: int) -> tuple[DriftEpisode, ...]:
    """Night lighting on day 2 of a short soak; over a month, a night episode and a new-background one."""
    if days < 10:
        return (DriftEpisode("night", 1, 1),)
    return (DriftEpisode("night", 5, 6), DriftEpisode("new_background", days * 2 // 3, days * 2 // 3 + 1))
