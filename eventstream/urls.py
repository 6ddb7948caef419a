from django.urls import path

from .views import TicketView

app_name = "eventstream"

urlpatterns = [
    path("tickets/", TicketView.as_view(), name="tickets"),
]
