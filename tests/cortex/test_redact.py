"""cortex.redact: redact_url, URLs as the access log may write them."""

from __future__ import annotations

import pytest

# --- redact_url -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "logged"),
    [
        # Secret-looking parameters lose their value, keep their name and position.
        (
            "/healthz?token=abc&password=hunter2",
            "/healthz?token=[REDACTED]&password=[REDACTED]",
        ),
        ("/p?page=2&api_key=k1&sort=name", "/p?page=2&api_key=[REDACTED]&sort=name"),
        (
            "/p?apiKey=k1&key=k2&sig=s&signature=s2",
            "/p?apiKey=[REDACTED]&key=[REDACTED]&sig=[REDACTED]&signature=[REDACTED]",
        ),
        (
            "/p?ticket=t&passwd=p&pwd=p&secret=s&client_secret=s",
            "/p?ticket=[REDACTED]"
            "&passwd=[REDACTED]&pwd=[REDACTED]&secret=[REDACTED]&client_secret=[REDACTED]",
        ),
        (
            "/p?access_token=a&refresh_token=r&sessionid=s&csrftoken=c",
            "/p?access_token=[REDACTED]"
            "&refresh_token=[REDACTED]&sessionid=[REDACTED]&csrftoken=[REDACTED]",
        ),
        ("/cb?code=oauth-code&state=xyz", "/cb?code=[REDACTED]&state=xyz"),
        (
            "/p?auth=a&Authorization=b&jwt=c&otp=1",
            "/p?auth=[REDACTED]&Authorization=[REDACTED]&jwt=[REDACTED]&otp=[REDACTED]",
        ),
        # Signed URLs (S3), any case, ";" as a separator, percent-encoded names.
        (
            "https://b.s3.amazonaws.com/o?X-Amz-Credential=c&X-Amz-Signature=s&X-Amz-Expires=60",
            "https://b.s3.amazonaws.com/o?X-Amz-Credential=[REDACTED]"
            "&X-Amz-Signature=[REDACTED]&X-Amz-Expires=60",
        ),
        ("/p?TOKEN=a;Password=b", "/p?TOKEN=[REDACTED];Password=[REDACTED]"),
        ("/p?%74oken=a&pass%77ord=b", "/p?%74oken=[REDACTED]&pass%77ord=[REDACTED]"),
        # Every occurrence of a repeated parameter.
        ("/p?token=a&token=b", "/p?token=[REDACTED]&token=[REDACTED]"),
        # Words, not fragments of words: these are not secrets.
        ("/p?keyword=k&monkey=m&author=a&zipcode=z", "/p?keyword=k&monkey=m&author=a&zipcode=z"),
        # Nothing to hide: empty values, bare flags, no query at all; kept byte for byte.
        ("/p?token=&debug", "/p?token=&debug"),
        ("/p?q=a%20b+c&x=%E2%82%AC", "/p?q=a%20b+c&x=%E2%82%AC"),
        ("/api/workspaces/", "/api/workspaces/"),
        ("", ""),
        # A value with "=" in it goes as a whole.
        ("/p?token=a=b=c&n=1", "/p?token=[REDACTED]&n=1"),
        # Fragments (OAuth's implicit flow) and a URL's user info.
        ("/cb#access_token=a&expires_in=3600", "/cb#access_token=[REDACTED]&expires_in=3600"),
        ("/docs#section-2", "/docs#section-2"),
        ("https://user:s3cret@example.com/x?a=1", "https://user:[REDACTED]@example.com/x?a=1"),
        ("https://user:p@ss@example.com/", "https://user:[REDACTED]@example.com/"),
        ("https://user@example.com/", "https://user@example.com/"),
    ],
)
def test_redact_url(url: str, logged: str) -> None:
    from cortex.redact import redact_url

    assert redact_url(url) == logged


def test_redact_url_never_raises() -> None:
    from cortex.redact import redact_url
    from errors.logging import REDACTED

    class Hostile(str):
        def partition(self, sep: str) -> tuple[str, str, str]:
            raise RuntimeError("no")

    # Whatever defeats it is masked as a whole rather than logged as it is.
    assert redact_url(Hostile("/p?token=secret")) == REDACTED
    assert redact_url("/p?tok\udcffen=a") == "/p?tok\udcffen=a"
