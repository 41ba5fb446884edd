"""The product's settings, unchanged, with the bare view's route added (see benchmarks/bare_django.py)."""

from config.settings import *  # noqa: F403

ROOT_URLCONF = "benchmarks.bare_django"
