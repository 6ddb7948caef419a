"""The benchmarks, each run as `python -m bench.<name>` from the repository root (`make bench`):
overhead, logfmt, load, sse and degradation; `harness` is what they share with the tests' server
support, `stacks` the Django projects they serve, `*_worker` / `*_client` their child processes."""
