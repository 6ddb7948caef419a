from django.urls import path

from .views import TokenView

app_name = "accounts"

urlpatterns = [path("token/", TokenView.as_view(), name="token")]
