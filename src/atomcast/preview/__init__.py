"""``atomcast preview``: the live preview server, its matrix model and the static export."""
