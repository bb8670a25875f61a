"""The summary figures of a list of durations, one definition for every table, chart and export.

Median: the middle value, or the mean of the two middle ones. p90: the nearest-rank 90th percentile,
the smallest value with at least 90 % of the values at or below it (so it is always a real run)."""
import math
import statistics


def median(values):
    return statistics.median(values) if values else None


def p90(values):
    if not values:
        return None
    ordered = sorted(values)
    return ordered[math.ceil(0.9 * len(ordered)) - 1]


def summary(values):
    """{"median", "p90"} in seconds, None where there is no data."""
    return {"median": median(values), "p90": p90(values)}
