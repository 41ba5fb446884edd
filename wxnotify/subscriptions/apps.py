from django.apps import AppConfig


class SubscriptionsConfig(AppConfig):
    name = "wxnotify.subscriptions"
    label = "subscriptions"
    verbose_name = "Subscriptions"

    def ready(self) -> None:
        from wxnotify.subscriptions import handlers  # noqa: F401  (registers the callback handlers)
