"""Cron schedules as the CronJob controller reads them: ``cron.ParseStandard`` and
``Schedule.Next`` of github.com/robfig/cron/v3, the library kube-controller-manager uses.

What it is: ``parse_schedule(text)`` parses the standard five fields (minute, hour, day of
month, month, day of week) with ``*``/``?``, ranges ``a-b``, steps ``*/n``, ``a/n`` (``a`` to
the field's maximum) and ``a-b/n``, comma lists, month names (``jan``…``dec``) and day names
(``sun``…``sat``, Sunday = 0; 7 is out of range, as in robfig), case-insensitive; the
descriptors ``@yearly``/``@annually``, ``@monthly``, ``@weekly``, ``@daily``/``@midnight``,
``@hourly`` and ``@every <Go duration>``; and a ``TZ=<zone>``/``CRON_TZ=<zone>`` prefix (how
the controller passes ``spec.timeZone``). Errors are ``ScheduleError`` with robfig's message.
``next_time(schedule, after)`` is ``Next``: the first instant strictly after ``after`` whose
wall-clock fields in the schedule's zone (UTC when none: kube-controller-manager's own zone
in a container) match — so a time skipped by a DST change never fires and a repeated one
fires twice, as robfig does — or None when nothing matches within five years
("59 23 31 2 *"). Day of month and day of week combine as in robfig: when either field is
``*``/``?`` both must match, else either may.

Concurrency model: none; pure functions over floats (seconds since the epoch).

Invariants: the search never skips a matching minute: it jumps over whole non-matching
months, days and hours in local time, and when a jump would cross a change of UTC offset it
stops at the change (found by bisection) and looks again from there.
"""

from __future__ import annotations

import calendar
import datetime
import math
import re
import zoneinfo
from dataclasses import dataclass

__all__ = ["CronSchedule", "ScheduleError", "load_zone", "next_time", "parse_schedule"]

_UTC = datetime.UTC
_MONTHS = {n: i for i, n in enumerate(
    ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), start=1)}
_DAYS = {n: i for i, n in enumerate(("sun", "mon", "tue", "wed", "thu", "fri", "sat"))}
# (min, max, names) per field, in robfig's order for the standard parser.
_FIELDS = ((0, 59, None), (0, 23, None), (1, 31, None), (1, 12, _MONTHS), (0, 6, _DAYS))
_DESCRIPTORS = {"@yearly": "0 0 1 1 *", "@annually": "0 0 1 1 *", "@monthly": "0 0 1 * *",
                "@weekly": "0 0 * * 0", "@daily": "0 0 * * *", "@midnight": "0 0 * * *",
                "@hourly": "0 * * * *"}
_DURATION = re.compile(r"([0-9]*(?:\.[0-9]*)?)(ns|us|µs|μs|ms|s|m|h)")
_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "μs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0,
          "h": 3600.0}
_YEARS = 5  # robfig gives up five years after the start


class ScheduleError(ValueError):
    """A schedule ``cron.ParseStandard`` refuses; the message is robfig's."""


@dataclass(frozen=True)
class CronSchedule:
    """A parsed schedule: the allowed values of each field (or a constant delay)."""

    minutes: frozenset[int] = frozenset()
    hours: frozenset[int] = frozenset()
    dom: frozenset[int] = frozenset()
    months: frozenset[int] = frozenset()
    dow: frozenset[int] = frozenset()
    dom_star: bool = True
    dow_star: bool = True
    zone: str | None = None  # None: UTC
    every: float | None = None  # @every: seconds between runs

    def day_matches(self, t: datetime.datetime) -> bool:
        dom_ok = t.day in self.dom
        dow_ok = (t.weekday() + 1) % 7 in self.dow
        if self.dom_star or self.dow_star:
            return dom_ok and dow_ok
        return dom_ok or dow_ok

    def matches(self, t: datetime.datetime) -> bool:
        """Whether the local wall-clock minute ``t`` is a scheduled one (seconds ignored)."""
        return (t.minute in self.minutes and t.hour in self.hours and t.month in self.months
                and self.day_matches(t))


def load_zone(name: str) -> datetime.tzinfo:
    """``time.LoadLocation``: "" and "UTC" are UTC; "Local" is the machine's zone (UTC here)."""
    if name in ("", "UTC", "Local"):
        return _UTC
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError) as e:
        raise ScheduleError(f"unknown time zone {name}") from e


def _int(expr: str) -> int:
    if not re.fullmatch(r"[+-]?[0-9]+", expr):
        raise ScheduleError(f'failed to parse int from {expr}: strconv.Atoi: parsing "{expr}": '
                            "invalid syntax")
    n = int(expr)
    if n < 0:
        raise ScheduleError(f"negative number ({n}) not allowed: {expr}")
    return n


def _int_or_name(expr: str, names: dict[str, int] | None) -> int:
    if names is not None and expr.lower() in names:
        return names[expr.lower()]
    return _int(expr)


