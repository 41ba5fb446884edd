from django.urls import path

from wxnotify.subscriptions import public_views as views

app_name = "subscribe"
urlpatterns = [
    path("<str:code>/", views.subscribe_page, name="page"),
    path("<str:code>/oauth", views.oauth_return, name="oauth"),
    path("<str:code>/status", views.subscription_status, name="status"),
    path("<str:code>/confirm", views.confirm_start, name="confirm"),
    path("<str:code>/confirmed", views.confirm_return, name="confirmed"),
]
