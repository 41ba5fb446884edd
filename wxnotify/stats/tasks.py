from huey import crontab
from huey.contrib.djhuey import db_periodic_task

from wxnotify.stats import services


@db_periodic_task(crontab(minute="*"))
def refresh_rollups() -> dict[str, int]:
    """The statistics pages lag the events by at most a minute (each cursor row serialises the refreshes)."""
    return services.refresh()
