"""Queued engagement work: the second message of a welcome, sent by a worker right after the follow."""

from __future__ import annotations

from huey.contrib.djhuey import db_task

from wxnotify.engagement import services


@db_task()
def send_second_message(message_id: int) -> str:
    return str(services.send_second_message(message_id=message_id).state)
