"""Safe writes for DRF views: conditional requests (ETag, If-Match) and Idempotency-Key."""
