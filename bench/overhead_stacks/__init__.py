"""Django projects for bench/overhead.py: one settings module per stack, shared views and urls.

Import it with bench/ on sys.path, as `overhead_stacks`: bench/overhead.py does that, and its
worker processes set DJANGO_SETTINGS_MODULE to `overhead_stacks.settings_<stack>`.
"""
