"""A user's API tokens are revoked when their password changes, however it is changed.

`set_password()` + `save()`, `manage.py changepassword`, the admin's and Django's password
forms, `set_unusable_password()`, a hash assigned directly: each saves a new password hash,
which `pre_save` notices by comparing it with the stored one; `post_save` then deletes the
tokens, in the same transaction as the save when there is one. A queryset `update()` sends no
signals and is not noticed.

One new hash is no new password: the rehash Django does when a login finds the stored hash
outdated (another preferred hasher, more iterations after an upgrade). Written against Django
5.2, where `AbstractBaseUser.check_password()` does that rehash through `set_password()` and
then clears `_password` ("Password hash upgrades shouldn't be considered password changes"),
while `set_password()` leaves the new raw password there: so a new hash with `_password`
cleared, replacing a hash Django would upgrade by one of the preferred hasher, is that rehash.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth.hashers import get_hasher, identify_hasher, is_password_usable
from django.db.models.signals import post_save, pre_save
from django.dispatch import receiver

from .tokens import revoke_tokens_of

_CHANGED = "_accounts_password_changed"


@receiver(pre_save, sender=settings.AUTH_USER_MODEL, dispatch_uid="accounts.password_changing")
def note_password_change(
    sender: Any, instance: Any, raw: bool, update_fields: Any, **kwargs: Any
) -> None:
    """Mark `instance` when this save stores a new password (see the module docstring)."""
    if raw or instance._state.adding or instance.pk is None:
        return
    if update_fields is not None and "password" not in update_fields:
        return  # e.g. the last_login update of every login: no query for those
    stored = (
        sender._default_manager.filter(pk=instance.pk).values_list("password", flat=True).first()
    )
    if stored is None or stored == instance.password or _is_rehash(instance, stored):
        return
    setattr(instance, _CHANGED, True)


@receiver(post_save, sender=settings.AUTH_USER_MODEL, dispatch_uid="accounts.password_changed")
def revoke_tokens_on_password_change(sender: Any, instance: Any, **kwargs: Any) -> None:
    """Delete every token of a user whose password this save changed."""
    if instance.__dict__.pop(_CHANGED, False):
        revoke_tokens_of(instance)


def _is_rehash(instance: Any, stored: str) -> bool:
    if getattr(instance, "_password", None) is not None:
        return False  # set_password() was called: a new password
    if not (is_password_usable(stored) and is_password_usable(instance.password)):
        return False
    preferred = get_hasher("default")
    try:
        old, new = identify_hasher(stored), identify_hasher(instance.password)
    except ValueError:
        return False
    outdated = old.algorithm != preferred.algorithm or preferred.must_update(stored)
    return outdated and new.algorithm == preferred.algorithm
