from django.apps import AppConfig


class CampaignsConfig(AppConfig):
    name = "wxnotify.campaigns"
    label = "campaigns"
    verbose_name = "Campaigns"
