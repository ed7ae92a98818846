"""``atomcast serve``: the decision service (SPEC 9), a JSON API over the render stage."""
