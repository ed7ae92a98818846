"""Stage 5's channels behind one protocol (:class:`~atomcast.channels.base.Channel`) and
their registry (:mod:`atomcast.channels.registry`)."""
