"""The console's one page; everything else it does goes through the API with the client module."""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render


def index(request: HttpRequest) -> HttpResponse:
    """The console: static HTML that loads the console's module script and style sheet."""
    return render(request, "console/index.html")
