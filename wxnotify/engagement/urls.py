from django.urls import path

from wxnotify.engagement import views

app_name = "engagement"
urlpatterns = [
    path("welcome/", views.welcome_list, name="welcome_list"),
    path("welcome/new/", views.welcome_edit, name="welcome_new"),
    path("welcome/<int:pk>/", views.welcome_edit, name="welcome_edit"),
    path("welcome/<int:pk>/delete", views.welcome_delete, name="welcome_delete"),
    path("welcome/<int:pk>/test", views.welcome_test, name="welcome_test"),
    path("replies/", views.rule_list, name="rules"),
    path("replies/new/", views.rule_edit, name="rule_new"),
    path("replies/<int:pk>/", views.rule_edit, name="rule_edit"),
    path("replies/<int:pk>/delete", views.rule_delete, name="rule_delete"),
    path("menu/", views.menu, name="menu"),
    path("menu/versions/", views.menu_versions, name="menu_versions"),
]
