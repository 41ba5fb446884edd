from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "wxnotify.accounts"
    label = "accounts"
    verbose_name = "Official accounts"
