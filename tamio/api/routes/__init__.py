"""The REST API's routes, one module per area; each exposes a ``router`` (``tamio.api.registry.Router``)."""
