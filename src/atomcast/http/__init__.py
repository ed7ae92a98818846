"""What the preview server and the decision service (``atomcast serve``) share at the HTTP
edge, so that neither application imports the other.

:mod:`.listen` opens the listening socket with clear errors, :mod:`.hosts` decides which
``Host`` and ``Origin`` values are served, and :mod:`.bodies` types, bounds and parses
request bodies.
"""
