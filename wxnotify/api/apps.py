from django.apps import AppConfig


class ApiConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "wxnotify.api"
    verbose_name = "API"

    def ready(self) -> None:
        from wxnotify.api import webhooks
        from wxnotify.campaigns import lifecycle

        # A send's end (finished, halted, paused by the quota) becomes a webhook event in the same transaction.
        lifecycle.moved.connect(webhooks.on_move, dispatch_uid="api-webhooks")
