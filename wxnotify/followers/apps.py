from django.apps import AppConfig


class FollowersConfig(AppConfig):
    name = "wxnotify.followers"
    label = "followers"
    verbose_name = "Followers"

    def ready(self) -> None:
        from wxnotify.followers import handlers  # noqa: F401  (registers the callback handlers)
