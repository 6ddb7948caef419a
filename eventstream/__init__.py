"""Live events over Server-Sent Events: each owner's events, fanned out to its open streams.

A project declares a `Topic` (which channel-layer group and replay buffer an owner's events go
to), publishes events with `publish`, and routes a subclass of `EventStreamConsumer` that names
the topic. The app knows nothing of what the events are about; see the README's "Live events".
"""
