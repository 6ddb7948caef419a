from django.urls import path

from .views import index

app_name = "console"

urlpatterns = [
    path("", index, name="index"),
]
