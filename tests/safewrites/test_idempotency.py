"""`safewrites.idempotency`: a POST sent with an Idempotency-Key is done once; its first complete
answer is replayed, errors included, except the answers that say "try again"."""

from __future__ import annotations

import json
from datetime import timedelta
from hashlib import sha256
from io import StringIO
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.test import override_settings
from django.utils import timezone
from rest_framework.test import APIClient

from safewrites.models import IdempotencyRecord
from tests.testapp.models import Measurement

pytestmark = pytest.mark.django_db

URL = "/t/idempotent/parents"


@pytest.fixture
def user() -> User:
    return User.objects.create_user("alice")


@pytest.fixture
def api(user: User) -> APIClient:
    client = APIClient(raise_request_exception=False)  # a 5xx is an answer to check here
    client.force_authenticate(user)
    return client


def post(api: APIClient, key: str | None, name: str = "one", **headers: Any) -> Any:
    if key is not None:
        headers["HTTP_IDEMPOTENCY_KEY"] = key
    return api.post(URL, {"name": name}, format="json", **headers)


def error(response: Any) -> dict[str, Any]:
    body = json.loads(response.content)
    assert body["error"]["correlation_id"] == response["X-Correlation-ID"]
    return dict(body["error"])


def test_a_retry_gets_the_first_answer_and_nothing_is_written_twice(api: APIClient) -> None:
    first = post(api, "op-1", HTTP_X_CORRELATION_ID="first")
    again = post(api, "op-1", HTTP_X_CORRELATION_ID="again")
    assert first.status_code == again.status_code == 201
    assert again.content == first.content
    assert again["Content-Type"] == first["Content-Type"]
    assert again["Idempotent-Replayed"] == "true"
    assert not first.has_header("Idempotent-Replayed")
    assert again["X-Correlation-ID"] == "again"  # the new request's, not the first one's
    assert Measurement.objects.count() == 1


def test_without_a_key_each_post_is_done(api: APIClient) -> None:
    assert post(api, None, "a").status_code == 201
    assert post(api, None, "b").status_code == 201
    assert Measurement.objects.count() == 2
    assert not IdempotencyRecord.objects.exists()


def test_a_key_reused_with_another_body_is_422(api: APIClient) -> None:
    assert post(api, "op-2", "one").status_code == 201
    reused = post(api, "op-2", "two")
    assert reused.status_code == 422
    assert error(reused)["code"] == "idempotency_key_reused"
    assert list(Measurement.objects.values_list("label", flat=True)) == ["one"]


def test_keys_belong_to_their_caller(api: APIClient) -> None:
    other = APIClient()
    other.force_authenticate(User.objects.create_user("bob"))
    assert post(api, "shared", "alice's").status_code == 201
    theirs = post(other, "shared", "bob's")
    assert theirs.status_code == 201
    assert not theirs.has_header("Idempotent-Replayed")
    assert Measurement.objects.count() == 2


@pytest.mark.parametrize("key", ["", " ", "a b", "é", "k" * 256, "x\ty", '"', 'a"b'])
def test_a_bad_key_is_400_and_nothing_is_done(api: APIClient, key: str) -> None:
    response = post(api, key)
    assert response.status_code == 400
    assert error(response)["code"] == "idempotency_key_invalid"
    assert not Measurement.objects.exists()


@pytest.mark.parametrize("key", ["k" * 255, "A-z_0.9:~+/=", "8e03978e-40d5-43e8-bc93-6894a57f9324"])
def test_good_keys(api: APIClient, key: str) -> None:
    assert post(api, key).status_code == 201
    assert post(api, key)["Idempotent-Replayed"] == "true"


def test_a_structured_field_string_is_the_same_key(api: APIClient) -> None:
    assert post(api, "op-3").status_code == 201
    assert post(api, '"op-3"')["Idempotent-Replayed"] == "true"
    assert Measurement.objects.count() == 1


def test_a_client_error_is_stored_and_replayed_with_this_request_s_id(api: APIClient) -> None:
    first = api.post(URL, {}, format="json", HTTP_IDEMPOTENCY_KEY="op-4")
    assert first.status_code == 400
    assert error(first)["code"] == "validation_error"
    replay = api.post(
        URL, {}, format="json", HTTP_IDEMPOTENCY_KEY="op-4", HTTP_X_CORRELATION_ID="replay"
    )
    assert replay.status_code == first.status_code
    assert replay["Idempotent-Replayed"] == "true"
    assert error(replay)["correlation_id"] == "replay"
    assert error(replay)["code"] == error(first)["code"]


