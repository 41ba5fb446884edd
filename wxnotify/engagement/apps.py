from django.apps import AppConfig


class EngagementConfig(AppConfig):
    name = "wxnotify.engagement"
    label = "engagement"
    verbose_name = "Engagement"

    def ready(self) -> None:
        from wxnotify.engagement import handlers  # noqa: F401  (registers the callback handlers)
