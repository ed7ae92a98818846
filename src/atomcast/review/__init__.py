"""Change review and coverage: what an edit does to every profile, and where content is thin.

:mod:`.gitsource` reads a revision out of git, :mod:`.population` gathers the profiles a
review runs over, :mod:`.diff` and :mod:`.coverage` compute the reports and :mod:`.report`
prints them.
"""