def test_a_server_error_is_stored_its_work_undone_and_replayed(api: APIClient) -> None:
    first = post(api, "op-5", HTTP_X_THEN="500")
    assert first.status_code == 500
    assert not Measurement.objects.exists()  # the write before the crash was rolled back
    replay = post(api, "op-5")  # the same request: the same answer, not a second try
    assert replay.status_code == 500
    assert replay["Idempotent-Replayed"] == "true"
    assert error(replay)["code"] == "internal_error"
    assert not Measurement.objects.exists()


def test_a_503_is_not_stored_its_work_is_undone_and_the_retry_runs(api: APIClient) -> None:
    unavailable = post(api, "op-6", HTTP_X_THEN="503")
    assert unavailable.status_code == 503
    assert unavailable["Retry-After"] == "1"
    assert not Measurement.objects.exists()
    assert not IdempotencyRecord.objects.exists()  # the key is free again
    retried = post(api, "op-6")
    assert retried.status_code == 201
    assert not retried.has_header("Idempotent-Replayed")
    assert Measurement.objects.count() == 1


def running(user: User, key: str, *, locked_for: float) -> IdempotencyRecord:
    """The record a request holding `key` has while it runs (taken by another process)."""
    now = timezone.now()
    # The fingerprint of what `post()` sends: method, path and body.
    fingerprint = sha256(b'POST\n/t/idempotent/parents\n{"name":"one"}').hexdigest()
    return IdempotencyRecord.objects.create(
        scope=str(user.pk),
        key=key,
        fingerprint=fingerprint,
        created_at=now,
        lock_token="someone-else",
        locked_until=now + timedelta(seconds=locked_for),
    )


def test_a_key_whose_request_still_runs_is_409_with_retry_after(api: APIClient, user: User) -> None:
    running(user, "op-7", locked_for=30)
    busy = post(api, "op-7")
    assert busy.status_code == 409
    assert busy["Retry-After"] == "1"
    assert error(busy)["code"] == "idempotency_in_progress"
    assert not Measurement.objects.exists()


def test_a_key_held_past_its_lock_is_taken_over(api: APIClient, user: User) -> None:
    record = running(user, "op-8", locked_for=-1)  # its request died
    response = post(api, "op-8")
    assert response.status_code == 201
    record.refresh_from_db()
    assert record.status == 201 and record.lock_token == ""
    assert Measurement.objects.count() == 1


@pytest.mark.postgres  # SQLite lets no other writer in while the request's transaction runs
@pytest.mark.django_db(transaction=True)
def test_a_request_whose_key_was_taken_over_undoes_its_work_and_says_so(
    api: APIClient,
) -> None:
    late = post(api, "op-9", HTTP_X_THEN="taken-over")
    assert late.status_code == 409
    assert error(late)["code"] == "idempotency_in_progress"
    assert not Measurement.objects.exists()  # the request that holds the key does the work
    record = IdempotencyRecord.objects.get(key="op-9")
    assert (record.status, record.lock_token) == (None, "another-process")


@override_settings(SAFEWRITES_IDEMPOTENCY_TTL=60)
def test_an_expired_key_is_forgotten_and_the_purge_command_deletes_them(api: APIClient) -> None:
    assert post(api, "old").status_code == 201
    assert post(api, "new").status_code == 201
    IdempotencyRecord.objects.filter(key="old").update(
        created_at=timezone.now() - timedelta(seconds=61)
    )
    again = post(api, "old")
    assert again.status_code == 201
    assert not again.has_header("Idempotent-Replayed")  # done again: the key had expired
    assert Measurement.objects.count() == 3
    IdempotencyRecord.objects.filter(key="old").update(
        created_at=timezone.now() - timedelta(seconds=61)
    )
    out = StringIO()
    call_command("purge_idempotency_keys", stdout=out)
    assert out.getvalue() == "Deleted 1 expired idempotency keys.\n"
    assert list(IdempotencyRecord.objects.values_list("key", flat=True)) == ["new"]
