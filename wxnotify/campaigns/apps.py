from django.apps import AppConfig


class CampaignsConfig(AppConfig):
    name = "wxnotify.campaigns"
    label = "campaigns"
    verbose_name = "Campaigns"

    def ready(self) -> None:
        from wxnotify.campaigns import handlers  # noqa: F401  (registers the callback handlers)
