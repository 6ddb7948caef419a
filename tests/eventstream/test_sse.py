"""The text/event-stream encoding."""

from eventstream import sse


def test_an_event_with_id_name_and_data() -> None:
    assert sse.event('{"a":1}', name="workspace.created", event_id="5-0") == (
        b'id: 5-0\nevent: workspace.created\ndata: {"a":1}\n\n'
    )


def test_every_line_of_data_gets_its_own_data_line() -> None:
    assert sse.event("one\ntwo\r\nthree\rfour") == (
        b"data: one\ndata: two\ndata: three\ndata: four\n\n"
    )


def test_line_breaks_cannot_smuggle_fields_through_names_or_ids() -> None:
    chunk = sse.event("x", name="a\nid: 9", event_id="1\ndata: evil")
    assert chunk == b"id: 1 data: evil\nevent: a id: 9\ndata: x\n\n"


def test_comment_and_retry() -> None:
    assert sse.comment("heartbeat") == b": heartbeat\n\n"
    assert sse.retry(3000) == b"retry: 3000\n\n"
