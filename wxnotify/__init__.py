"""wxnotify: the Django apps, one per domain (accounts, callbacks, followers, console, ...)."""