def _range(expr: str, lo: int, hi: int, names: dict[str, int] | None) -> tuple[set[int], bool]:
    """``getRange``: the values of one comma-separated term and whether it is a star."""
    range_and_step = expr.split("/")
    low_and_high = range_and_step[0].split("-")
    star = False
    if low_and_high[0] in ("*", "?"):
        start, end, star = lo, hi, True
    else:
        start = _int_or_name(low_and_high[0], names)
        if len(low_and_high) == 1:
            end = start
        elif len(low_and_high) == 2:
            end = _int_or_name(low_and_high[1], names)
        else:
            raise ScheduleError(f"too many hyphens: {expr}")
    if len(range_and_step) == 1:
        step = 1
    elif len(range_and_step) == 2:
        step = _int(range_and_step[1])
        if len(low_and_high) == 1:  # "N/step" means "N-max/step"
            end = hi
        if step > 1:
            star = False
    else:
        raise ScheduleError(f"too many slashes: {expr}")
    if start < lo:
        raise ScheduleError(f"beginning of range ({start}) below minimum ({lo}): {expr}")
    if end > hi:
        raise ScheduleError(f"end of range ({end}) above maximum ({hi}): {expr}")
    if start > end:
        raise ScheduleError(f"beginning of range ({start}) beyond end of range ({end}): {expr}")
    if step == 0:
        raise ScheduleError(f"step of range should be a positive number: {expr}")
    return set(range(start, end + 1, step)), star


def _field(text: str, lo: int, hi: int, names: dict[str, int] | None) -> tuple[frozenset[int], bool]:
    values: set[int] = set()
    star = False
    for term in (t for t in text.split(",") if t):
        v, s = _range(term, lo, hi, names)
        values |= v
        star = star or s
    return frozenset(values), star


def _go_duration(text: str) -> float:
    """``time.ParseDuration`` for the forms people write ("1h30m", "90s", "1.5h")."""
    s = text[1:] if text[:1] in "+-" else text
    pos, total = 0, 0.0
    for m in _DURATION.finditer(s):
        if m.start() != pos or m.group(1) in ("", "."):
            break
        total += float(m.group(1)) * _UNITS[m.group(2)]
        pos = m.end()
    if not s or pos != len(s):
        raise ScheduleError(f'failed to parse duration {text}: time: invalid duration "{text}"')
    return -total if text.startswith("-") else total


def parse_schedule(text: str) -> CronSchedule:
    """``cron.ParseStandard(text)`` (see the module docstring)."""
    spec = text
    if not spec:
        raise ScheduleError("empty spec string")
    zone = None
    if spec.startswith(("TZ=", "CRON_TZ=")):
        i, eq = spec.find(" "), spec.find("=")
        zone = spec[eq + 1:i] if i >= 0 else spec[eq + 1:]
        try:
            load_zone(zone)
        except ScheduleError as e:
            raise ScheduleError(f"provided bad location {zone}: {e}") from None
        spec = spec[i:].strip() if i >= 0 else ""
    if spec.startswith("@"):
        if spec.startswith("@every "):
            delay = max(_go_duration(spec[len("@every "):]), 1.0)
            return CronSchedule(every=float(math.floor(delay)), zone=zone)
        if spec not in _DESCRIPTORS:
            raise ScheduleError(f"unrecognized descriptor: {spec}")
        spec = _DESCRIPTORS[spec]
    fields = spec.split()
    if len(fields) != 5:
        raise ScheduleError(f"expected exactly 5 fields, found {len(fields)}: [{' '.join(fields)}]")
    parsed = [_field(f, lo, hi, names) for f, (lo, hi, names) in zip(fields, _FIELDS, strict=True)]
    (mi, _), (h, _), (dom, dom_star), (mo, _), (dow, dow_star) = parsed
    return CronSchedule(minutes=mi, hours=h, dom=dom, months=mo, dow=dow, dom_star=dom_star,
                        dow_star=dow_star, zone=zone)


# -- Next ---------------------------------------------------------------------------------


def _local(t: float, tz: datetime.tzinfo) -> datetime.datetime:
    return datetime.datetime.fromtimestamp(t, tz)


def _offset(t: float, tz: datetime.tzinfo) -> datetime.timedelta | None:
    return _local(t, tz).utcoffset()


def _advance(t: float, minutes: int, tz: datetime.tzinfo) -> float:
    """``t`` plus ``minutes``, or the first minute of a new UTC offset if one comes first."""
    target = t + minutes * 60
    if tz is _UTC:
        return target
    before = _offset(t, tz)
    if _offset(target, tz) == before:
        return target
    lo, hi = t, target  # lo has the old offset, hi the new one
    while hi - lo > 60:
        mid = lo + ((hi - lo) // 120) * 60
        if _offset(mid, tz) == before:
            lo = mid
        else:
            hi = mid
    return hi


def _minutes_to_skip(s: CronSchedule, lt: datetime.datetime) -> int:
    """How many minutes on from ``lt`` the next candidate can be (0: ``lt`` matches)."""
    to_next_hour = 60 - lt.minute
    to_next_day = (23 - lt.hour) * 60 + to_next_hour
    if lt.month not in s.months:
        days = calendar.monthrange(lt.year, lt.month)[1]
        return (days - lt.day) * 1440 + to_next_day
    if not s.day_matches(lt):
        return to_next_day
    if lt.hour not in s.hours:
        return to_next_hour
    if lt.minute not in s.minutes:
        later = [m for m in s.minutes if m > lt.minute]
        return (min(later) - lt.minute) if later else to_next_hour
    return 0


def next_time(s: CronSchedule, after: float) -> float | None:
    """``Schedule.Next(after)`` (see the module docstring)."""
    if s.every is not None:
        return math.floor(after) + s.every
    tz = load_zone(s.zone) if s.zone else _UTC
    t = float((math.floor(after / 60) + 1) * 60)
    limit = _local(t, tz).year + _YEARS
    while True:
        lt = _local(t, tz)
        if lt.year > limit:
            return None
        skip = _minutes_to_skip(s, lt)
        if skip == 0:
            return t
        t = _advance(t, skip, tz)
