"""The console's one page; everything else it does goes through the API with the client module."""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render


def index(request: HttpRequest) -> HttpResponse:
    return render(request, "console/index.html")
