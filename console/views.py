"""The console's one page; everything else it does goes through the API with the client module."""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext_lazy as _

# What the console's scripts show people, by key (console/static/console/strings.js), in the
# language LocaleMiddleware chose; the page carries it as a JSON data block.
STRINGS = {
    "console_failed": _("The console failed: %(reason)s"),
    "copy": _("Copy"),
    "copied": _("Copied"),
    "copy_label": _("Copy correlation ID %(id)s"),
    "correlation_id": _("Correlation ID: %(id)s"),
    "correlation_selected": _("Correlation ID selected: press Control+C to copy it."),
    "correlation_copied": _("Correlation ID copied."),
    "try_again_in": _("Try again in %(seconds)s s."),
    "try_again_now": _("You can try again now."),
    "retrying_in": _("Retrying in %(seconds)s s."),
    "retrying_now": _("Retrying now…"),
    "session_ended": _("Your session has ended; sign in again."),
    "signed_in_as": _("Signed in as %(username)s."),
    "not_revoked": _(
        "Signed out here, but the token could not be revoked: it works until it expires."
    ),
    "signed_out": _("Signed out."),
    "event_created": _("Created %(name)s"),
    "event_updated": _("Updated %(name)s"),
    "event_deleted": _("Deleted %(name)s"),
    "state_connecting": _("Connecting…"),
    "state_open": _("Connected"),
    "state_closed": _("Disconnected"),
    "connect": _("Connect"),
    "disconnect": _("Disconnect"),
    "live_lead": _("Live events:"),
    "reconnected": _("Reconnected; missed events, if any, were replayed."),
    "connection_lost": _("Connection lost; reconnecting."),
    "events_missed": _("Some events were missed; the list was reloaded."),
    "events_missed_notice": _("Some live events were missed."),
    "list_failed": _("The list could not be loaded."),
    "created_notice": _("Created workspace %(name)s."),
    "create_retrying": _("%(name)s is not created yet: the service will be asked again."),
    "rename_label": _("Rename %(name)s"),
    "delete_label": _("Delete %(name)s"),
    "count_some": _("(the first %(shown)s of %(total)s)"),
    "renamed_notice": _("Renamed to %(name)s."),
    "confirm_delete": _("Delete %(name)s?"),
    "deleted_notice": _("Deleted workspace %(name)s."),
    "deleted_elsewhere": _("%(name)s no longer exists: it was deleted elsewhere."),
    "changed_elsewhere": _("This workspace was changed elsewhere."),
    "reload": _("Reload"),
    "overwrite": _("Overwrite"),
    "delete_anyway": _("Delete anyway"),
    "reloaded_notice": _("Reloaded %(name)s: its current values are shown."),
}


def index(request: HttpRequest) -> HttpResponse:
    """The console: HTML in the request's language that loads the console's module script and
    style sheet, with the words its scripts show."""
    return render(request, "console/index.html", {"strings": STRINGS})
