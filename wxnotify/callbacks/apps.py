from django.apps import AppConfig


class CallbacksConfig(AppConfig):
    name = "wxnotify.callbacks"
    label = "callbacks"
    verbose_name = "WeChat callbacks"
