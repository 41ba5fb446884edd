"""`python -m demo [--port 8000] [--sim-port 8100] [--no-serve]`: Django set up as `manage.py` does, then the demo."""

import os

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
django.setup()

from demo.run import main  # noqa: E402 - the apps must be loaded first

main()
