"""Hypothesis settings for the property tests.

With CI set, examples are derandomized (the same cases on every run, so a red
CI run is reproducible and not flaky) and nothing is written to a database.
Locally the search is random, so new runs explore new cases.  No deadline:
the machine is shared and a slow example is not a bug.  The profiles are
applied per test (``prop_settings``) instead of loaded globally, so other
test modules keep their own settings.

FASTLOSS_PROP_SCALE (default 1) multiplies every max_examples, for a longer
local hunt (e.g. FASTLOSS_PROP_SCALE=20).
"""
import os

from hypothesis import HealthCheck, Phase, settings

# No shrinking by default: every example is a seed plus a few sizes, so a
# shrunk example is hardly simpler, and shrinking a dozen failing tests would
# blow the time budget.  FASTLOSS_PROP_SHRINK=1 turns it back on.
_PHASES = [Phase.explicit, Phase.reuse, Phase.generate]
if os.environ.get("FASTLOSS_PROP_SHRINK"):
    _PHASES.append(Phase.shrink)

_COMMON = dict(
    deadline=None,
    phases=_PHASES,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                           HealthCheck.filter_too_much],
)

settings.register_profile("fastloss-ci", derandomize=True, database=None, **_COMMON)
settings.register_profile("fastloss-dev", **_COMMON)

PROFILE = "fastloss-ci" if os.environ.get("CI") else "fastloss-dev"
SCALE = max(1, int(os.environ.get("FASTLOSS_PROP_SCALE", "1")))


def prop_settings(max_examples):
    return settings(settings.get_profile(PROFILE), max_examples=max_examples * SCALE)
