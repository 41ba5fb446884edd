from django.apps import AppConfig


class ConsoleConfig(AppConfig):
    name = "wxnotify.console"
    label = "console"
    verbose_name = "Console"
