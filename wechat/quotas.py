"""WeChat's API quotas are counted per day of Beijing time (docs/wechat-protocol.md §11): a send stopped by the daily
quota (45009) may go on after midnight in Beijing, whatever time zone the console shows."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

BEIJING = ZoneInfo("Asia/Shanghai")


def day_start(moment: datetime) -> datetime:
    """Midnight (Beijing time) that began WeChat's quota day `moment` falls in; `moment` must be aware."""
    local = moment.astimezone(BEIJING)
    return local.replace(hour=0, minute=0, second=0, microsecond=0)
