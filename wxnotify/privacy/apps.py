from django.apps import AppConfig


class PrivacyConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "wxnotify.privacy"
    verbose_name = "Privacy"
